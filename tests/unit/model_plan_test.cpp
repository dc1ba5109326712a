#include <catch2/catch.hpp>

#include "model/dag.hpp"
#include "model/plan.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace pgr;
using namespace pgr::model;

namespace {
Step mk(std::string id, std::vector<std::string> deps = {}, std::int64_t bytes = 0) {
  Step s;
  s.id = id;
  s.kind = "table-data";
  s.object = id;
  s.depends_on = std::move(deps);
  s.estimate.bytes = bytes;
  return s;
}
}  // namespace

TEST_CASE("a plan survives a JSON round trip unchanged", "[model]") {
  Plan p;
  p.id = "abc";
  p.created_at = "2026-11-21T00:00:00Z";
  p.kind = "restore";
  p.document = "orders";
  p.annotations = {{"ticket", "CHG-1"}};
  p.fingerprints = {{"archive", "123"}};
  p.target = {"staging", "", "shop"};
  p.warnings = {"w"};
  Step s = mk("a");
  s.locks = {{"\"public\".\"t\"", LockMode::exclusive}};
  s.params = {{"sql", "select 1"}};
  s.toc_id = 42;
  s.action = Action::no_op;
  p.steps = {s, mk("b", {"a"}, 10)};
  Plan back = plan_from_json(to_json(p));
  CHECK(back == p);
  CHECK(to_json(p)["summary"]["no-op"] == 1);
  CHECK(to_json(p)["summary"]["create"] == 1);
}

TEST_CASE("a damaged plan file is an input error naming the field", "[model]") {
  TempDir d;
  write_file_atomic(d.path() / "p.json", "{\"format_version\":1,\"id\":\"x\"}");
  CHECK_THROWS_WITH(load_plan((d.path() / "p.json").string()), Catch::Contains("created_at"));
  write_file_atomic(d.path() / "q.json", "{not json");
  CHECK_THROWS_WITH(load_plan((d.path() / "q.json").string()), Catch::Contains("invalid JSON"));
  write_file_atomic(d.path() / "r.json", "{\"format_version\":99,\"id\":\"x\",\"created_at\":\"\",\"kind\":\"restore\",\"steps\":[]}");
  CHECK_THROWS_WITH(load_plan((d.path() / "r.json").string()), Catch::Contains("newer"));
}

TEST_CASE("the DAG orders dependencies first and rejects cycles and unknown ids", "[model][dag]") {
  std::vector<Step> steps = {mk("c", {"b"}), mk("b", {"a"}), mk("a")};
  sort_steps(steps);
  CHECK(steps[0].id == "a");
  CHECK(steps[1].id == "b");
  CHECK(steps[2].id == "c");
  std::vector<Step> cyc = {mk("x", {"y"}), mk("y", {"x"}), mk("z")};
  CHECK_THROWS_WITH(Dag(cyc), Catch::Contains("cycle") && Catch::Contains("x") && Catch::Contains("y"));
  std::vector<Step> unknown = {mk("x", {"nope"})};
  CHECK_THROWS_WITH(Dag(unknown), Catch::Contains("nope"));
  std::vector<Step> dup = {mk("x"), mk("x")};
  CHECK_THROWS_WITH(Dag(dup), Catch::Contains("two steps"));
}

TEST_CASE("critical path weighs the longest chain of bytes", "[model][dag]") {
  // big (100) -> idx (100); small (10) alone
  std::vector<Step> steps = {mk("small", {}, 10), mk("big", {}, 100), mk("idx", {"big"}, 100)};
  Dag dag(steps);
  CHECK(dag.critical_path(dag.index_of("big")) == 200);
  CHECK(dag.critical_path(dag.index_of("small")) == 10);
  CHECK(dag.critical_path(dag.index_of("idx")) == 100);
}
