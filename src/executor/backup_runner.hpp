// The StepRunner for backup plans (kind "backup"): backup (pg_dump or pg_basebackup through the
// engines), drill (a restore of the backup into a throwaway instance, done by a Driller handed in
// from above, then the result recorded in the repository), backup-copy (the backup copied to
// another repository of the policy, read back and checked), backup-delete and wal-delete (in the
// first repository, or the one named by the step's "repository" param).
// Cancelling a running step stops pg_dump / pg_basebackup / the drill's restore; the backup's
// .partial folder is removed, so nothing half-written is ever listed.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "config/documents.hpp"
#include "executor/journal.hpp"
#include "executor/runner.hpp"
#include "model/plan.hpp"
#include "repository/repository.hpp"

namespace pgr::executor {

// What a drill proved: the id of its restore's (or recovery's) run and what was checked there.
struct DrillResult {
  std::string run;
  std::string checked;  // e.g. "row counts and SQL checks"
};

// Restores a backup into a throwaway instance and checks it: a logical backup with a restore
// (row counts, the policy's SQL checks), a physical one with a recovery to consistency (the SQL
// checks, pg_amcheck). Throws Error naming what failed. Implemented above the executor (it plans
// and applies a restore or a recovery); a fake in tests.
class Driller {
 public:
  virtual ~Driller() = default;
  virtual DrillResult restore_and_check(const config::BackupPolicy& policy, const repository::BackupInfo& backup,
                                        std::atomic<bool>& cancel) = 0;
};

struct BackupRunState {
  const model::Plan* plan = nullptr;
  config::BackupPolicy policy;
  std::unique_ptr<repository::Repository> repo;   // the first repository: backups are taken into it
  // The policy's other repositories by settings name (copy steps, their retention); null: it
  // could not be opened (its steps fail, the backup is still taken).
  std::map<std::string, std::unique_ptr<repository::Repository>> copies;
  std::string source_conninfo;          // with password: never printed
  std::filesystem::path bin_dir;        // [instance] bin_dir
  Driller* driller = nullptr;           // for drill steps
  std::mutex mu;
  std::string new_backup_id;            // set by the backup step (or recovered from the journal)
};

std::unique_ptr<StepRunner> make_backup_runner(BackupRunState& state);

// Before a new run: throws Error(stale_plan) when the policy's backups in the first repository
// (named `repository` in messages) or in a reachable copy changed since the plan was made.
void refuse_if_stale(const BackupRunState& state, const std::string& repository);
// A resumed run: the id of the backup its backup step took, from the journal ("" when none).
std::string resumed_backup_id(const Journal& journal, const std::string& policy);
// Leftovers of crashed or failed backups and copies (never listed) are removed, also when an
// apply continues a run that failed, except a half copy the plan copies again (its copy step
// keeps the files already there and intact). An unreachable copy is logged, not fatal.
void remove_unfinished(BackupRunState& state);

}  // namespace pgr::executor
