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

struct BackupFacts {
  const config::BackupPolicy* policy = nullptr;
  std::string repository;                        // the settings name
  std::string repository_path;
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
// delete:<id> per existing backup (delete | no-op), wal-delete:<cluster>.
model::Plan plan_backup_policy(const BackupFacts& facts);

// "90s", "5m", "3h", "2d": the age or interval as a plan shows it.
std::string age_text(std::chrono::seconds s);

}  // namespace pgr::planner
