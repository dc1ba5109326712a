// What the restore-point planner is told about `before: {restore_point: ...}`: the names already
// recorded for the cluster and whether the server's WAL settings allow a restore point.
#pragma once

#include <string>

#include "config/documents.hpp"
#include "config/settings.hpp"
#include "planner/restore_point_step.hpp"

namespace pgr::facts {

// `already_done`: the plan's work is done (a finished run): nothing is read.
planner::RestorePointFacts read_restore_point_facts(const config::RestorePointBefore& before, const std::string& document,
                                                    const config::Settings& settings, bool already_done);

}  // namespace pgr::facts
