// The apply-time estimate a restore plan shows: the bytes of table data it loads divided by the
// throughput an earlier restore measured (executor/run_history.hpp). Never a guess: without a
// measured rate the plan has no estimate.
#pragma once

#include <string>

#include "model/plan.hpp"

namespace pgr::planner {

// Sets params estimated_seconds and estimated_from (`from` says which run measured the rate) on
// a restore plan that loads table data; leaves other plans, or a rate <= 0, alone.
void add_time_estimate(model::Plan& plan, double bytes_per_second, const std::string& from);

}  // namespace pgr::planner
