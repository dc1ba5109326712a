#include "executor/os_user_files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace pgr::executor {

namespace fs = std::filesystem;

void give_to(const fs::path& p, const std::optional<UserIdentity>& user) {
  if (!user) return;
  if (::lchown(p.c_str(), user->uid, user->gid) != 0) {
    fail(ErrorKind::io, fmt::format("could not give \"{}\" to user {}: {}", p.string(), user->name, errno_text(errno)));
  }
}

void give_tree_to(const fs::path& root, const std::optional<UserIdentity>& user) {
  if (!user) return;
  give_to(root, user);
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) give_to(it->path(), user);
}

void create_owned_dirs(const fs::path& dir, const std::optional<UserIdentity>& user) {
  std::vector<fs::path> missing;
  for (fs::path p = dir; !p.empty() && !fs::exists(p); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.root_path()) break;
  }
  create_private_dirs(dir);
  for (const auto& p : missing) give_to(p, user);
}

// The server's user must be able to reach the data directory (and write its log beside it).
void check_reachable(const fs::path& dir, const std::optional<UserIdentity>& user) {
  if (!user) return;
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      bool ok = (st.st_uid == user->uid && (st.st_mode & S_IXUSR)) || (st.st_gid == user->gid && (st.st_mode & S_IXGRP)) ||
                (st.st_mode & S_IXOTH);
      if (!ok) {
        fail(ErrorKind::input,
             fmt::format("user \"{}\", who runs the recovered server, cannot reach \"{}\" (no search permission on \"{}\")",
                         user->name, dir.string(), p.string()),
             "choose a data_directory below folders that user can enter");
      }
    }
    if (p == p.root_path()) break;
  }
}

std::string read_log(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace pgr::executor
