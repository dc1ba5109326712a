// Point-in-time recovery (issue 8): plan a PointInTimeRecovery document (base backup choice, WAL
// continuity, steps) and apply it.
#pragma once

#include "app/restore.hpp"
#include "model/plan.hpp"
#include "spec/documents.hpp"

namespace pgr::app {

model::Plan plan_recovery(const spec::PointInTimeRecovery& doc, const spec::Settings& settings);  // kind "pitr"
ApplyResult apply_recovery_plan(const model::Plan& plan, const spec::Settings& settings, const ApplyOptions& options);

}  // namespace pgr::app
