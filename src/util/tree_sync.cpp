#include "util/tree_sync.hpp"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace pgr {

bool syncfs_reports_errors() {
#ifdef __linux__
  static const bool yes = [] {
    struct utsname u {};
    if (::uname(&u) != 0) return false;
    int major = 0, minor = 0;
    if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
    return major > 5 || (major == 5 && minor >= 8);
  }();
  return yes;
#else
  return false;
#endif
}

TreeSync::TreeSync(const std::filesystem::path& root) : root_(root) {
  syncfs_ = syncfs_reports_errors();
  if (!syncfs_) return;
  fd_ = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) fail(ErrorKind::io, fmt::format("could not open folder \"{}\": {}", root.string(), errno_text(errno)));
}

TreeSync::~TreeSync() {
  if (fd_ >= 0) ::close(fd_);
}

const char* TreeSync::method() const { return syncfs_ ? "syncfs" : "fsync per file"; }

void TreeSync::sync() {
#ifdef __linux__
  if (syncfs_) {
    if (::syncfs(fd_) != 0) {
      fail(ErrorKind::io, fmt::format("could not write \"{}\" to disk (syncfs): {}", root_.string(), errno_text(errno)));
    }
    return;
  }
#endif
  fsync_extracted(root_);
}

}  // namespace pgr
