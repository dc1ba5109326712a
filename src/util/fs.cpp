#include "util/fs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr {

std::string errno_text(int err) { return std::strerror(err); }

namespace {

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

void write_all(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(ErrorKind::io, fmt::format("could not write \"{}\": {}", path.string(), errno_text(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

AtomicFile::AtomicFile(fs::path target, mode_t mode) : target_(std::move(target)) {
  temp_ = target_;
  temp_ += ".tmp." + random_suffix();
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd_ < 0) {
    fail(ErrorKind::io, fmt::format("could not create \"{}\": {}", temp_.string(), errno_text(errno)));
  }
  // The umask may have removed bits; the mode we asked for is the one we want (never wider).
  ::fchmod(fd_, mode);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(std::string_view data) { write_all(fd_, data, temp_); }

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) {
    fail(ErrorKind::io, fmt::format("could not fsync \"{}\": {}", temp_.string(), errno_text(errno)));
  }
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail(ErrorKind::io, fmt::format("could not close \"{}\": {}", temp_.string(), errno_text(errno)));
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    fail(ErrorKind::io, fmt::format("could not rename \"{}\" to \"{}\": {}", temp_.string(),
                                    target_.string(), errno_text(errno)));
  }
  committed_ = true;
  fsync_dir(target_.has_parent_path() ? target_.parent_path() : fs::path("."));
}

void write_file_atomic(const fs::path& path, std::string_view content, mode_t mode) {
  AtomicFile f(path, mode);
  f.write(content);
  f.commit();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fail(ErrorKind::io, fmt::format("could not open \"{}\": {}", path.string(), errno_text(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(ErrorKind::io, fmt::format("could not read \"{}\"", path.string()));
  return ss.str();
}

void create_private_dirs(const fs::path& path) {
  if (path.empty()) return;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return;
  if (path.has_parent_path() && path.parent_path() != path) create_private_dirs(path.parent_path());
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    fail(ErrorKind::io, fmt::format("could not create folder \"{}\": {}", path.string(), errno_text(errno)));
  }
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    fail(ErrorKind::io, fmt::format("could not open folder \"{}\": {}", dir.string(), errno_text(errno)));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) {
    fail(ErrorKind::io, fmt::format("could not fsync folder \"{}\": {}", dir.string(), errno_text(err)));
  }
}

void fsync_file(const fs::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail(ErrorKind::io, fmt::format("could not open \"{}\": {}", file.string(), errno_text(errno)));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) fail(ErrorKind::io, fmt::format("could not fsync \"{}\": {}", file.string(), errno_text(err)));
}

void fsync_extracted(const fs::path& dir) {
  std::vector<fs::path> dirs{dir};
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    auto st = it->symlink_status();
    if (fs::is_directory(st)) dirs.push_back(it->path());
    else if (fs::is_regular_file(st)) fsync_file(it->path());
  }
  for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) fsync_dir(*d);
}

TempDir::TempDir(std::string_view prefix, const fs::path& base) {
  fs::path root = base;
  if (root.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    root = (tmp && *tmp) ? fs::path(tmp) : fs::path("/tmp");
  }
  std::string templ = (root / (std::string(prefix) + "XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) {
    fail(ErrorKind::io, fmt::format("could not create a temporary folder in \"{}\": {}", root.string(),
                                    errno_text(errno)));
  }
  path_ = templ;
}

TempDir::~TempDir() {
  if (keep_ || path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

FileLock::FileLock(const std::filesystem::path& file, const std::string& what) {
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail(ErrorKind::io, fmt::format("could not open \"{}\": {}", file.string(), errno_text(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    std::string holder;
    try {
      holder = read_file(file);
    } catch (const Error&) {
    }
    ::close(fd_);
    fd_ = -1;
    fail(ErrorKind::locked,
         fmt::format("{} is being applied by another pgrecover{}", what, holder.empty() ? "" : " (" + holder + ")"),
         "wait for it to finish");
  }
  std::string me = fmt::format("pid {} since {}", ::getpid(), now_iso8601());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) < 0) {
    log::debug("could not record the lock holder in {}", file.string());
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<dev_t> device_of(fs::path p) {
  struct stat st {};
  while (!p.empty()) {
    if (::stat(p.c_str(), &st) == 0) return st.st_dev;
    if (p == p.parent_path()) break;
    p = p.parent_path();
  }
  return std::nullopt;
}

bool empty_or_absent(const fs::path& dir) {
  return !fs::exists(dir) || (fs::is_directory(dir) && fs::directory_iterator(dir) == fs::directory_iterator());
}

}  // namespace pgr
