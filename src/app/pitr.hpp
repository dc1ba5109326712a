// Point-in-time recovery: gather what the PITR planner needs (the policy's physical backups, a
// view of the WAL archive, the data directory), plan a PointInTimeRecovery document, and apply.
#pragma once

#include "config/documents.hpp"
#include "executor/run_folder.hpp"
#include "model/plan.hpp"

namespace pgr::app {

// only_backup: recover that backup of the policy and no other (drills); empty: the planner chooses.
model::Plan plan_recovery(const config::PointInTimeRecovery& doc, const config::Settings& settings,
                          const std::string& only_backup = {});  // kind "pitr"
executor::ApplyResult apply_recovery_plan(const model::Plan& plan, const config::Settings& settings,
                                          const executor::ApplyOptions& options);

}  // namespace pgr::app
