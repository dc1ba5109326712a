#include "executor/executor.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "executor/ready_queue.hpp"
#include "pg/pg.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/redact.hpp"
#include "util/time.hpp"

namespace pgr::executor {
namespace {

using Clock = std::chrono::steady_clock;

struct Slot {
  std::unique_ptr<Worker> worker;
  std::thread thread;
  // guarded by State::mu
  std::optional<size_t> assigned;
  bool busy = false;
  StepProgress progress;
  std::shared_ptr<std::atomic<int>> slots_given;  // for a step that uses several slots
};

struct Finished {
  size_t step;
  size_t slot;
  bool ok;
  StepOutcome outcome;
  Failure failure;
  std::int64_t ms;
  bool cancelled = false;
};

struct State {
  std::mutex mu;
  std::condition_variable work_cv;   // workers wait for assignments
  std::condition_variable done_cv;   // dispatcher waits for results
  std::deque<Finished> finished;
  std::vector<size_t> freed;         // steps one of whose sessions has ended while others go on
  bool shutdown = false;
};

}  // namespace

Summary execute(const model::Plan& plan, StepRunner& runner, Journal& journal, const Options& options) {
  model::Dag dag(plan.steps);
  const size_t n = dag.size();
  Summary summary;
  summary.total = static_cast<int>(n);
  summary.run = journal.last_run() + 1;
  auto t0 = Clock::now();

  std::set<std::string> done_ids = journal.done_steps();
  std::set<std::string> in_flight = journal.in_flight_steps();
  const std::map<std::string, StepParts> parts = journal.parts();
  std::vector<bool> done(n, false);
  std::vector<int> waiting(n, 0);  // unfinished dependencies
  std::int64_t bytes_planned = 0, bytes_done = 0;
  for (size_t i = 0; i < n; ++i) {
    bytes_planned += dag.step(i).action == model::Action::no_op ? 0 : dag.step(i).estimate.bytes;
    if (done_ids.count(dag.step(i).id)) {
      done[i] = true;
      summary.done_before++;
      bytes_done += dag.step(i).estimate.bytes;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t d : dag.dependencies(i))
      if (!done[d]) waiting[i]++;
  }

  auto make = [](Event::Type type, const model::Step* step = nullptr, std::string message = {},
                 std::int64_t rows = 0, std::int64_t bytes = 0, std::int64_t ms = 0) {
    Event e;
    e.type = type;
    if (step) {
      e.step = step->id;
      e.kind = step->kind;
      e.object = step->object;
    }
    e.message = std::move(message);
    e.rows = rows;
    e.bytes = bytes;
    e.ms = ms;
    return e;
  };
  auto emit = [&](Event e) {
    if (!options.on_event) return;
    e.steps_done = summary.done_before + summary.done_now;
    e.steps_total = summary.total;
    e.rows_total = summary.rows;
    e.bytes_done = bytes_done;
    e.bytes_planned = bytes_planned;
    e.elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
    options.on_event(e);
  };

  journal.append({"run-start", "", now_iso8601(), summary.run, 0, 0, 0,
                  fmt::format("{} of {} steps done before", summary.done_before, n)},
                 true);
  emit(make(Event::Type::run_start, nullptr,
            summary.done_before ? fmt::format("resuming run: {} of {} steps done", summary.done_before, n) : ""));

  // Ready: not done, all dependencies done.
  ReadyQueue ready(dag);
  for (size_t i : dag.topological_order())
    if (!done[i] && waiting[i] == 0) ready.push(i);

  int jobs = std::max(1, options.jobs);
  State st;
  std::vector<std::unique_ptr<Slot>> slots;
  for (int k = 0; k < jobs; ++k) {
    auto s = std::make_unique<Slot>();
    s->worker = runner.make_worker(k);
    slots.push_back(std::move(s));
  }
  for (size_t k = 0; k < slots.size(); ++k) {
    Slot* slot = slots[k].get();
    slot->thread = std::thread([&, slot, k] {
      for (;;) {
        size_t idx;
        {
          std::unique_lock lock(st.mu);
          st.work_cv.wait(lock, [&] { return st.shutdown || slot->assigned.has_value(); });
          if (!slot->assigned) return;
          idx = *slot->assigned;
        }
        const model::Step& step = dag.step(idx);
        Finished f{idx, k, true, {}, {}, 0};
        slot->progress.rows = 0;
        slot->progress.bytes = 0;
        StepContext ctx;
        ctx.was_in_flight = in_flight.count(step.id) > 0;
        ctx.run = summary.run;
        ctx.progress = &slot->progress;
        ctx.slots = slot->slots_given.get();
        if (ctx.slots) {
          ctx.slot_freed = [&st, idx] {
            {
              std::lock_guard lock(st.mu);
              st.freed.push_back(idx);
            }
            st.done_cv.notify_one();
          };
        }
        if (auto p = parts.find(step.id); p != parts.end()) ctx.parts = p->second;
        ctx.journal_part = [&journal, &step, run = summary.run](JournalRecord r, bool sync) {
          r.step = step.id;
          r.run = run;
          r.time = now_iso8601();
          journal.append(r, sync);
        };
        auto started = Clock::now();
        try {
          f.outcome = slot->worker->run(step, ctx);
        } catch (const pg::DbError& e) {
          f.ok = false;
          f.failure = {step.id, step.kind, step.object, e.what(), e.hint(), e.sqlstate(), e.kind()};
          f.cancelled = e.sqlstate() == "57014";
        } catch (const Error& e) {
          f.ok = false;
          f.failure = {step.id, step.kind, step.object, e.what(), e.hint(), "", e.kind()};
          f.cancelled = e.kind() == ErrorKind::cancelled;
        } catch (const std::exception& e) {
          f.ok = false;
          f.failure = {step.id, step.kind, step.object, std::string("unexpected error: ") + e.what(), "", "", ErrorKind::internal};
        }
        f.ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
        {
          std::lock_guard lock(st.mu);
          slot->assigned.reset();
          st.finished.push_back(std::move(f));
        }
        st.done_cv.notify_one();
      }
    });
  }

  std::vector<std::optional<size_t>> running(slots.size());
  // Slots lent to a running step that uses several sessions (a split table's load), and how many
  // slots each such step has now.
  std::vector<std::optional<size_t>> lent(slots.size());
  std::map<size_t, std::shared_ptr<std::atomic<int>>> given;
  std::map<size_t, int> asked_back;  // slots asked back from such a step and not yet freed by it
  int running_count = 0;
  bool stopping = false;
  bool cancelled = false;
  std::vector<StepTiming> timings;
  auto last_progress = Clock::now();

  auto cancel_requested = [&] { return options.cancel && options.cancel->load(); };

  std::vector<size_t> released;  // dependents of finished steps whose records are not yet fsynced
  auto finish_step = [&](const Finished& f) {
    const model::Step& step = dag.step(f.step);
    running[f.slot].reset();
    running_count--;
    for (auto& l : lent)
      if (l == f.step) l.reset();
    given.erase(f.step);
    asked_back.erase(f.step);
    ready.release(f.step);
    if (f.ok) {
      // Durable before it counts: the record is fsynced, then dependents may start.
      journal.append({"done", step.id, now_iso8601(), summary.run, f.outcome.rows, f.outcome.bytes, f.ms,
                      f.outcome.note},
                     false);  // fsynced once for the whole batch, before any dependent starts
      done[f.step] = true;
      summary.done_now++;
      summary.rows += f.outcome.rows;
      summary.bytes += f.outcome.bytes;
      bytes_done += step.estimate.bytes;
      summary.by_kind[step.kind]++;
      timings.push_back({step.id, step.kind, step.object, f.ms, f.outcome.rows, f.outcome.bytes});
      // Its dependents may start only once this record is durable: they wait in `released`
      // until the batch's fsync (work that does not depend on it keeps going meanwhile).
      for (size_t m : dag.dependents(f.step)) {
        if (--waiting[m] == 0 && !done[m]) released.push_back(m);
      }
      emit(make(Event::Type::step_done, &step, f.outcome.note, f.outcome.rows, f.outcome.bytes, f.ms));
    } else {
      journal.append({"failed", step.id, now_iso8601(), summary.run, 0, 0, f.ms,
                      redact_secrets(f.cancelled ? "cancelled" : f.failure.message)},
                     true);
      if (f.cancelled && (stopping || cancel_requested())) {
        cancelled = true;
      } else {
        summary.failures.push_back(f.failure);
        emit(make(Event::Type::step_failed, &step, f.failure.message, 0, 0, f.ms));
      }
      stopping = true;
    }
  };

  // A session of a step using several has ended while others go on: one slot lent to it is free.
  auto slot_freed = [&](size_t i) {
    auto g = given.find(i);
    if (g == given.end()) return;  // the step has ended meanwhile, and all its slots with it
    auto l = std::find(lent.begin(), lent.end(), std::optional<size_t>(i));
    if (l == lent.end()) return;
    l->reset();
    if (asked_back[i] > 0) {
      asked_back[i]--;  // its grant was lowered when the slot was asked back
    } else {
      g->second->fetch_sub(1);
    }
  };

  // No slot is free and ready work on a longer critical path than a split step's could start:
  // one slot lent to that step is asked back. The step ends a session between two of its chunks
  // and reports it (slot_freed); the slot then goes to that work. One request at a time per step.
  auto ask_back = [&]() {
    if (given.empty()) return;
    for (size_t k = 0; k < slots.size(); ++k)
      if (!running[k] && !lent[k]) return;
    std::uint64_t top = ready.top_runnable_priority();
    for (auto& [i, has] : given) {
      if (asked_back[i] > 0 || dag.critical_path(i) >= top) continue;
      if (std::find(lent.begin(), lent.end(), std::optional<size_t>(i)) == lent.end()) continue;
      asked_back[i]++;
      has->fetch_sub(1);
      log::debug("{}: one of its sessions is asked to end after its chunk, for work on a longer critical path",
                 dag.step(i).object);
      return;
    }
  };

  // Dispatch: the longest critical path first among ready steps whose locks are free.
  auto dispatch = [&]() {
    if (!stopping) {
      for (size_t k = 0; k < slots.size(); ++k) {
        if (running[k] || lent[k]) continue;
        // A running step that can use more sessions gets this slot first, unless ready work is on
        // a longer critical path (or the step is giving a slot back).
        bool lent_now = false;
        for (auto& [i, has] : given) {
          if (asked_back[i] > 0 || has->load() >= model::sessions_of(dag.step(i)) ||
              dag.critical_path(i) < ready.top_priority()) {
            continue;
          }
          lent[k] = i;
          has->fetch_add(1);
          lent_now = true;
          break;
        }
        if (lent_now) continue;
        std::optional<size_t> pick;
        while ((pick = ready.pop_runnable())) {
          const model::Step& step = dag.step(*pick);
          if (step.action != model::Action::no_op) break;
          // no-op steps complete at once, without a worker
          journal.append({"done", step.id, now_iso8601(), summary.run, 0, 0, 0, "no-op"}, false);
          done[*pick] = true;
          summary.done_now++;
          summary.no_ops++;
          for (size_t m : dag.dependents(*pick))
            if (--waiting[m] == 0 && !done[m]) ready.push(m);
        }
        if (!pick) break;
        size_t i = *pick;
        const model::Step& step = dag.step(i);
        ready.acquire(i);
        journal.append({"start", step.id, now_iso8601(), summary.run, 0, 0, 0, ""}, false);
        emit(make(Event::Type::step_start, &step));
        running[k] = i;
        running_count++;
        summary.peak_parallel = std::max(summary.peak_parallel, running_count);
        std::shared_ptr<std::atomic<int>> share;
        if (model::sessions_of(step) > 1) given[i] = share = std::make_shared<std::atomic<int>>(1);
        {
          std::lock_guard lock(st.mu);
          slots[k]->assigned = i;
          slots[k]->slots_given = share;
        }
        st.work_cv.notify_all();
      }
      ask_back();
    }
  };

  for (;;) {
    if (!stopping && cancel_requested()) {
      stopping = true;
      cancelled = true;
      log::warn("interrupted: cancelling {} running step(s); their transactions roll back", running_count);
      std::lock_guard lock(st.mu);
      for (size_t k = 0; k < slots.size(); ++k)
        if (running[k]) slots[k]->worker->cancel();
    }
    dispatch();
    if (running_count == 0) break;
    std::deque<Finished> batch;
    std::vector<size_t> freed;
    {
      std::unique_lock lock(st.mu);
      st.done_cv.wait_for(lock, std::chrono::milliseconds(200),
                          [&] { return !st.finished.empty() || !st.freed.empty(); });
      batch.swap(st.finished);
      freed.swap(st.freed);
    }
    for (size_t i : freed) slot_freed(i);
    for (auto& f : batch) finish_step(f);
    if (!batch.empty()) {
      // The batch's records are made durable before its dependents may start. Unless one of
      // them is more urgent than everything already ready, ready work is handed out first, so
      // the fsync overlaps running steps instead of idling workers.
      std::uint64_t urgent = 0;
      for (size_t m : released) urgent = std::max(urgent, dag.critical_path(m));
      if (urgent <= ready.top_priority()) dispatch();
      journal.sync();
      for (size_t m : released) ready.push(m);
      released.clear();
    }
    if (options.on_event && Clock::now() - last_progress >= options.progress_interval) {
      last_progress = Clock::now();
      Event e = make(Event::Type::progress);
      std::int64_t live_rows = 0, live_bytes = 0;
      for (auto& s : slots) {
        live_rows += s->progress.rows.load();
        live_bytes += s->progress.bytes.load();
      }
      e.rows = live_rows;
      e.bytes = live_bytes;
      emit(e);
    }
  }

  {
    std::lock_guard lock(st.mu);
    st.shutdown = true;
  }
  st.work_cv.notify_all();
  for (auto& s : slots) s->thread.join();

  summary.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  struct rusage ru {};
  if (::getrusage(RUSAGE_SELF, &ru) == 0) summary.peak_rss_bytes = static_cast<std::int64_t>(ru.ru_maxrss) * 1024;
  std::sort(timings.begin(), timings.end(), [](auto& a, auto& b) { return a.ms > b.ms; });
  if (timings.size() > 5) timings.resize(5);
  summary.slowest = timings;
  bool all_done = std::all_of(done.begin(), done.end(), [](bool b) { return b; });
  summary.run_status = !summary.failures.empty() ? "failed" : cancelled ? "cancelled" : all_done ? "ok" : "failed";
  if (summary.run_status == "failed" && summary.failures.empty()) {
    summary.failures.push_back({"", "", "", "some steps could not run (internal scheduling error)", "", "", ErrorKind::internal});
  }
  journal.append({"run-end", "", now_iso8601(), summary.run, summary.rows, summary.bytes,
                  static_cast<std::int64_t>(summary.seconds * 1000), summary.run_status},
                 true);
  emit(make(Event::Type::run_end, nullptr, summary.run_status, summary.rows, summary.bytes,
            static_cast<std::int64_t>(summary.seconds * 1000)));
  return summary;
}

}  // namespace pgr::executor
