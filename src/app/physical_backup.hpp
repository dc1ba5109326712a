// Physical backups for BackupPolicy documents with method: physical (issue 8): a base backup
// with the real pg_basebackup (tar format, compressed, WAL streamed, backup manifest on) stored
// as a repository backup with our manifest (LSNs, timeline, system identifier, version), the
// archiving health check a plan shows, and WAL retention (what is older than the oldest kept
// base backup). Called by the backup flow (app/backup.cpp) for the physical method.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "executor/runner.hpp"
#include "pg/pg.hpp"
#include "repository/repository.hpp"
#include "spec/documents.hpp"

namespace pgr::app {

// Warnings for a physical policy's plan when the source does not archive into `cluster` through
// pgrecover (archive_mode, archive_command, wal_level, recent pg_stat_archiver failures). Empty:
// archiving looks healthy.
std::vector<std::string> check_archiving(pg::Connection& source, const std::string& cluster);

// The same, connecting to the policy's source.
std::vector<std::string> check_archiving(const spec::BackupPolicy& policy, const spec::Settings& settings);

// Takes a base backup of the policy's source into its repository and commits it (the backup is
// listed only once complete). `progress` (optional) gets the bytes stored.
repository::BackupInfo take_physical_backup(const spec::BackupPolicy& policy, const spec::Settings& settings,
                                            executor::StepProgress* progress = nullptr);

// WAL that retention makes deletable: every segment older than the start of the oldest base
// backup that is kept. nullopt when nothing is deletable (no kept physical backup, or no older WAL).
struct WalDeletion {
  std::string cluster;
  std::uint64_t before_segno = 0;  // segments with a lower number go
  std::uint64_t seg_size = 0;
  std::string first_kept;          // the oldest segment name that stays
  std::size_t files = 0;           // how many archive files would go now
  std::uint64_t bytes = 0;
};
std::optional<WalDeletion> plan_wal_deletion(const repository::Repository& repo, const std::string& policy,
                                             const std::vector<std::string>& kept_backup_ids);
// Deletes what plan_wal_deletion chose (re-checked at the time of the call). Returns the names removed.
std::vector<std::string> delete_wal(const repository::Repository& repo, const WalDeletion& deletion);

}  // namespace pgr::app
