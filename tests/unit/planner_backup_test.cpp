// The BackupPolicy planner on fixtures: no server, no repository, only the facts app/ would
// gather. What is due (backup, drill), what retention deletes, which WAL goes.
#include <catch2/catch.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "config/policy_json.hpp"
#include "planner/backup_planner.hpp"

using namespace pgr;
using model::Action;
using namespace std::chrono_literals;

namespace {

std::chrono::sys_seconds at(int day, int hour = 0) {
  using namespace std::chrono;
  return sys_days{year{2026} / 11 / day} + hours{hour};
}

repository::BackupInfo backup(const std::string& id, std::chrono::sys_seconds started, const std::string& kind = "logical",
                              const std::string& verified = "") {
  repository::BackupInfo b;
  b.id = id;
  b.policy = "shop";
  b.kind = kind;
  b.started_at = repository::format_iso(started);
  b.bytes = 1000;
  b.verified_at = verified;
  return b;
}

struct Fixture {
  config::BackupPolicy policy;
  planner::BackupFacts facts;
  Fixture() {
    policy.metadata.name = "shop";
    policy.spec.source.conninfo = "host=db user=backup password=hunter2 dbname=shop";
    policy.spec.database = "shop";
    policy.spec.repository = "local";
    facts.policy = &policy;
    facts.repository = "local";
    facts.repository_path = "/srv/backups";
    facts.repository_fingerprint = "fp";
    facts.now = at(20, 12);
    facts.created_at = "2026-11-20T12:00:00.000Z";
  }
  model::Plan plan() { return planner::plan_backup_policy(facts); }
};

const model::Step& step(const model::Plan& p, const std::string& id) {
  const auto* s = p.find(id);
  INFO(id);
  REQUIRE(s != nullptr);
  return *s;
}

}  // namespace

TEST_CASE("backup planner: the first backup is due, and the plan holds no password", "[planner][backup]") {
  Fixture f;
  auto p = f.plan();
  CHECK(p.kind == "backup");
  CHECK(step(p, "backup:shop").action == Action::create);
  CHECK(step(p, "backup:shop").reason == "no backup of this policy yet");
  CHECK(p.source == "repository local (/srv/backups)");
  CHECK(p.target.conninfo.find("hunter2") == std::string::npos);
  CHECK(p.target.conninfo.find("host='db'") != std::string::npos);
  CHECK(model::to_json(p).dump().find("hunter2") == std::string::npos);
  auto policy = config::policy_from_json(nlohmann::json::parse(p.params.at("policy")));
  CHECK(policy.spec.database == "shop");
  CHECK(policy.spec.source.conninfo.find("hunter2") == std::string::npos);
}

TEST_CASE("backup planner: the schedule decides whether a backup is due", "[planner][backup]") {
  Fixture f;
  f.policy.spec.schedule_every = 24h;
  f.facts.backups = {backup("20261120T000000Z", at(20, 0))};
  auto p = f.plan();
  CHECK(step(p, "backup:shop").action == Action::no_op);
  CHECK(step(p, "backup:shop").reason == "newest backup 12h old, schedule every 24h");
  CHECK_FALSE(p.has_changes());

  f.facts.now = at(21, 1);
  auto later = f.plan();
  CHECK(step(later, "backup:shop").action == Action::create);
  CHECK(later.id != p.id);  // another set of actions is another plan
}

TEST_CASE("backup planner: retention counts the new backup and deletes only after it", "[planner][backup]") {
  Fixture f;
  f.policy.spec.keep_last = 2;
  f.facts.backups = {backup("20261117T000000Z", at(17)), backup("20261118T000000Z", at(18)),
                     backup("20261119T000000Z", at(19))};
  auto p = f.plan();
  // The new backup plus the newest existing one are the last two: two older ones go.
  CHECK(step(p, "delete:20261117T000000Z").action == Action::remove);
  CHECK(step(p, "delete:20261118T000000Z").action == Action::remove);
  CHECK(step(p, "delete:20261119T000000Z").action == Action::no_op);
  CHECK(step(p, "delete:20261117T000000Z").reason == "outside retention (keep_last 2)");
  const auto& deps = step(p, "delete:20261117T000000Z").depends_on;
  CHECK(std::find(deps.begin(), deps.end(), "backup:shop") != deps.end());
}

TEST_CASE("backup planner: a drill is due when no backup was drilled within drill.every", "[planner][backup]") {
  Fixture f;
  f.policy.spec.drill_every = 168h;
  f.policy.spec.schedule_every = 24h;
  f.facts.backups = {backup("20261120T000000Z", at(20, 0), "logical", "2026-11-10T00:00:00Z")};
  auto p = f.plan();
  CHECK(step(p, "backup:shop").action == Action::no_op);
  const auto& d = step(p, "drill:shop");
  CHECK(d.action == Action::run);
  CHECK(d.params.at("backup") == "20261120T000000Z");
  CHECK(d.reason == "last successful drill 10d ago, drill every 7d");

  f.facts.backups[0].verified_at = "2026-11-19T00:00:00Z";
  CHECK(step(f.plan(), "drill:shop").action == Action::no_op);

  // A backup being made now is the one drilled, and old ones go only after its drill.
  f.facts.now = at(22);
  f.policy.spec.keep_last = 1;
  f.facts.backups[0].verified_at = "";
  auto q = f.plan();
  CHECK(step(q, "drill:shop").params.at("backup") == "new");
  const auto& deps = step(q, "delete:20261120T000000Z").depends_on;
  CHECK(std::find(deps.begin(), deps.end(), "drill:shop") != deps.end());
}

TEST_CASE("backup planner: WAL older than the oldest kept base backup is deleted", "[planner][backup]") {
  Fixture f;
  f.policy.spec.method = config::BackupMethod::physical;
  f.policy.spec.cluster = "main";
  f.policy.spec.keep_last = 2;
  f.facts.backups = {backup("20261118T000000Z", at(18), "physical"), backup("20261119T000000Z", at(19), "physical")};
  repository::PhysicalInfo old_info, kept_info;
  old_info.wal_cluster = kept_info.wal_cluster = "main";
  old_info.timeline = kept_info.timeline = 1;
  old_info.start_lsn = "0/2000028";
  kept_info.start_lsn = "0/5000028";
  f.facts.physical = {{"20261118T000000Z", old_info}, {"20261119T000000Z", kept_info}};
  auto seg = [](const char* name) {
    repository::WalArchive::Entry e;
    e.name = e.stored_name = name;
    e.stored_bytes = 16u << 20;
    return e;
  };
  f.facts.wal_files["main"] = {seg("000000010000000000000002"), seg("000000010000000000000003"),
                               seg("000000010000000000000004"), seg("000000010000000000000005"),
                               seg("000000010000000000000006")};
  f.facts.warnings = {"archiving is failing on the source"};
  auto p = f.plan();
  CHECK(step(p, "delete:20261118T000000Z").action == Action::remove);
  const auto& w = step(p, "wal-delete:main");
  CHECK(w.action == Action::remove);
  CHECK(w.params.at("first_kept") == "000000010000000000000005");  // the kept backup's start segment stays
  CHECK(w.reason.find("3 WAL files") == 0);
  const auto& deps = w.depends_on;
  CHECK(std::find(deps.begin(), deps.end(), "delete:20261118T000000Z") != deps.end());
  CHECK(std::find(p.warnings.begin(), p.warnings.end(), "archiving is failing on the source") != p.warnings.end());

  // Nothing older than the oldest kept backup: no WAL step.
  f.facts.wal_files["main"].erase(f.facts.wal_files["main"].begin(), f.facts.wal_files["main"].begin() + 3);
  f.policy.spec.keep_last = 3;
  CHECK(f.plan().find("wal-delete:main") == nullptr);
}

TEST_CASE("backup planner: a source promoted since the newest base backup gets a new one, schedule or not",
          "[planner][backup]") {
  Fixture f;
  f.policy.spec.method = config::BackupMethod::physical;
  f.policy.spec.cluster = "main";
  f.policy.spec.schedule_every = std::chrono::hours(24);
  f.facts.backups = {backup("20261119T000000Z", at(19), "physical")};
  repository::PhysicalInfo info;
  info.wal_cluster = "main";
  info.timeline = 1;
  info.start_lsn = "0/2000028";
  f.facts.physical = {{"20261119T000000Z", info}};
  f.facts.now = at(19) + std::chrono::hours(1);
  f.facts.source_timeline = 1;
  CHECK(step(f.plan(), "backup:shop").action == Action::no_op);  // an hour old, schedule 24h
  f.facts.source_timeline = 2;
  auto promoted = f.plan();  // kept alive: step() returns a reference into it
  const auto& b = step(promoted, "backup:shop");
  CHECK(b.action == Action::create);
  CHECK_THAT(b.reason, Catch::Contains("the source writes on timeline 2 (promoted since), the newest base backup is from timeline 1"));
}

TEST_CASE("backup planner: a physical policy's drill is due like a logical one's, and drills a new backup after it",
          "[planner][backup]") {
  Fixture f;
  f.policy.spec.method = config::BackupMethod::physical;
  f.policy.spec.cluster = "main";
  f.policy.spec.schedule_every = std::chrono::hours(48);
  f.policy.spec.drill_every = std::chrono::hours(24);
  f.facts.backups = {backup("20261119T000000Z", at(19), "physical")};
  auto p = f.plan();
  const auto& d = step(p, "drill:shop");
  CHECK(d.action == Action::run);
  CHECK(d.params.at("backup") == "20261119T000000Z");
  CHECK(p.warnings.empty());
  // Drilled an hour ago: not due.
  f.facts.backups = {backup("20261119T000000Z", at(19), "physical", repository::format_iso(at(20, 11)))};
  CHECK(step(f.plan(), "drill:shop").action == Action::no_op);
  // A backup is due: the drill waits for it and drills it.
  f.policy.spec.schedule_every = std::chrono::hours(24);
  f.policy.spec.drill_every = std::chrono::hours(1);
  auto q = f.plan();
  const auto& nd = step(q, "drill:shop");
  CHECK(nd.action == Action::run);
  CHECK(nd.params.at("backup") == "new");
  CHECK(nd.depends_on == std::vector<std::string>{"backup:shop"});
}
