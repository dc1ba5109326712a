// Files a recovered server will own: when pgrecover runs as root, the server runs as another OS
// user (`[instance] run_as`, default postgres), who must own its data directory and be able to
// reach it. With no user (not root) every helper here does nothing.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "util/process.hpp"

namespace pgr::executor {

// lchown one path (a symlink itself, not what it points to) to the user.
void give_to(const std::filesystem::path& p, const std::optional<UserIdentity>& user);
// The same for a folder and everything below it.
void give_tree_to(const std::filesystem::path& root, const std::optional<UserIdentity>& user);
// create_private_dirs (0700), and each folder it had to create given to the user, so that the
// user can reach the last one even when its parents did not exist.
void create_owned_dirs(const std::filesystem::path& dir, const std::optional<UserIdentity>& user);
// Fails (input) naming the first folder on the way to dir that the user cannot search.
void check_reachable(const std::filesystem::path& dir, const std::optional<UserIdentity>& user);
// A whole text file (a server log); empty when it cannot be read.
std::string read_log(const std::filesystem::path& file);

}  // namespace pgr::executor
