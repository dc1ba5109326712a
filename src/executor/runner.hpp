// Side effects behind a narrow interface (ninja's CommandRunner): the executor decides what runs
// when; a StepRunner does it. Implementations: one per plan kind (restore_runner, backup_runner,
// pitr_runner) and the tests' fake.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "executor/journal.hpp"
#include "model/plan.hpp"
#include "util/progress.hpp"

namespace pgr::executor {

// Counters a running step bumps as it goes; read by the progress reporter from another thread.
using StepProgress = ProgressCounters;

struct StepContext {
  // The step was started by an earlier run that died before recording its end: its transaction
  // either committed or rolled back. The worker re-checks the target (e.g. "already exists"
  // means it committed) instead of trusting either.
  bool was_in_flight = false;
  int run = 1;
  StepProgress* progress = nullptr;
  // Steps that use several sessions (model::sessions_of > 1): how many worker slots the executor
  // grants the step now. It starts at 1, grows while the step runs as slots free up, and shrinks
  // when the executor wants a slot back for ready work on a longer critical path.
  const std::atomic<int>* slots = nullptr;
  // Such a step calls this each time one of its sessions ends while others go on (between two of
  // its pieces of work: because `slots` fell below its sessions, or because no work is left for
  // it), so that the executor can hand the slot to another step at once. Empty: nobody listens.
  std::function<void()> slot_freed;
  // Steps loaded in parts: what earlier runs journaled about them, and a thread-safe way to
  // journal a part (record.step and .run are filled in).
  StepParts parts;
  std::function<void(JournalRecord record, bool sync)> journal_part;
};

struct StepOutcome {
  std::int64_t rows = 0;
  std::int64_t bytes = 0;
  std::string note;  // e.g. "already present (committed by an interrupted run)"
};

// One worker per executor thread; each owns its own resources (a libpq connection).
class Worker {
 public:
  virtual ~Worker() = default;
  // Runs one step to completion (its transaction committed) or throws pgr::Error.
  virtual StepOutcome run(const model::Step& step, StepContext& ctx) = 0;
  // Asks the running step to stop (e.g. PQcancel); called from another thread.
  virtual void cancel() = 0;
};

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  virtual std::unique_ptr<Worker> make_worker(int index) = 0;
};

}  // namespace pgr::executor
