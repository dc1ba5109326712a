// Physical backups for BackupPolicy documents with method: physical: a base backup with the real
// pg_basebackup (tar format, compressed, WAL streamed, backup manifest on) stored as a repository
// backup with our manifest (LSNs, timeline, system identifier, version), and the archiving health
// check a plan shows.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "config/documents.hpp"
#include "engine/request.hpp"
#include "pg/pg.hpp"
#include "repository/repository.hpp"
#include "util/progress.hpp"

namespace pgr::engine {

// Warnings for a physical policy's plan when the source does not archive into `cluster` through
// pgrecover (archive_mode, archive_command, wal_level, recent pg_stat_archiver failures). Empty:
// archiving looks healthy.
std::vector<std::string> check_archiving(pg::Connection& source, const std::string& cluster);

// Takes a base backup of the source into the repository and commits it (the backup is listed
// only once complete). `progress` (optional) gets the bytes stored. A cancelled backup throws
// Error(cancelled) and leaves no folder behind.
repository::BackupInfo take_physical_backup(const repository::Repository& repo, const BackupRequest& req,
                                            ProgressCounters* progress = nullptr);

}  // namespace pgr::engine
