#include "storage/posix/posix.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pgr::storage {

namespace {

constexpr const char* kStagingPrefix = ".partial-";

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

[[noreturn]] void io_fail(const std::string& what, const fs::path& p, int err) {
  fail(ErrorKind::io, fmt::format("could not {} \"{}\": {}", what, p.string(), errno_text(err)));
}

// Creates the missing folders of `dir` (0700), fsyncing each new folder's parent so that the
// new name is durable too.
void make_dirs_durable(const fs::path& dir) {
  std::error_code ec;
  if (dir.empty() || fs::is_directory(dir, ec)) return;
  make_dirs_durable(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) return;
    io_fail("create folder", dir, errno);
  }
  fsync_dir(dir.parent_path());
}

void fsync_tree(const fs::path& dir) {
  std::vector<fs::path> dirs{dir};
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    auto st = e.symlink_status();
    if (fs::is_directory(st)) dirs.push_back(e.path());
    else if (fs::is_regular_file(st)) fsync_file(e.path());
  }
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) fsync_dir(*it);
}

void remove_quietly(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) log::warn("could not remove \"{}\": {}", p.string(), ec.message());
}

class PosixWriter final : public Writer {
 public:
  PosixWriter(fs::path target, bool exclusive) : target_(std::move(target)), exclusive_(exclusive) {
    make_dirs_durable(target_.parent_path());
    temp_ = target_.parent_path() / fmt::format(".{}.tmp.{}", target_.filename().string(), random_suffix());
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) io_fail("create", temp_, errno);
    ::fchmod(fd_, 0600);
  }
  ~PosixWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!done_) ::unlink(temp_.c_str());
  }
  void write(const char* data, std::size_t n) override {
    while (n > 0) {
      ssize_t w = ::write(fd_, data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) io_fail("write", temp_, errno);
      data += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  bool commit() override {
    if (::fsync(fd_) != 0) io_fail("fsync", temp_, errno);
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) io_fail("close", temp_, errno);
    bool stored = true;
    if (exclusive_) {
      // link() never replaces: a concurrent writer of the same key loses cleanly.
      if (::link(temp_.c_str(), target_.c_str()) != 0) {
        int err = errno;
        if (err == EEXIST) {
          stored = false;
        } else {
          // file systems without hard links: rename, after checking that nothing is there
          struct stat st {};
          if (::lstat(target_.c_str(), &st) == 0) stored = false;
          else if (::rename(temp_.c_str(), target_.c_str()) != 0) io_fail("store", target_, errno);
        }
      }
      ::unlink(temp_.c_str());
    } else if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      io_fail("rename into", target_, errno);
    }
    done_ = true;
    if (stored) fsync_dir(target_.parent_path());
    return stored;
  }

 private:
  fs::path target_, temp_;
  bool exclusive_ = false;
  int fd_ = -1;
  bool done_ = false;
};

class PosixReader final : public Reader {
 public:
  PosixReader(const fs::path& path, std::string what, std::uint64_t offset, std::optional<std::uint64_t> length)
      : path_(path), what_(std::move(what)) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd_ < 0) {
      int err = errno;
      if (err == ENOENT) fail(ErrorKind::io, fmt::format("\"{}\" does not exist", what_));
      io_fail("open", path, err);
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      fd_ = -1;
      fail(ErrorKind::io, fmt::format("\"{}\" is not a regular file", what_));
    }
    auto size = static_cast<std::uint64_t>(st.st_size);
    if (offset > size) fail(ErrorKind::io, fmt::format("\"{}\": offset {} is past its end ({} bytes)", what_, offset, size));
    pos_ = offset;
    left_ = length ? *length : size - offset;
  }
  ~PosixReader() override {
    if (fd_ >= 0) ::close(fd_);
  }
  std::size_t read(char* buf, std::size_t cap) override {
    if (left_ == 0 || cap == 0) return 0;
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(cap, left_));
    for (;;) {
      ssize_t n = ::pread(fd_, buf, want, static_cast<off_t>(pos_));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) io_fail("read", path_, errno);
      if (n == 0) fail(ErrorKind::io, fmt::format("\"{}\" ends {} bytes early", what_, left_));
      pos_ += static_cast<std::uint64_t>(n);
      left_ -= static_cast<std::uint64_t>(n);
      return static_cast<std::size_t>(n);
    }
  }

 private:
  fs::path path_;
  std::string what_;
  int fd_ = -1;
  std::uint64_t pos_ = 0, left_ = 0;
};

class PosixStaging final : public Staging {
 public:
  PosixStaging(fs::path temp, fs::path final_dir) : temp_(std::move(temp)), final_(std::move(final_dir)) {}
  ~PosixStaging() override {
    if (!done_) remove_quietly(temp_);
  }
  const fs::path& dir() const override { return temp_; }
  void commit() override {
    fsync_tree(temp_);
    if (::rename(temp_.c_str(), final_.c_str()) != 0) io_fail("rename the staging folder to", final_, errno);
    done_ = true;
    fsync_dir(final_.parent_path());
  }

 private:
  fs::path temp_, final_;
  bool done_ = false;
};

// "a/b/" -> ("a/b", ""); "a/b/c" -> ("a/b", "c")
std::pair<std::string, std::string> split_prefix(const std::string& prefix) {
  auto slash = prefix.rfind('/');
  if (slash == std::string::npos) return {"", prefix};
  return {prefix.substr(0, slash), prefix.substr(slash + 1)};
}

}  // namespace

PosixStorage::PosixStorage(fs::path root, std::string name, bool create) : root_(std::move(root)), name_(std::move(name)) {
  if (root_.empty() || !root_.is_absolute()) {
    fail(ErrorKind::input, fmt::format("repository \"{}\": path \"{}\" must be absolute", name_, root_.string()));
  }
  std::error_code ec;
  if (fs::exists(root_, ec) && !fs::is_directory(root_, ec)) {
    fail(ErrorKind::io, fmt::format("repository \"{}\": \"{}\" is not a folder", name_, root_.string()));
  }
  if (create) create_private_dirs(root_);
}

fs::path PosixStorage::path_of(const std::string& key) const {
  check_key(key);
  return root_ / key;
}

std::unique_ptr<Writer> PosixStorage::create(const std::string& key, const WriteOptions& options) {
  return std::make_unique<PosixWriter>(path_of(key), options.exclusive);
}

std::unique_ptr<Reader> PosixStorage::open(const std::string& key, std::uint64_t offset,
                                           std::optional<std::uint64_t> length) const {
  fs::path p = path_of(key);
  return std::make_unique<PosixReader>(p, p.string(), offset, length);
}

namespace {
double epoch_seconds(const struct stat& st) {
  return static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) / 1e9;
}
}  // namespace

std::optional<ObjectInfo> PosixStorage::stat(const std::string& key) const {
  struct stat st {};
  if (::lstat(path_of(key).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return ObjectInfo{key, static_cast<std::uint64_t>(st.st_size), epoch_seconds(st)};
}

std::vector<ObjectInfo> PosixStorage::list(const std::string& prefix) const {
  auto [folder, leaf] = split_prefix(prefix);
  if (!folder.empty()) check_key(folder);
  fs::path dir = folder.empty() ? root_ : root_ / folder;
  std::vector<ObjectInfo> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  auto it = fs::recursive_directory_iterator(dir, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string fname = it->path().filename().string();
    auto st = it->symlink_status(ec);
    if (ec) break;
    if (!fname.empty() && fname[0] == '.') {  // the driver's own: temporary files, staging, locks
      if (fs::is_directory(st)) it.disable_recursion_pending();
      continue;
    }
    if (!fs::is_regular_file(st)) continue;
    std::string key = fs::relative(it->path(), root_).generic_string();
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    struct stat fst {};
    double modified = ::lstat(it->path().c_str(), &fst) == 0 ? epoch_seconds(fst) : 0;
    out.push_back({key, static_cast<std::uint64_t>(it->file_size(ec)), modified});
  }
  if (ec) fail(ErrorKind::io, fmt::format("could not list \"{}\": {}", dir.string(), ec.message()));
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

void PosixStorage::remove(const std::string& key) {
  fs::path p = path_of(key);
  if (::unlink(p.c_str()) != 0) {
    if (errno == ENOENT) return;
    io_fail("remove", p, errno);
  }
  fsync_dir(p.parent_path());
}

void PosixStorage::remove_all(const std::string& prefix) {
  auto [folder, leaf] = split_prefix(prefix);
  if (!leaf.empty() || folder.empty()) return Storage::remove_all(prefix);
  fs::path dir = path_of(folder);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  // Hidden first (one rename: listings stop showing it at once), then deleted.
  fs::path aside = dir.parent_path() / fmt::format(".{}.deleting.{}", dir.filename().string(), random_suffix());
  if (::rename(dir.c_str(), aside.c_str()) != 0) io_fail("remove", dir, errno);
  fsync_dir(dir.parent_path());
  fs::remove_all(aside, ec);
  if (ec) fail(ErrorKind::io, fmt::format("could not remove \"{}\": {}", aside.string(), ec.message()));
}

std::unique_ptr<Staging> PosixStorage::stage(const std::string& prefix) {
  auto [folder, leaf] = split_prefix(prefix);
  if (!leaf.empty() || folder.empty()) fail(ErrorKind::internal, fmt::format("staging needs a folder prefix, not \"{}\"", prefix));
  fs::path final_dir = path_of(folder);
  make_dirs_durable(final_dir.parent_path());
  fs::path temp = final_dir.parent_path() / (kStagingPrefix + final_dir.filename().string());
  if (::mkdir(temp.c_str(), 0700) != 0) io_fail("create the staging folder", temp, errno);
  return std::make_unique<PosixStaging>(temp, final_dir);
}

std::vector<std::string> PosixStorage::stale_staging(const std::string& parent) const {
  std::vector<std::string> out;
  fs::path dir = parent.empty() ? root_ : root_ / parent;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind(kStagingPrefix, 0) == 0 || n.find(".deleting.") != std::string::npos) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void PosixStorage::clean_stale_staging(const std::string& parent) {
  for (const auto& p : stale_staging(parent)) {
    log::info("removing the unfinished folder {}", p);
    remove_quietly(p);
  }
}

}  // namespace pgr::storage
