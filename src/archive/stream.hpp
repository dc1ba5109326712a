// Data streams: raw byte sources (a range of a file, the chunk sequence of a custom-format data
// block), decompressors (gzip/zlib, lz4 frames, zstd), and the COPY-text filter that drops the
// "\." terminator pg_dump 17 and older append to every table's data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "archive/input.hpp"

namespace pgr::archive::detail {

class Source {
 public:
  virtual ~Source() = default;
  virtual std::size_t read(char* buf, std::size_t cap) = 0;  // 0 at the end
};

// Bytes [offset, offset+length) of a file, through its own descriptor.
std::unique_ptr<Source> file_range_source(const std::string& path, const std::string& origin,
                                          std::int64_t offset, std::int64_t length);
// The same for a file of an archive's Files (length -1: to the end).
std::unique_ptr<Source> file_range_source(const Files& files, const std::string& file, const std::string& origin,
                                          std::int64_t offset, std::int64_t length);

// The chunks of one custom-format data stream: (int length, bytes)* ending with length 0.
// Reads from `in`, which it does not own; leaves `in` just after the terminating 0.
class ChunkSource final : public Source {
 public:
  ChunkSource(FileInput& in, const Encoding& enc) : in_(in), enc_(enc) {}
  std::size_t read(char* buf, std::size_t cap) override;
  void drain();  // skip what is left of the stream

 private:
  FileInput& in_;
  Encoding enc_;
  std::int64_t left_in_chunk_ = 0;
  bool done_ = false;
};

// Wraps `raw` in the decompressor for `c` (none returns it unchanged).
std::unique_ptr<Source> decompress(Compression c, std::unique_ptr<Source> raw, std::string origin);

// Compression of a directory/tar member from its name's suffix (.gz, .lz4, .zst).
Compression compression_of_name(const std::string& name);

// The COPY text filter; implements RowReader over a decompressed source.
class CopyReader final : public RowReader {
 public:
  CopyReader(std::unique_ptr<Source> src, std::string origin, std::shared_ptr<void> keep_alive = {})
      : src_(std::move(src)), origin_(std::move(origin)), keep_alive_(std::move(keep_alive)) {}
  bool next_row(std::string& row) override;
  std::size_t read(char* buf, std::size_t cap) override;

 private:
  std::size_t avail() const { return len_ - pos_; }
  void refill(std::size_t want);  // makes at least `want` bytes available unless at the end
  bool terminator_here() const;   // "\.\n", "\.\r\n" or "\." at the end, at pos_

  std::unique_ptr<Source> src_;
  std::string origin_;
  std::shared_ptr<void> keep_alive_;
  std::vector<char> buf_;
  std::size_t pos_ = 0, len_ = 0;
  bool src_eof_ = false;
  bool done_ = false;
  bool at_line_start_ = true;
};

// A BlobStream over a source.
class SourceBlobStream final : public BlobStream {
 public:
  explicit SourceBlobStream(Source& src) : src_(src) {}
  std::size_t read(char* buf, std::size_t cap) override { return src_.read(buf, cap); }

 private:
  Source& src_;
};

}  // namespace pgr::archive::detail
