// Taking one logical backup into a repository: pg_dump (the real one) into a .partial folder,
// the cluster globals (libpq, plus pg_dumpall --globals-only SQL for people), exact row counts
// taken in the dump's own snapshot while pg_dump runs (engine/snapshot_counts; read back from the
// dumped data where that is not possible), the manifest, and the rename that makes it visible.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "config/documents.hpp"
#include "engine/request.hpp"
#include "repository/repository.hpp"
#include "util/progress.hpp"

namespace pgr::engine {

// The archive's name inside the backup folder for a format: data, data.dump, data.tar, data.sql.
std::string archive_name(config::DumpFormat format);

// pg_dump's options for the policy (no connection, no output file), for pg_dump itself and the
// manifest. Throws Error(input) for a compression the pg_dump version cannot write.
std::vector<std::string> pg_dump_options(const config::BackupPolicySpec& spec, int pg_dump_major);

// Takes the backup; on any failure or cancellation the partial folder is removed and the error
// names what failed (the object pg_dump could not read and the rights the role needs, or the lost
// connection); a cancelled backup throws Error(cancelled).
// Starts looking up pg_dump (its path in bin_dir or the found PostgreSQL folder, and its version)
// on a thread, for a take_logical_backup of this process to find done. Errors surface there.
void prefetch_pg_dump(const std::filesystem::path& bin_dir);

repository::BackupInfo take_logical_backup(const repository::Repository& repo, const BackupRequest& req,
                                           ProgressCounters* progress);

// The pieces a whole-cluster backup (engine/cluster_backup) shares with the one-database one:
// pg_dump's major version and --version line; one pg_dump of `database` with `options` into
// `out` (its failures named as take_logical_backup names them, `role` being the backup role);
// pg_dumpall --globals-only into `out`.
int pg_dump_major(const std::filesystem::path& tool);
std::string pg_dump_version(const std::filesystem::path& tool);
void run_pg_dump(const BackupRequest& req, const std::string& database, const std::vector<std::string>& options,
                 const std::filesystem::path& out, const std::string& role);
void run_pg_dumpall_globals(const BackupRequest& req, const std::filesystem::path& out, bool with_passwords);

// Exact rows per "schema.table" of every TABLE DATA entry of a pg_dump archive, read end to end
// (which also proves every data stream decompresses). Throws Error(archive) naming the entry.
std::map<std::string, std::int64_t> count_archive_rows(const std::filesystem::path& archive,
                                                       ProgressCounters* progress = nullptr);
std::map<std::string, std::int64_t> count_archive_rows(const archive::Archive& archive,
                                                       ProgressCounters* progress = nullptr);
// The same for the TABLE DATA entries `which` picks.
std::map<std::string, std::int64_t> count_archive_rows(const archive::Archive& archive, ProgressCounters* progress,
                                                       const std::function<bool(const archive::TocEntry&)>& which);

}  // namespace pgr::engine
