// The apply-time estimate of a restore plan: the table data it loads over a measured rate.
#include <catch2/catch.hpp>

#include "executor/run_history.hpp"
#include "model/plan.hpp"
#include "planner/time_estimate.hpp"

using namespace pgr;

namespace {
model::Step data_step(std::string id, std::int64_t bytes, model::Action action) {
  model::Step s;
  s.id = std::move(id);
  s.kind = "table-data";
  s.action = action;
  s.estimate.bytes = bytes;
  return s;
}
}  // namespace

TEST_CASE("time estimate: loaded bytes over the measured rate, no-op steps and other kinds left out", "[planner]") {
  model::Plan p;
  p.kind = "restore";
  p.steps = {data_step("a", 3000, model::Action::create), data_step("b", 1000, model::Action::create),
             data_step("c", 50000, model::Action::no_op)};
  model::Step idx;
  idx.id = "i";
  idx.kind = "index";
  idx.estimate.bytes = 90000;
  p.steps.push_back(idx);
  planner::add_time_estimate(p, 100.0, "run X of orders at T");
  CHECK(p.params.at("estimated_seconds") == "40");
  CHECK(p.params.at("estimated_from") == "the throughput of run X of orders at T");
}

TEST_CASE("time estimate: none without a rate, without data to load, or for other plan kinds", "[planner]") {
  model::Plan p;
  p.kind = "restore";
  p.steps = {data_step("a", 3000, model::Action::create)};
  planner::add_time_estimate(p, 0, "nothing");
  CHECK(p.params.count("estimated_seconds") == 0);
  model::Plan nothing = p;
  nothing.steps = {data_step("a", 3000, model::Action::no_op)};
  planner::add_time_estimate(nothing, 100, "run");
  CHECK(nothing.params.count("estimated_seconds") == 0);
  model::Plan backup = p;
  backup.kind = "backup";
  planner::add_time_estimate(backup, 100, "run");
  CHECK(backup.params.count("estimated_seconds") == 0);
}

TEST_CASE("time estimate: the rate comes from the newest run that moved enough bytes to measure one", "[planner]") {
  auto run = [](std::string id, std::int64_t bytes, std::int64_t ms, std::string status = "ok") {
    executor::RunInfo r;
    r.id = std::move(id);
    r.kind = "restore";
    r.document = "doc";
    r.status = std::move(status);
    r.bytes = bytes;
    r.ms = ms;
    return r;
  };
  // newest first: a tiny run (fixed costs only), a failed big one, then a big one
  std::vector<executor::RunInfo> runs = {run("tiny", 54000, 5000), run("failed", 400 << 20, 1000, "failed"),
                                         run("big", 400 << 20, 20000)};
  auto t = executor::newest_throughput(runs, "restore");
  REQUIRE(t.has_value());
  CHECK(t->from.find("run big of doc") == 0);
  CHECK(t->bytes_per_second == Approx((400 << 20) / 20.0));
  runs.pop_back();
  CHECK_FALSE(executor::newest_throughput(runs, "restore").has_value());
}
