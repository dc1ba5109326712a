// The run folder every apply uses: <state_dir>/runs/<plan id>/ with its lock (one process at a
// time), its journal, the saved plan and one report per run. Restores, backups and recoveries
// share it, so they resume, lock and report the same way.
//
// The one rule for a plan id seen again (docs/concepts.md, "Runs"), for every kind of plan:
//   - no run folder, or one whose run never started: a new run;
//   - a run that started and did not finish: it is continued with the plan saved when it started
//     (the target holds that plan's partial work), whichever plan of that id is applied now;
//     planning a document whose plan id has such a run gives that saved plan (unfinished_plan);
//   - a finished run of the very same plan (same created_at): nothing to do ("already applied");
//   - a finished run of an earlier plan with the same id (planned again after the world changed
//     back): that folder is kept as <id>-<its created_at> and a new run starts.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "executor/executor.hpp"
#include "executor/journal.hpp"
#include "executor/runner.hpp"
#include "model/plan.hpp"
#include "util/fs.hpp"

namespace pgr::executor {

struct ApplyOptions {
  int jobs = 0;                          // 0: the plan's
  std::atomic<bool>* cancel = nullptr;   // set by SIGINT/SIGTERM
  std::function<void(const Event&)> on_event;
};

struct ApplyResult {
  Summary summary;
  std::string run_dir;
  bool resumed = false;
  bool already_finished = false;
};

// <state_dir>/runs/<plan id>; throws Error(input) for an id that is not a plain name.
std::filesystem::path run_dir(const std::filesystem::path& state_dir, const std::string& plan_id);
// The saved plan of a run of this id that started and did not finish; nullopt otherwise.
std::optional<model::Plan> unfinished_plan(const std::filesystem::path& state_dir, const std::string& plan_id);
// An unfinished restore run of `document` into `target` whose plan created the database and ran a
// plain SQL script that failed: what the database holds is that run's partial work (the script
// was fixed since, so the plan id changed), and a new plan may start over. Its id, or "".
std::string half_restored_script_run(const std::filesystem::path& state_dir, const std::string& document,
                                     const model::Target& target);

class RunFolder {
 public:
  RunFolder(const std::filesystem::path& state_dir, const model::Plan& plan);

  // The plan this run executes: the one given, or the saved one of the unfinished run it continues.
  const model::Plan& plan() const { return plan_; }
  const std::filesystem::path& dir() const { return dir_; }
  Journal& journal() { return journal_; }
  bool finished() const { return journal_.finished(); }
  bool resumed() const { return journal_.last_run() > 0; }
  // The result of an apply of a run that already finished: nothing to do.
  ApplyResult finished_result() const;
  // Saves the plan (first run) or logs "resuming run X: N of M steps done".
  void start() const;
  // Runs the plan's steps with `jobs` workers and writes
  // report-<run>.json: the common fields (plan, kind, document, annotations, status, times,
  // counts) plus what `extra` returns once the steps ran.
  ApplyResult run(StepRunner& runner, const ApplyOptions& options, int jobs,
                  const std::function<nlohmann::json()>& extra);

 private:
  model::Plan plan_;
  std::filesystem::path dir_;
  FileLock lock_;
  Journal journal_;
};

}  // namespace pgr::executor
