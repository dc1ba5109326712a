// Runs a plan's DAG with N workers. The ready queue is ordered by critical path (biggest
// remaining chain of work first); steps whose table locks conflict never run together; a
// failed step stops new work and lets running steps finish; every step end is journaled and
// fsynced before the step counts as done; a resumed run skips what the journal says is done.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "executor/journal.hpp"
#include "executor/runner.hpp"
#include "model/dag.hpp"
#include "model/plan.hpp"
#include "util/error.hpp"

namespace pgr::executor {

struct Event {
  enum class Type { run_start, step_start, step_done, step_failed, progress, run_end } type = Type::progress;
  std::string step;          // step id
  std::string kind, object;  // of the step
  std::int64_t rows = 0, bytes = 0, ms = 0;
  std::string message;
  // Totals at the time of the event
  int steps_done = 0, steps_total = 0;
  std::int64_t rows_total = 0, bytes_done = 0, bytes_planned = 0;
  double elapsed_s = 0;
};

struct Options {
  int jobs = 1;
  std::atomic<bool>* cancel = nullptr;  // set by a signal handler: stop cleanly
  std::function<void(const Event&)> on_event;  // called from the executor's thread only
  std::chrono::milliseconds progress_interval{2000};
};

struct StepTiming {
  std::string id, kind, object;
  std::int64_t ms = 0, rows = 0, bytes = 0;
};

struct Failure {
  std::string step, kind, object;   // kind: the step's kind
  std::string message, hint;
  std::string sqlstate;
  ErrorKind error_kind = ErrorKind::internal;  // what failed: database, io, instance, input, ...
};

struct Summary {
  std::string run_status;  // "ok", "failed", "cancelled"
  int run = 0;
  int total = 0;           // steps in the plan
  int done_before = 0;     // done by earlier runs (resume)
  int done_now = 0;        // done by this run
  int no_ops = 0;
  std::int64_t rows = 0, bytes = 0;
  double seconds = 0;
  std::map<std::string, int> by_kind;          // steps done now, per kind
  std::vector<StepTiming> slowest;             // up to 5
  std::vector<Failure> failures;
  int peak_parallel = 0;
  std::int64_t peak_rss_bytes = 0;             // of this process, at the end of the run
};

Summary execute(const model::Plan& plan, StepRunner& runner, Journal& journal, const Options& options);

}  // namespace pgr::executor
