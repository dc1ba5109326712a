// Plans a BackupPolicy: is a backup due (schedule), is a restore drill due, which backups fall
// outside retention, and (physical policies) which archived WAL is older than every kept base
// backup. Pure: it reads only the facts it is handed (app/ gathers them), so it is tested on
// fixtures without a server or a repository.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "config/database_selection.hpp"
#include "config/documents.hpp"
#include "model/plan.hpp"
#include "repository/physical.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"

namespace pgr::planner {

// One more copy of the policy's backups (spec.repositories after the first): what it holds now.
struct CopyFacts {
  std::string repository;                        // the settings name
  std::string where;                             // Storage::describe(): "/srv/copy", "s3://bucket/prefix"
  std::string type = "posix";                    // posix | s3
  std::vector<repository::BackupInfo> backups;   // complete backups of this policy there, oldest first
  std::string fingerprint;                       // Repository::fingerprint of those
  std::map<std::string, repository::PhysicalInfo> physical;  // as in BackupFacts, for its WAL retention
  std::map<std::string, std::vector<repository::WalArchive::Entry>> wal_files;
  std::string unreachable;                       // non-empty: it could not be listed (why)
};

// Where a repository sits relative to the source, for the 3-2-1 warnings (app/ finds out).
struct RepositoryPlacement {
  std::string name, where, type;
  bool same_filesystem = false;  // posix, on the filesystem of the source's data directory
  bool on_source_host = false;   // posix, and the source server runs on this host
  bool encrypted = false;        // client-side encryption is configured (encryption_key_file/_env)
};

// The 3-2-1 warnings: every copy on the source's filesystem, or every copy on the source's host;
// and an object-store copy without client-side encryption (globals hold password hashes).
std::vector<std::string> placement_warnings(const std::vector<RepositoryPlacement>& repositories,
                                            const std::string& data_directory);

struct BackupFacts {
  const config::BackupPolicy* policy = nullptr;
  std::string repository;                        // the settings name
  std::string repository_path;
  std::string repository_type = "posix";
  std::vector<CopyFacts> copies;                 // the other repositories of the policy, in order
  std::vector<repository::BackupInfo> backups;   // complete backups of this policy, oldest first
  std::string repository_fingerprint;            // of those backups (Repository::fingerprint)
  std::chrono::sys_seconds now{};
  std::string created_at;                        // ISO-8601, for the plan
  // Physical policies: each physical backup's manifest facts (by backup id) and the archived WAL
  // of each cluster they name.
  std::map<std::string, repository::PhysicalInfo> physical;
  std::map<std::string, std::vector<repository::WalArchive::Entry>> wal_files;
  // Physical: the timeline the source writes on now (0: unknown). A source promoted since the
  // newest base backup (a recovered cluster that replaced a lost one) needs a new base backup.
  std::uint32_t source_timeline = 0;
  // Found while gathering: archiving health, a repository on the source's filesystem, folders
  // left by interrupted backups. Shown in the plan as they are.
  std::vector<std::string> warnings;
  // Whole-cluster logical policies: what the source's pg_database gives (config::choose_databases).
  std::vector<config::DatabaseChoice> databases;
};

// A plan of kind "backup". Steps: backup:<policy> (create | no-op), drill:<policy> (run | no-op),
// delete:<id> per existing backup (delete | no-op), wal-delete:<cluster>; with copies, for each
// other repository R: copy:<R> (the new backup), copy:<R>:<id> (a kept backup R lacks),
// delete:<R>:<id> and wal-delete:<R>:<cluster> (R's own retention). The first repository's
// deletes wait for every copy: a backup leaves the source only once the copies have landed.
model::Plan plan_backup_policy(const BackupFacts& facts);

// "90s", "5m", "3h", "2d": the age or interval as a plan shows it.
std::string age_text(std::chrono::seconds s);

}  // namespace pgr::planner
