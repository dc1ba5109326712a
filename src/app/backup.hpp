// Backup policies: plan from the facts (facts/backup_facts.hpp), and apply a backup plan.
#pragma once

#include "config/documents.hpp"
#include "executor/run_folder.hpp"
#include "model/plan.hpp"

namespace pgr::app {

// A plan of kind "backup" for one BackupPolicy (the saved plan when a run of it is unfinished).
model::Plan plan_backup_policy(const config::BackupPolicy& policy, const config::Settings& settings);
// Applies a "backup" plan (journaled like a restore); returns the run summary.
executor::ApplyResult apply_backup_plan(const model::Plan& plan, const config::Settings& settings,
                                        const executor::ApplyOptions& options);

}  // namespace pgr::app
