// In-place recovery: the WAL the old server wrote but never archived, copied from the old
// (moved-aside) data directory's pg_wal into the new one, where recovery reads it once the
// archive has nothing more (PostgreSQL tries restore_command first, then pg_wal).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "util/process.hpp"

namespace pgr::executor {

// Copies each named file (names from the plan, checked to be bare WAL names) from from_dir to
// to_dir: temp file, fsync, rename, given to the server's user. Idempotent. Returns bytes copied.
std::uint64_t copy_local_wal(const std::vector<std::string>& names, const std::filesystem::path& from_dir,
                             const std::filesystem::path& to_dir, const std::optional<UserIdentity>& user);

}  // namespace pgr::executor
