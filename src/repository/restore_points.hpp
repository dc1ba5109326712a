// Named restore points of a WAL stream, recorded by `pgrecover restore-point`:
//   restore_points/<cluster>/<name>.json in the repository's storage   {"name","cluster","policy","lsn","timeline",
//                                                         "segment","created_at"}
// One object per restore point, written atomically by the storage driver (temp, fsync, rename on
// POSIX; one PUT on object storage) and only
// after the segment holding it is in the WAL archive, so a recorded restore point can always be
// reached. Names are plain (letters, digits, '.', '_', '-'; at most 63 characters, PostgreSQL's
// limit), so a name is also a safe file name; nothing read from the folder is used as a path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgr::storage {
class Storage;
}

namespace pgr::repository {

struct RestorePoint {
  std::string name, cluster, policy;
  std::string lsn;          // as PostgreSQL prints it
  std::uint32_t timeline = 0;
  std::string segment;      // the archived segment that holds it
  std::string created_at;   // ISO-8601 UTC, the source's clock
  bool operator==(const RestorePoint&) const = default;
};

bool valid_restore_point_name(std::string_view name);
void check_restore_point_name(std::string_view name);  // throws Error(input) naming the rule

// Every recorded restore point of the cluster, oldest first (by LSN). A file that does not parse
// is skipped with a warning.
std::vector<RestorePoint> list_restore_points(const storage::Storage& repository, const std::string& cluster);
std::optional<RestorePoint> find_restore_point(const storage::Storage& repository, const std::string& cluster,
                                               std::string_view name);
// Records it; throws Error(input) when the name is already recorded for the cluster.
void record_restore_point(storage::Storage& repository, const RestorePoint& point);
// The same in a repository folder (POSIX driver).
std::vector<RestorePoint> list_restore_points(const std::filesystem::path& repository_root, const std::string& cluster);
std::optional<RestorePoint> find_restore_point(const std::filesystem::path& repository_root, const std::string& cluster,
                                               std::string_view name);
void record_restore_point(const std::filesystem::path& repository_root, const RestorePoint& point);

}  // namespace pgr::repository
