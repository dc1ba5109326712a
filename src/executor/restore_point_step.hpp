// The "restore-point" step that `before: {restore_point: NAME}` puts first in a Restore or
// PointInTimeRecovery plan (planner/restore_point_step), run by a StepRunner that wraps the plan's
// own: that step here, every other step by the inner runner's workers.
//
// Idempotent on resume: right after pg_create_restore_point returns, the point (LSN, segment,
// time) is written atomically to a state file in the run folder. A resumed run that finds it does
// not create the restore point again: it waits for that segment and records that point. A record
// of the name in the repository with the same LSN is this run's own (done); any other is someone
// else's, and the step fails before anything else ran. The only window left is a kill while
// pg_create_restore_point itself runs: the resumed run then creates it once more, and recovery to
// the name stops at the first, which is also before anything the plan changed.
//
// Test hook (tests only, docs/development.md): PGRECOVER_TEST_KILL_AFTER_RESTORE_POINT=1 makes
// the apply SIGKILL itself right after the state file is written, before the wait and the record.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "executor/runner.hpp"
#include "model/plan.hpp"
#include "repository/repository.hpp"

namespace pgr::executor {

struct RestorePointStepConfig {
  std::string conninfo;  // of the server that gets it, with password: never printed
  // Where it is recorded (the plan's restore_point_repository, opened); null: not recorded.
  std::shared_ptr<const repository::Repository> repository;
  std::filesystem::path state_file;  // <run folder>/restore-point.json
  const std::atomic<bool>* cancel = nullptr;
  // The policy's other repositories (restore_point_copies), by name: each gets the record too once
  // the first has it. Null: it could not be opened (`copy_errors` says why); the step then warns
  // and still succeeds, as `pgrecover restore-point` does, because the first repository has it.
  std::map<std::string, std::shared_ptr<const repository::Repository>> copies;
  std::map<std::string, std::string> copy_errors;
};

// The plan's step params (model/restore_point_params.hpp) name the restore point. The wrapper
// holds `inner` by reference: it must outlive the returned runner.
std::unique_ptr<StepRunner> with_restore_point_step(StepRunner& inner, const model::Plan& plan,
                                                    RestorePointStepConfig config);

}  // namespace pgr::executor
