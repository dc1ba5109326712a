#include "executor/pitr_local_wal.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "repository/wal_archive.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace pgr::executor {

std::uint64_t copy_local_wal(const std::vector<std::string>& names, const std::filesystem::path& from_dir,
                             const std::filesystem::path& to_dir, const std::optional<UserIdentity>& user) {
  namespace fs = std::filesystem;
  std::uint64_t bytes = 0;
  for (const auto& name : names) {
    if (!repository::classify_wal_name(name)) fail(ErrorKind::input, fmt::format("\"{}\" is not a WAL file name", name));
    fs::path from = from_dir / name, to = to_dir / name;
    if (!fs::is_regular_file(from)) {
      fail(ErrorKind::io, fmt::format("\"{}\" is gone from the old data directory", from.string()),
           "it was there when the plan was made; plan again");
    }
    fs::path tmp = to;
    tmp += ".pgrecover-tmp";
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
    fsync_file(tmp);
    if (user && ::chown(tmp.c_str(), user->uid, user->gid) != 0) {
      fail(ErrorKind::io, fmt::format("could not give \"{}\" to user {}: {}", tmp.string(), user->name, errno_text(errno)));
    }
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
    fs::rename(tmp, to);
    bytes += fs::file_size(to);
  }
  fsync_dir(to_dir);
  return bytes;
}

}  // namespace pgr::executor
