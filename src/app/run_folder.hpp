// The run folder every apply uses: <state_dir>/runs/<plan id>/ with its lock (one process at a
// time), its journal, the saved plan and one report per run. Restores, backups and recoveries
// share it, so they resume, lock and report the same way.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "app/restore.hpp"
#include "executor/journal.hpp"
#include "executor/runner.hpp"
#include "model/plan.hpp"
#include "spec/settings.hpp"

namespace pgr::app {

// An exclusive, non-blocking flock held for the life of the object; the holder's pid is written
// into the file so that the error can name it. Throws Error(locked) when taken.
class FileLock {
 public:
  FileLock(const std::filesystem::path& file, const std::string& what);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

class RunFolder {
 public:
  RunFolder(const spec::Settings& settings, const model::Plan& plan);

  const std::filesystem::path& dir() const { return dir_; }
  executor::Journal& journal() { return journal_; }
  bool finished() const { return journal_.finished(); }
  bool resumed() const { return journal_.last_run() > 0; }
  // The result of an apply of a run that already finished: nothing to do.
  ApplyResult finished_result() const;
  // Saves the plan (first run) or logs "resuming run X: N of M steps done".
  void start() const;
  // Runs the plan's steps (jobs workers) and writes report-<run>.json: the common fields (plan,
  // kind, document, annotations, status, times, counts) plus `extra`.
  ApplyResult run(executor::StepRunner& runner, const ApplyOptions& options, int jobs, const nlohmann::json& extra);

 private:
  const model::Plan& plan_;
  std::filesystem::path dir_;
  FileLock lock_;
  executor::Journal journal_;
};

}  // namespace pgr::app
