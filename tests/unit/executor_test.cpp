// The executor against a fake runner: ordering, lock conflicts, critical path, failure,
// cancellation, resume, and the journal's torn-tail recovery.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "executor/executor.hpp"
#include "executor/journal.hpp"
#include "executor/ready_queue.hpp"
#include "pg/pg.hpp"
#include "util/fs.hpp"
#include "util/time.hpp"

using namespace pgr;
using namespace pgr::executor;
using model::Step;

namespace {

Step mk(std::string id, std::vector<std::string> deps = {}, std::int64_t bytes = 1,
        std::vector<model::TableLock> locks = {}) {
  Step s;
  s.id = id;
  s.kind = "fake";
  s.object = id;
  s.depends_on = std::move(deps);
  s.estimate.bytes = bytes;
  s.locks = std::move(locks);
  return s;
}

// Records when each step started and ended, sleeps a little, fails on request.
struct FakeRunner : StepRunner {
  struct Span {
    int start, end;
  };
  std::mutex mu;
  std::atomic<int> clock{0};
  std::map<std::string, Span> spans;
  std::vector<std::string> start_order;
  std::set<std::string> fail_ids;
  std::map<std::string, ErrorKind> fail_with;  // steps that throw a pgr::Error of this kind
  std::set<std::string> in_flight_seen;
  std::set<std::string> ran;
  std::atomic<int> cancels{0};
  std::atomic<bool> block{false};  // steps spin until cancelled
  int sleep_ms = 15;
  std::map<std::string, int> sleep_for;  // per-step duration overrides

  struct W : Worker {
    FakeRunner& r;
    std::atomic<bool> cancelled{false};
    explicit W(FakeRunner& rr) : r(rr) {}
    StepOutcome run(const Step& s, StepContext& ctx) override {
      int start = ++r.clock;
      {
        std::lock_guard l(r.mu);
        r.start_order.push_back(s.id);
        if (ctx.was_in_flight) r.in_flight_seen.insert(s.id);
      }
      int ms = r.sleep_for.count(s.id) ? r.sleep_for.at(s.id) : r.sleep_ms;
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      while (std::chrono::steady_clock::now() < until || r.block) {
        if (cancelled) {
          cancelled = false;
          throw pg::DbError("canceling statement due to user request", "", "57014", "", "", "");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      int end = ++r.clock;
      std::lock_guard l(r.mu);
      r.spans[s.id] = {start, end};
      if (auto k = r.fail_with.find(s.id); k != r.fail_with.end()) {
        throw Error(k->second, "could not write \"/repo/x\": No space left on device", "free some space");
      }
      if (r.fail_ids.count(s.id)) {
        throw pg::DbError("duplicate key value violates unique constraint \"k\" (SQLSTATE 23505)",
                          "the target table was not empty; use existing: truncate", "23505", "", "", "");
      }
      r.ran.insert(s.id);
      ctx.progress->rows += 10;
      return {10, s.estimate.bytes, ""};
    }
    void cancel() override {
      cancelled = true;
      r.cancels++;
    }
  };
  std::unique_ptr<Worker> make_worker(int) override { return std::make_unique<W>(*this); }
  bool overlap(const std::string& a, const std::string& b) {
    auto& x = spans.at(a);
    auto& y = spans.at(b);
    return x.start < y.end && y.start < x.end;
  }
};

model::Plan plan_of(std::vector<Step> steps) {
  model::Plan p;
  p.id = "test-plan";
  p.kind = "restore";
  p.steps = std::move(steps);
  return p;
}

}  // namespace

TEST_CASE("executor runs every step after its dependencies", "[executor]") {
  TempDir d;
  auto plan = plan_of({mk("a"), mk("b", {"a"}), mk("c", {"a"}), mk("d", {"b", "c"})});
  FakeRunner r;
  auto j = Journal::open(d.path(), plan.id);
  Options o;
  o.jobs = 3;
  auto s = execute(plan, r, j, o);
  CHECK(s.run_status == "ok");
  CHECK(s.done_now == 4);
  CHECK(r.spans["a"].end < r.spans["b"].start);
  CHECK(r.spans["a"].end < r.spans["c"].start);
  CHECK(r.spans["b"].end < r.spans["d"].start);
  CHECK(r.spans["c"].end < r.spans["d"].start);
  CHECK(r.overlap("b", "c"));  // independent steps do run in parallel
  CHECK(s.rows == 40);
}

TEST_CASE("exclusive locks on one table never overlap, share locks may", "[executor]") {
  TempDir d;
  model::TableLock ex{"t", model::LockMode::exclusive};
  model::TableLock sh{"t", model::LockMode::share};
  auto plan = plan_of({mk("load1", {}, 1, {ex}), mk("load2", {}, 1, {ex}), mk("fk", {}, 1, {ex, {"u", model::LockMode::exclusive}}),
                       mk("idx1", {"load1", "load2", "fk"}, 1, {sh}), mk("idx2", {"load1", "load2", "fk"}, 1, {sh}),
                       mk("other", {}, 1, {{"u2", model::LockMode::exclusive}})});
  FakeRunner r;
  auto j = Journal::open(d.path(), plan.id);
  Options o;
  o.jobs = 4;
  auto s = execute(plan, r, j, o);
  REQUIRE(s.run_status == "ok");
  CHECK_FALSE(r.overlap("load1", "load2"));
  CHECK_FALSE(r.overlap("load1", "fk"));
  CHECK_FALSE(r.overlap("load2", "fk"));
  CHECK(r.overlap("idx1", "idx2"));
  CHECK(s.peak_parallel >= 2);
}

TEST_CASE("with one job, the longest critical path starts first", "[executor]") {
  TempDir d;
  auto plan = plan_of({mk("small", {}, 10), mk("medium", {}, 50), mk("big", {}, 100), mk("big-idx", {"big"}, 100)});
  FakeRunner r;
  r.sleep_ms = 1;
  auto j = Journal::open(d.path(), plan.id);
  Options o;
  o.jobs = 1;
  execute(plan, r, j, o);
  REQUIRE(r.start_order.size() == 4);
  CHECK(r.start_order[0] == "big");
  CHECK(r.start_order[1] == "big-idx");
  CHECK(r.start_order[2] == "medium");
  CHECK(r.start_order[3] == "small");
}

TEST_CASE("a failed step stops new work, lets running steps finish, and names the object", "[executor]") {
  TempDir d;
  auto plan = plan_of({mk("bad"), mk("slow"), mk("after-bad", {"bad"}), mk("later", {"slow"})});
  FakeRunner r;
  r.fail_ids = {"bad"};
  r.sleep_for = {{"bad", 2}, {"slow", 300}};  // bad fails while slow is still running
  auto j = Journal::open(d.path(), plan.id);
  Options o;
  o.jobs = 2;
  auto s = execute(plan, r, j, o);
  CHECK(s.run_status == "failed");
  REQUIRE(s.failures.size() == 1);
  CHECK(s.failures[0].object == "bad");
  CHECK(s.failures[0].sqlstate == "23505");
  CHECK(s.failures[0].error_kind == ErrorKind::database);
  CHECK(s.failures[0].hint.find("existing: truncate") != std::string::npos);
  CHECK(r.ran.count("slow") == 1);        // was running: finished
  CHECK(r.ran.count("after-bad") == 0);   // never started
  CHECK(r.ran.count("later") == 0);       // new work stopped
  CHECK(j.failed_steps() == std::set<std::string>{"bad"});
  CHECK(j.done_steps() == std::set<std::string>{"slow"});
}

TEST_CASE("a resumed run skips done steps and re-runs the failed and the rest", "[executor]") {
  TempDir d;
  auto plan = plan_of({mk("a"), mk("b", {"a"}), mk("c", {"b"})});
  {
    FakeRunner r;
    r.fail_ids = {"b"};
    auto j = Journal::open(d.path(), plan.id);
    Options o;
    auto s = execute(plan, r, j, o);
    CHECK(s.run_status == "failed");
  }
  FakeRunner r2;
  auto j2 = Journal::open(d.path(), plan.id);
  CHECK(j2.last_run() == 1);
  Options o;
  auto s2 = execute(plan, r2, j2, o);
  CHECK(s2.run_status == "ok");
  CHECK(s2.run == 2);
  CHECK(s2.done_before == 1);
  CHECK(r2.ran == std::set<std::string>{"b", "c"});
  CHECK(Journal::open(d.path(), plan.id).finished());
}

TEST_CASE("a step in flight when the process died is re-run and told so", "[executor][journal]") {
  TempDir d;
  auto plan = plan_of({mk("a"), mk("b", {"a"})});
  {
    auto j = Journal::open(d.path(), plan.id);
    j.append({"run-start", "", now_iso8601(), 1, 0, 0, 0, ""}, true);
    j.append({"start", "a", now_iso8601(), 1, 0, 0, 0, ""}, false);
    j.append({"done", "a", now_iso8601(), 1, 0, 0, 0, ""}, true);
    j.append({"start", "b", now_iso8601(), 1, 0, 0, 0, ""}, false);
    // killed here
  }
  FakeRunner r;
  auto j = Journal::open(d.path(), plan.id);
  CHECK(j.in_flight_steps() == std::set<std::string>{"b"});
  Options o;
  auto s = execute(plan, r, j, o);
  CHECK(s.run_status == "ok");
  CHECK(r.ran == std::set<std::string>{"b"});
  CHECK(r.in_flight_seen == std::set<std::string>{"b"});
}

TEST_CASE("cancellation stops running steps and leaves a valid journal", "[executor]") {
  TempDir d;
  auto plan = plan_of({mk("a"), mk("b"), mk("c", {"a", "b"})});
  FakeRunner r;
  r.block = true;
  std::atomic<bool> cancel{false};
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel = true;
  });
  Summary s;
  {
    auto j = Journal::open(d.path(), plan.id);
    Options o;
    o.jobs = 2;
    o.cancel = &cancel;
    s = execute(plan, r, j, o);
  }
  t.join();
  CHECK(s.run_status == "cancelled");
  CHECK(r.cancels == 2);
  CHECK(r.ran.empty());
  auto j = Journal::open(d.path(), plan.id);
  CHECK(j.truncated_bytes() == 0);
  CHECK(j.done_steps().empty());
  CHECK_FALSE(j.finished());
}

TEST_CASE("no-op steps complete without a worker", "[executor]") {
  TempDir d;
  Step a = mk("a");
  a.action = model::Action::no_op;
  auto plan = plan_of({a, mk("b", {"a"})});
  FakeRunner r;
  auto j = Journal::open(d.path(), plan.id);
  Options o;
  auto s = execute(plan, r, j, o);
  CHECK(s.run_status == "ok");
  CHECK(s.no_ops == 1);
  CHECK(r.ran == std::set<std::string>{"b"});
}

TEST_CASE("progress and step events are emitted in order", "[executor]") {
  TempDir d;
  auto plan = plan_of({mk("a"), mk("b", {"a"})});
  FakeRunner r;
  auto j = Journal::open(d.path(), plan.id);
  std::vector<std::string> seen;
  Options o;
  o.on_event = [&](const Event& e) {
    if (e.type == Event::Type::step_done) seen.push_back("done:" + e.step);
    if (e.type == Event::Type::run_end) seen.push_back("end:" + e.message);
  };
  execute(plan, r, j, o);
  CHECK(seen == std::vector<std::string>{"done:a", "done:b", "end:ok"});
}

TEST_CASE("journal: a torn tail is truncated and earlier records are kept", "[journal]") {
  TempDir d;
  {
    auto j = Journal::open(d.path(), "p1");
    j.append({"done", "s1", "t", 1, 5, 6, 7, ""}, true);
    j.append({"done", "s2", "t", 1, 0, 0, 0, ""}, true);
  }
  auto file = d.path() / "journal";
  std::string full = read_file(file);
  // a record cut in the middle, as if power failed during write()
  std::string torn = encode_record({"done", "s3", "t", 1, 0, 0, 0, ""});
  {
    int fd = ::open(file.c_str(), O_WRONLY | O_APPEND);
    REQUIRE(::write(fd, torn.data(), torn.size() / 2) > 0);
    ::close(fd);
  }
  auto j = Journal::open(d.path(), "p1");
  CHECK(j.truncated_bytes() == static_cast<std::int64_t>(torn.size() / 2));
  CHECK(j.done_steps() == std::set<std::string>{"s1", "s2"});
  CHECK(j.records()[0].rows == 5);
  CHECK(read_file(file) == full);  // the file itself was repaired
  // appending after repair works and reads back
  j.append({"done", "s3", "t", 1, 0, 0, 0, ""}, true);
  CHECK(Journal::open(d.path(), "p1").done_steps().size() == 3);
}

TEST_CASE("journal: a flipped byte in a record drops it and everything after", "[journal]") {
  TempDir d;
  {
    auto j = Journal::open(d.path(), "p1");
    j.append({"done", "s1", "t", 1, 0, 0, 0, ""}, true);
    j.append({"done", "s2", "t", 1, 0, 0, 0, ""}, true);
  }
  auto file = d.path() / "journal";
  std::string text = read_file(file);
  auto pos = text.rfind("s2");
  text[pos] = 'X';  // checksum no longer matches
  write_file_atomic(file, text);
  auto j = Journal::open(d.path(), "p1");
  CHECK(j.done_steps() == std::set<std::string>{"s1"});
  CHECK(j.truncated_bytes() > 0);
}

TEST_CASE("journal: another plan's journal is refused", "[journal]") {
  TempDir d;
  { auto j = Journal::open(d.path(), "p1"); }
  CHECK_THROWS_WITH(Journal::open(d.path(), "p2"), Catch::Contains("not the journal of plan p2"));
}

TEST_CASE("ready queue: parked steps come back, none is stranded", "[executor][queue]") {
  // 200 steps on the catalog lock, 100 of which also need table t; t is held first.
  std::vector<Step> steps;
  for (int i = 0; i < 200; ++i) {
    std::vector<model::TableLock> locks = {{"(catalog)", model::LockMode::exclusive}};
    if (i % 2) locks.push_back({"t", model::LockMode::exclusive});
    steps.push_back(mk("s" + std::to_string(i), {}, 200 - i, locks));
  }
  steps.push_back(mk("holder", {}, 1000, {{"t", model::LockMode::exclusive}}));
  model::Dag dag(steps);
  ReadyQueue q(dag);
  for (size_t i = 0; i < steps.size(); ++i) q.push(i);
  auto first = q.pop_runnable();
  REQUIRE(first);
  CHECK(dag.step(*first).id == "holder");  // longest critical path first
  q.acquire(*first);
  std::set<std::string> ran;
  // run one step at a time; release t only after a while
  for (int round = 0; round < 1000; ++round) {
    auto s = q.pop_runnable();
    if (!s) {
      if (first) {
        q.release(*first);
        first.reset();
        continue;
      }
      break;
    }
    q.acquire(*s);
    ran.insert(dag.step(*s).id);
    q.release(*s);
  }
  CHECK(ran.size() == 200);
  CHECK(q.parked_count() == 0);
}

TEST_CASE("a failed step keeps the kind of its error", "[executor]") {
  for (ErrorKind kind : {ErrorKind::io, ErrorKind::instance, ErrorKind::input}) {
    TempDir d;
    auto plan = plan_of({mk("write"), mk("after", {"write"})});
    FakeRunner r;
    r.fail_with = {{"write", kind}};
    auto j = Journal::open(d.path(), plan.id);
    auto s = execute(plan, r, j, Options{});
    INFO(to_string(kind));
    CHECK(s.run_status == "failed");
    REQUIRE(s.failures.size() == 1);
    CHECK(s.failures[0].error_kind == kind);
    CHECK(s.failures[0].message.find("No space left") != std::string::npos);
    CHECK(s.failures[0].hint == "free some space");
  }
}
