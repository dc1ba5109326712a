#include "archive/input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace pgr::archive::detail {

namespace {
constexpr std::size_t kBufferSize = 256 * 1024;
}

std::string printable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 200)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) out += fmt::format("\\x{:02x}", u); else out.push_back(c);
  }
  if (name.size() > 200) out += "...";
  return out;
}

void fail_at(const std::string& origin, std::int64_t offset, const std::string& what) {
  fail(ErrorKind::archive, fmt::format("{}: {} at byte {}", origin, what, offset),
       "the archive is damaged or was not written by pg_dump 12 to 17");
}

// --- MemoryInput --------------------------------------------------------------------------------

void MemoryInput::read(char* out, std::size_t n) {
  if (n > bytes_.size() - pos_) {
    fail_at(origin_, offset(), fmt::format("unexpected end of data (needed {} bytes, {} left)", n,
                                           bytes_.size() - pos_));
  }
  if (n > 0) std::memcpy(out, bytes_.data() + pos_, n);
  pos_ += n;
}

void MemoryInput::skip(std::int64_t n) {
  if (n < 0 || n > remaining()) {
    fail_at(origin_, offset(), fmt::format("cannot skip {} bytes ({} left)", n, remaining()));
  }
  pos_ += static_cast<std::size_t>(n);
}

int MemoryInput::read_byte_or_eof() {
  if (pos_ >= bytes_.size()) return -1;
  return static_cast<unsigned char>(bytes_[pos_++]);
}

// --- FileInput ----------------------------------------------------------------------------------

namespace {

class LocalFile final : public RandomAccess {
 public:
  LocalFile(const std::string& path, const std::string& origin) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd_ < 0) {
      int err = errno;
      fail(ErrorKind::archive, fmt::format("{}: cannot open: {}", origin, errno_text(err)));
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      fd_ = -1;
      fail(ErrorKind::archive, fmt::format("{}: not a regular file", origin));
    }
    size_ = st.st_size;
  }
  ~LocalFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  std::int64_t size() const override { return size_; }
  std::size_t pread(char* buf, std::size_t n, std::int64_t offset) override {
    for (;;) {
      ssize_t got = ::pread(fd_, buf, n, static_cast<off_t>(offset));
      if (got >= 0) return static_cast<std::size_t>(got);
      if (errno != EINTR) {
        int err = errno;
        fail(ErrorKind::archive, fmt::format("read failed at byte {}: {}", offset, errno_text(err)));
      }
    }
  }

 private:
  int fd_ = -1;
  std::int64_t size_ = 0;
};

class LocalFiles final : public Files {
 public:
  explicit LocalFiles(std::filesystem::path path, bool folder) : path_(std::move(path)), folder_(folder) {}
  bool is_folder() const override { return folder_; }
  std::optional<std::int64_t> size(const std::string& name) const override {
    std::string file = where(name);
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0) return std::nullopt;
    if (!S_ISREG(st.st_mode)) {
      fail(ErrorKind::archive, fmt::format("{}: \"{}\" is not a regular file (symlinks are refused)", path_.string(), name));
    }
    return st.st_size;
  }
  std::unique_ptr<RandomAccess> open(const std::string& name) const override {
    return std::make_unique<LocalFile>(where(name), origin(name));
  }
  std::string origin(const std::string& name) const override { return where(name); }

 private:
  std::string where(const std::string& name) const { return name.empty() ? path_.string() : (path_ / name).string(); }
  std::filesystem::path path_;
  bool folder_;
};

}  // namespace

}  // namespace pgr::archive::detail

namespace pgr::archive {

std::shared_ptr<const Files> local_files(const std::filesystem::path& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    fail(ErrorKind::archive, fmt::format("{}: no such archive", path.string()),
         "give a pg_dump directory, custom (-Fc) or tar (-Ft) archive");
  }
  return std::make_shared<detail::LocalFiles>(path, std::filesystem::is_directory(st));
}

}  // namespace pgr::archive

namespace pgr::archive::detail {

FileInput::FileInput(const std::string& path, std::string origin)
    : FileInput(std::make_unique<LocalFile>(path, origin), origin) {}

FileInput::FileInput(std::unique_ptr<RandomAccess> file, std::string origin)
    : file_(std::move(file)), origin_(std::move(origin)) {
  size_ = file_->size();
  buf_.resize(kBufferSize);
}

FileInput::~FileInput() = default;

void FileInput::seek(std::int64_t pos) {
  if (pos < 0 || pos > size_) {
    fail_at(origin_, pos, fmt::format("offset outside the file ({} bytes)", size_));
  }
  pos_ = pos;
}

void FileInput::fill() {
  buf_start_ = pos_;
  buf_len_ = 0;
  while (buf_len_ < buf_.size()) {
    if (buf_start_ + static_cast<std::int64_t>(buf_len_) >= size_) break;
    std::size_t n = file_->pread(buf_.data() + buf_len_, buf_.size() - buf_len_,
                                 buf_start_ + static_cast<std::int64_t>(buf_len_));
    if (n == 0) break;
    buf_len_ += n;
  }
}

std::size_t FileInput::read_some(char* out, std::size_t n) {
  std::int64_t in_buf_end = buf_start_ + static_cast<std::int64_t>(buf_len_);
  if (pos_ < buf_start_ || pos_ >= in_buf_end) {
    if (pos_ >= size_) return 0;
    fill();
    in_buf_end = buf_start_ + static_cast<std::int64_t>(buf_len_);
    if (buf_len_ == 0) return 0;
  }
  std::size_t avail = static_cast<std::size_t>(in_buf_end - pos_);
  std::size_t take = std::min(avail, n);
  std::memcpy(out, buf_.data() + (pos_ - buf_start_), take);
  if (recording_) recorded_.append(out, take);
  pos_ += static_cast<std::int64_t>(take);
  return take;
}

void FileInput::read(char* out, std::size_t n) {
  if (static_cast<std::int64_t>(n) > remaining()) {
    fail_at(origin_, pos_, fmt::format("unexpected end of file (needed {} bytes, {} left)", n,
                                       remaining()));
  }
  std::size_t done = 0;
  while (done < n) {
    std::size_t got = read_some(out + done, n - done);
    if (got == 0) fail_at(origin_, pos_, "unexpected end of file (file shrank while reading)");
    done += got;
  }
}

void FileInput::skip(std::int64_t n) {
  if (n < 0 || n > remaining()) {
    fail_at(origin_, pos_, fmt::format("cannot skip {} bytes ({} left)", n, remaining()));
  }
  if (recording_) {
    char tmp[4096];
    while (n > 0) {
      auto step = static_cast<std::size_t>(std::min<std::int64_t>(n, sizeof tmp));
      read(tmp, step);
      n -= static_cast<std::int64_t>(step);
    }
    return;
  }
  pos_ += n;
}

int FileInput::read_byte_or_eof() {
  char c = 0;
  if (read_some(&c, 1) == 0) return -1;
  return static_cast<unsigned char>(c);
}

// --- pg_dump encodings --------------------------------------------------------------------------

int read_int(Input& in, const Encoding& enc) {
  std::int64_t at = in.offset();
  unsigned char raw[9];
  in.read(reinterpret_cast<char*>(raw), static_cast<std::size_t>(enc.int_size) + 1);
  std::uint64_t value = 0;
  for (int b = 0; b < enc.int_size; ++b) {
    value |= static_cast<std::uint64_t>(raw[b + 1]) << (8 * b);
  }
  if (value > 0x7fffffffULL) {
    fail_at(in.origin(), at, fmt::format("integer {} out of range", value));
  }
  int v = static_cast<int>(value);
  return raw[0] != 0 ? -v : v;
}

bool read_str(Input& in, const Encoding& enc, std::string& out) {
  std::int64_t at = in.offset();
  int len = read_int(in, enc);
  out.clear();
  if (len == -1) return false;
  if (len < 0) fail_at(in.origin(), at, fmt::format("negative string length {}", len));
  if (len > in.remaining()) {
    fail_at(in.origin(), at,
            fmt::format("string length {} exceeds the {} bytes left", len, in.remaining()));
  }
  out.resize(static_cast<std::size_t>(len));
  in.read(out.data(), out.size());
  return true;
}

int read_offset(Input& in, const Encoding& enc, std::int64_t* value) {
  std::int64_t at = in.offset();
  unsigned char raw[9];
  in.read(reinterpret_cast<char*>(raw), static_cast<std::size_t>(enc.offset_size) + 1);
  int flag = raw[0];
  if (flag < 1 || flag > 3) fail_at(in.origin(), at, fmt::format("unexpected data offset flag {}", flag));
  std::uint64_t v = 0;
  for (int b = 0; b < enc.offset_size; ++b) v |= static_cast<std::uint64_t>(raw[b + 1]) << (8 * b);
  if (v > static_cast<std::uint64_t>(INT64_MAX)) fail_at(in.origin(), at, "data offset out of range");
  *value = static_cast<std::int64_t>(v);
  return flag;
}

}  // namespace pgr::archive::detail
