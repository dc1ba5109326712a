// What recovery planning asks of a WAL archive, behind an interface so the PITR planner is tested
// on fixtures: is every segment recovery needs there, when was a file archived, and which WAL
// files in a server's own pg_wal the archive lacks. StoredWalArchives answers from a storage.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "repository/wal_archive.hpp"
#include "storage/storage.hpp"

namespace pgr::repository {

class WalArchiveView {
 public:
  virtual ~WalArchiveView() = default;
  // check_continuity over the archive of `cluster`.
  virtual Continuity continuity(const std::string& cluster, std::uint32_t start_timeline, std::uint64_t start_lsn,
                                std::optional<std::uint64_t> end_lsn, const std::string& timeline,
                                std::uint64_t seg_size) = 0;
  // When the archived file `name` of `cluster` was stored (ISO-8601 UTC), or "" when unknown or
  // not archived (a segment that came with the base backup).
  virtual std::string archived_at(const std::string& cluster, const std::string& name) {
    (void)cluster;
    (void)name;
    return "";
  }
};

class StoredWalArchives : public WalArchiveView {
 public:
  explicit StoredWalArchives(std::shared_ptr<storage::Storage> storage) : storage_(std::move(storage)) {}
  Continuity continuity(const std::string& cluster, std::uint32_t start_timeline, std::uint64_t start_lsn,
                        std::optional<std::uint64_t> end_lsn, const std::string& timeline,
                        std::uint64_t seg_size) override;
  std::string archived_at(const std::string& cluster, const std::string& name) override;

 private:
  std::shared_ptr<storage::Storage> storage_;
};

// In-place recovery: the WAL files (segments and history files) in `pg_wal` that `archive` lacks,
// sorted: the old server wrote them and crashed, or its archive_command failed. The server
// recycles old segments under future names, so segments after the one written last (by mtime)
// on its timeline are not WAL of this cluster's history and are left out.
std::vector<std::string> unarchived_wal(const WalArchive& archive, const std::filesystem::path& pg_wal);

}  // namespace pgr::repository
