// Point-in-time recovery: gather what the PITR planner needs (the policy's physical backups, a
// view of the WAL archive, the data directory), plan a PointInTimeRecovery document, and apply.
#pragma once

#include "config/documents.hpp"
#include "executor/run_folder.hpp"
#include "model/plan.hpp"

namespace pgr::app {

model::Plan plan_recovery(const config::PointInTimeRecovery& doc, const config::Settings& settings);  // kind "pitr"
executor::ApplyResult apply_recovery_plan(const model::Plan& plan, const config::Settings& settings,
                                          const executor::ApplyOptions& options);

}  // namespace pgr::app
