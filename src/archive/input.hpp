// Byte inputs with absolute offsets, used by the TOC parser and the custom-format block walker.
// Every read is bounded by what is left; running short is a pgr::Error(archive) that names the
// origin and the byte offset.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.hpp"

namespace pgr::archive::detail {

// A name from the archive made safe to print: control bytes become \xNN, at most 200 bytes.
std::string printable(std::string_view name);

[[noreturn]] void fail_at(const std::string& origin, std::int64_t offset, const std::string& what);

class Input {
 public:
  virtual ~Input() = default;
  // Reads exactly n bytes or throws "unexpected end of data" with the offset.
  virtual void read(char* out, std::size_t n) = 0;
  // Skips n bytes (bounded by what is left).
  virtual void skip(std::int64_t n) = 0;
  // Reads one byte, or returns -1 at the end (used to detect the end of the data blocks).
  virtual int read_byte_or_eof() = 0;
  virtual std::int64_t offset() const = 0;
  virtual std::int64_t remaining() const = 0;
  virtual const std::string& origin() const = 0;
};

class MemoryInput final : public Input {
 public:
  MemoryInput(std::string_view bytes, std::string origin, std::int64_t base = 0)
      : bytes_(bytes), origin_(std::move(origin)), base_(base) {}
  void read(char* out, std::size_t n) override;
  void skip(std::int64_t n) override;
  int read_byte_or_eof() override;
  std::int64_t offset() const override { return base_ + static_cast<std::int64_t>(pos_); }
  std::int64_t remaining() const override { return static_cast<std::int64_t>(bytes_.size() - pos_); }
  const std::string& origin() const override { return origin_; }
  std::string_view consumed() const { return bytes_.substr(0, pos_); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
  std::string origin_;
  std::int64_t base_;
};

// A file read through a buffer with positioned reads: several FileInputs share nothing; each owns
// its RandomAccess, so readers on different threads never interfere.
class FileInput final : public Input {
 public:
  FileInput(const std::string& path, std::string origin);  // a local file, O_RDONLY|O_NOFOLLOW
  FileInput(std::unique_ptr<RandomAccess> file, std::string origin);
  ~FileInput() override;
  FileInput(const FileInput&) = delete;
  FileInput& operator=(const FileInput&) = delete;
  FileInput(FileInput&&) = default;

  void read(char* out, std::size_t n) override;
  void skip(std::int64_t n) override;
  int read_byte_or_eof() override;
  std::int64_t offset() const override { return pos_; }
  std::int64_t remaining() const override { return size_ - pos_; }
  const std::string& origin() const override { return origin_; }
  std::int64_t size() const { return size_; }
  void seek(std::int64_t pos);
  // Raw read of up to n bytes at the current position (0 at the end); for data streams.
  std::size_t read_some(char* out, std::size_t n);
  // Bytes read since the last call to start_recording(), for the TOC checksum.
  void start_recording() { recording_ = true; recorded_.clear(); }
  std::string stop_recording() { recording_ = false; return std::move(recorded_); }

 private:
  void fill();
  std::unique_ptr<RandomAccess> file_;
  std::int64_t size_ = 0;
  std::int64_t pos_ = 0;           // logical position
  std::int64_t buf_start_ = 0;     // file offset of buf_[0]
  std::vector<char> buf_;
  std::size_t buf_len_ = 0;
  std::string origin_;
  bool recording_ = false;
  std::string recorded_;
};

// pg_dump's integer encodings (pg_backup_archiver.c ReadInt / ReadStr / ReadOffset).
struct Encoding {
  int int_size = 4;
  int offset_size = 8;
};

int read_int(Input& in, const Encoding& enc);
// nullopt-like: returns false for a NULL string (length -1).
bool read_str(Input& in, const Encoding& enc, std::string& out);
// Returns the offset flag (1 not set, 2 set, 3 no data); the offset through *value.
int read_offset(Input& in, const Encoding& enc, std::int64_t* value);

}  // namespace pgr::archive::detail
