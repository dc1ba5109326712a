// before: {restore_point: NAME} of Restore and PointInTimeRecovery documents: which server gets
// the restore point and which repository records it (resolved when the documents load, with
// errors at their lines), and the planner's step: first in the DAG, refused for a name already
// recorded or a server that cannot keep it. No server, no repository.
#include <catch2/catch.hpp>

#include "config/documents.hpp"
#include "model/restore_point_params.hpp"
#include "planner/restore_point_step.hpp"
#include "util/error.hpp"

using namespace pgr;
using namespace pgr::config;
namespace R = model::restore_point_param;

namespace {

Settings settings() {
  Settings s;
  s.file = "/etc/pgrecover.toml";
  s.connections["prod"] = ConnectionSettings{"prod", "host=db", "", ""};
  s.connections["staging"] = ConnectionSettings{"staging", "host=staging", "", ""};
  s.repositories["local"] = RepositorySettings{"local", "/var/lib/pgrecover"};
  s.repositories["offsite"] = RepositorySettings{"offsite", "/mnt/offsite"};
  return s;
}

const std::string kPolicies = R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {name: prod-physical}
spec: {source: {connection: prod}, method: physical, repository: local, cluster: main}
---
apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {name: shop-nightly}
spec: {source: {connection: prod}, database: shop, repository: local}
---
)";

std::string restore_into(const std::string& connection, const std::string& before) {
  return kPolicies + R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {name: chg-1}
spec:
  from: {policy: shop-nightly}
  to: {connection: )" + connection + R"(, database: shop}
  existing: replace
  before: )" + before + "\n";
}

ValidationReport check(const std::string& yaml) { return check_text(yaml, "t.yaml", settings()); }

}  // namespace

TEST_CASE("config: before.restore_point of a Restore into a physical policy's source is made there and recorded", "[config][restore-point]") {
  auto r = check(restore_into("prod", "{restore_point: before_chg_1}"));
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.ok());
  const auto& b = r.documents.find_restore("chg-1")->spec.before;
  CHECK(b.name == "before_chg_1");
  CHECK(b.resolved_policy == "prod-physical");
  CHECK(b.server.connection == "prod");
  CHECK(b.repository == "local");
  CHECK(b.cluster == "main");
  CHECK(b.recorded());
  CHECK(b.copies.empty());
}

TEST_CASE("config: before.restore_point of a policy with copies is recorded in every copy", "[config][restore-point]") {
  std::string yaml = restore_into("prod", "{restore_point: before_chg_1}");
  auto at = yaml.find("repository: local, cluster: main");
  REQUIRE(at != std::string::npos);
  yaml.replace(at, std::string("repository: local").size(), "repositories: [local, offsite]");
  auto r = check(yaml);
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.ok());
  const auto& b = r.documents.find_restore("chg-1")->spec.before;
  CHECK(b.repository == "local");
  CHECK(b.copies == std::vector<std::string>{"offsite"});
}

TEST_CASE("config: before.restore_point of a Restore into another server is made on the target and not recorded", "[config][restore-point]") {
  auto r = check(restore_into("staging", "{restore_point: before_chg_1}"));
  REQUIRE(r.ok());
  const auto& b = r.documents.find_restore("chg-1")->spec.before;
  CHECK(b.server.connection == "staging");
  CHECK_FALSE(b.recorded());
  CHECK(b.resolved_policy.empty());
}

TEST_CASE("config: before.policy must be a physical policy, and the name follows PostgreSQL's rules", "[config][restore-point]") {
  auto logical = check(restore_into("staging", "{restore_point: x1, policy: shop-nightly}"));
  REQUIRE(logical.problems.size() == 1);
  CHECK(logical.problems[0].where.line == 18);
  CHECK(logical.problems[0].message.find("spec.before.policy: BackupPolicy \"shop-nightly\" takes logical backups") != std::string::npos);
  auto unknown = check(restore_into("staging", "{restore_point: x1, policy: prod-physicl}"));
  REQUIRE(unknown.problems.size() == 1);
  CHECK(unknown.problems[0].message.find("did you mean \"prod-physical\"") != std::string::npos);
  auto bad = check(restore_into("prod", "{restore_point: \"no spaces\"}"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.problems[0].where.line == 18);
  CHECK(bad.problems[0].message.find("restore_point") != std::string::npos);
}

TEST_CASE("config: before.restore_point of a PointInTimeRecovery goes to its own policy's source", "[config][restore-point]") {
  auto r = check(kPolicies + R"(apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {name: side}
spec:
  from: {policy: prod-physical}
  target: {latest: true}
  to: {data_directory: /srv/side}
  before: {restore_point: before_side}
)");
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.ok());
  const auto& b = r.documents.find_recovery("side")->spec.before;
  CHECK(b.server.connection == "prod");
  CHECK(b.repository == "local");
  CHECK(b.cluster == "main");
}

namespace {

model::Plan two_roots() {
  model::Plan plan;
  model::Step a, b, c;
  a.id = "database:shop";
  b.id = "role:app";
  c.id = "table-data:orders";
  c.depends_on = {"database:shop"};
  for (auto* s : {&a, &b, &c}) s->action = model::Action::create;
  plan.steps = {a, b, c};
  return plan;
}

RestorePointBefore recorded_before() {
  RestorePointBefore b;
  b.name = "before_chg_1";
  b.resolved_policy = "prod-physical";
  b.server.connection = "prod";
  b.repository = "local";
  b.cluster = "main";
  return b;
}

}  // namespace

TEST_CASE("planner: the restore-point step comes first and every root step waits for it", "[planner][restore-point]") {
  auto before = recorded_before();
  auto plan = two_roots();
  planner::RestorePointFacts f;
  f.before = &before;
  f.document = "Restore \"chg-1\"";
  f.wal_level = "replica";
  f.archive_mode = "on";
  planner::add_restore_point_step(plan, f);
  REQUIRE(plan.steps.size() == 4);
  CHECK(plan.steps[0].id == "restore-point");
  CHECK(plan.steps[0].action == model::Action::create);
  CHECK(plan.steps[0].object == "restore point \"before_chg_1\" on connection prod");
  CHECK(plan.steps[0].reason.find("cluster \"main\" in repository \"local\"") != std::string::npos);
  CHECK(plan.steps[1].depends_on == std::vector<std::string>{"restore-point"});
  CHECK(plan.steps[2].depends_on == std::vector<std::string>{"restore-point"});
  CHECK(plan.steps[3].depends_on == std::vector<std::string>{"database:shop"});
  CHECK(plan.params.at(R::name) == "before_chg_1");
  CHECK(plan.params.at(R::cluster) == "main");
  CHECK(plan.params.at(R::copies).empty());
  CHECK(plan.warnings.empty());

  before.copies = {"offsite", "tape"};
  auto with_copies = two_roots();
  planner::add_restore_point_step(with_copies, f);
  CHECK(with_copies.params.at(R::copies) == R"(["offsite","tape"])");
  CHECK(with_copies.steps[0].reason.find("(and in the policy's copies \"offsite\", \"tape\")") != std::string::npos);
}

TEST_CASE("planner: a restore point name already recorded is refused, naming it", "[planner][restore-point]") {
  auto before = recorded_before();
  auto plan = two_roots();
  planner::RestorePointFacts f;
  f.before = &before;
  f.document = "Restore \"chg-1\"";
  repository::RestorePoint old;
  old.name = "before_chg_1";
  old.lsn = "0/3000090";
  old.created_at = "2026-11-30T10:00:00Z";
  f.recorded = {old};
  try {
    planner::add_restore_point_step(plan, f);
    FAIL("not refused");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::input);
    CHECK(std::string(e.what()).find("\"before_chg_1\" is already recorded for cluster \"main\"") != std::string::npos);
  }
  CHECK(plan.steps.size() == 3);
  // A finished run recorded it: the step is a no-op, not refused.
  f.already_done = true;
  planner::add_restore_point_step(plan, f);
  CHECK(plan.steps[0].action == model::Action::no_op);
}

TEST_CASE("planner: a restore point on a server that cannot keep it is refused or warned about", "[planner][restore-point]") {
  auto before = recorded_before();
  planner::RestorePointFacts f;
  f.before = &before;
  f.document = "Restore \"chg-1\"";
  auto plan = two_roots();
  f.wal_level = "minimal";
  CHECK_THROWS_WITH(planner::add_restore_point_step(plan, f), Catch::Contains("wal_level = minimal"));
  f.wal_level = "replica";
  f.archive_mode = "off";
  CHECK_THROWS_WITH(planner::add_restore_point_step(plan, f), Catch::Contains("archive_mode is off on the source of policy \"prod-physical\""));
  // Not recorded (a Restore's target that no physical policy backs up): made, with a warning.
  RestorePointBefore target;
  target.name = "before_chg_1";
  target.server.conninfo = "host=staging password=secret";
  f.before = &target;
  planner::add_restore_point_step(plan, f);
  CHECK(plan.steps[0].object == "restore point \"before_chg_1\" on conninfo \"host='staging'\"");
  REQUIRE(plan.warnings.size() == 1);
  CHECK(plan.warnings[0].find("recorded nowhere") != std::string::npos);
  CHECK(plan.params.at(R::repository).empty());
  CHECK(plan.params.at(R::conninfo).find("secret") == std::string::npos);
}
