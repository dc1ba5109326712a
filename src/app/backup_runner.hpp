// Internal to app/backup*: the policy as stored in a backup plan, and the StepRunner that runs a
// backup plan's steps (backup, backup-delete, drill) for executor::execute.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "executor/runner.hpp"
#include "model/plan.hpp"
#include "repository/repository.hpp"
#include "spec/documents.hpp"

namespace pgr::app {

// The policy's spec in a plan's params (so `apply PLANFILE` runs exactly what was reviewed).
// The source is kept as the connection name or the conninfo without its password.
nlohmann::json policy_to_json(const spec::BackupPolicy& p);
spec::BackupPolicy policy_from_json(const nlohmann::json& j);

struct BackupRunState {
  const model::Plan* plan = nullptr;
  const spec::Settings* settings = nullptr;
  spec::BackupPolicy policy;
  std::unique_ptr<repository::Repository> repo;
  std::string source_conninfo;  // with password: never printed
  std::mutex mu;
  std::string new_backup_id;    // set by the backup step (or recovered from the journal)
};

std::unique_ptr<executor::StepRunner> make_backup_runner(BackupRunState& state);

// Restores the backup into a throwaway instance with pgrecover's own restore, checks row counts
// and the policy's SQL, records the result in the repository; returns a note for the journal.
std::string run_drill(BackupRunState& state, const std::string& backup_id);

}  // namespace pgr::app
