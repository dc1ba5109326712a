// `before: {restore_point: NAME}` of Restore and PointInTimeRecovery documents: the facts and the
// step at plan time (planner/restore_point_step), the runner that runs it at apply time
// (executor/restore_point_step) around the plan's own.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "config/documents.hpp"
#include "config/settings.hpp"
#include "executor/runner.hpp"
#include "model/plan.hpp"

namespace pgr::app {

// Adds the step to a fresh plan; nothing when the document asks for none, when the plan has it
// (an unfinished run's saved plan) or changes nothing. `already_done`: a finished run of this plan
// did the work (a no-op step). Throws Error(input) for a name already recorded.
void add_restore_point_before(model::Plan& plan, const config::RestorePointBefore& before, const std::string& document,
                              const config::Settings& settings, bool already_done = false);

// `inner`, wrapped so that the plan's restore-point step runs too; `inner` must outlive it.
std::unique_ptr<executor::StepRunner> with_restore_point_before(executor::StepRunner& inner, const model::Plan& plan,
                                                               const config::Settings& settings,
                                                               const std::filesystem::path& run_dir,
                                                               const std::atomic<bool>* cancel);

}  // namespace pgr::app
