// Plans a PointInTimeRecovery: which base backup reaches the target, whether the archived WAL
// from it to the target is complete, the recovery settings, and the steps
//   verify-backup → data-directory → extract → recovery-settings → server-start →
//   recovery-target → verify (when the document has checks) → promote | pause | shutdown
// Pure: it reads only the facts it is handed (app/ gathers them; the WAL archive through the
// WalArchiveView interface), so it is tested on fixtures without a server or a repository.
#pragma once

#include <cstdint>
#include <optional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/documents.hpp"
#include "model/pitr_params.hpp"
#include "model/plan.hpp"
#include "repository/physical.hpp"
#include "repository/repository.hpp"
#include "repository/restore_points.hpp"
#include "repository/wal_archive.hpp"
#include "repository/wal_view.hpp"

namespace pgr::planner {

// Is every WAL segment recovery needs in the archive? (repository/wal_view.hpp; a fixture in tests.)
using WalArchiveView = repository::WalArchiveView;

using PhysicalBackup = repository::PhysicalBackup;

struct PitrFacts {
  const config::PointInTimeRecovery* document = nullptr;
  std::string repository_path;
  std::vector<PhysicalBackup> backups;   // physical backups of the policy, oldest first
  WalArchiveView* wal = nullptr;
  // Restore points recorded by `pgrecover restore-point` for the policy's WAL cluster, oldest
  // first: a `name` target must be one of them.
  std::vector<repository::RestorePoint> restore_points;
  bool data_directory_empty = true;      // absent or an empty folder
  // Of the folders the backups' tablespaces could go to (their original locations and the
  // to.tablespace_mapping targets), those that exist and are not empty folders.
  std::set<std::string> occupied_folders;
  // In-place recovery (a non-empty data directory moved aside): the WAL segments and history
  // files in its pg_wal that the WAL archive lacks, sorted. Those at or after the chosen backup's
  // start are copied into the new pg_wal and replayed after the archive.
  std::vector<std::string> unarchived_wal;
  // In-place recovery: the old data directory's tablespace links (pg_tblspc/<oid> -> folder), by
  // folder. A tablespace whose original location is one of them is moved aside with the data
  // directory instead of refused as occupied.
  std::map<std::string, std::string> old_tablespace_links;
  // A finished run of this very plan id whose recovered cluster is still in the data directory:
  // the plan is then all no-op ("already recovered").
  std::string finished_run;
  std::string executable;                // pgrecover itself, for restore_command
  std::string settings_file;             // absolute, for restore_command
  bool running_as_root = false;
  std::vector<std::string> warnings;     // found while gathering (settings not readable by the server user)
  std::string created_at;
};

struct BackupChoice {
  std::size_t index = 0;  // into PitrFacts::backups
  std::string reason;
};
// The newest physical backup that ends before the target. Throws Error(input) when there is none.
BackupChoice choose_backup(const PitrFacts& facts);

// The plan id: a digest of the document and the chosen backup (and its manifest).
std::string pitr_plan_id(const config::PointInTimeRecovery& doc, const PhysicalBackup& chosen);

// A plan of kind "pitr". Throws Error(input) for a gap in the WAL before the target or a data
// directory that is not empty (unless move_aside_existing).
model::Plan plan_recovery(const PitrFacts& facts);

// In-place recovery (a non-empty data directory moved aside) that is not already done.
bool in_place(const PitrFacts& facts);
// "<path>.pgrecover-<plan time, 20261201T183000>": where an in-place recovery moves `path`.
std::string moved_aside_name(const PitrFacts& facts, const std::string& path);

}  // namespace pgr::planner
