// Several copies (spec.repositories) in the backup planner, on fixtures: the copy steps and what
// they wait for, each repository's own retention, catch-up copies, the copy count in the plan,
// and the 3-2-1 warnings.
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

repository::BackupInfo backup(const std::string& id, std::chrono::sys_seconds started) {
  repository::BackupInfo b;
  b.id = id;
  b.policy = "shop";
  b.kind = "logical";
  b.started_at = repository::format_iso(started);
  b.bytes = 1000;
  return b;
}

struct Fixture {
  config::BackupPolicy policy;
  planner::BackupFacts facts;
  Fixture() {
    policy.metadata.name = "shop";
    policy.spec.source.conninfo = "host=db user=backup dbname=shop";
    policy.spec.database = "shop";
    policy.spec.repository = "local";
    policy.spec.repositories = {"local", "offsite"};
    facts.policy = &policy;
    facts.repository = "local";
    facts.repository_path = "/srv/backups";
    facts.repository_fingerprint = "fp";
    planner::CopyFacts c;
    c.repository = "offsite";
    c.type = "s3";
    c.where = "s3://bucket/prod";
    c.fingerprint = "fp2";
    facts.copies.push_back(c);
    facts.now = at(20, 12);
    facts.created_at = "2026-11-20T12:00:00.000Z";
  }
  planner::CopyFacts& offsite() { return facts.copies.front(); }
  model::Plan plan() { return planner::plan_backup_policy(facts); }
};

const model::Step& step(const model::Plan& p, const std::string& id) {
  const auto* s = p.find(id);
  INFO(id);
  REQUIRE(s != nullptr);
  return *s;
}

bool depends(const model::Step& s, const std::string& on) {
  return std::find(s.depends_on.begin(), s.depends_on.end(), on) != s.depends_on.end();
}

}  // namespace

TEST_CASE("backup copies: the plan says how many copies exist and copies the new backup after it is taken",
          "[planner][backup][copies]") {
  Fixture f;
  auto p = f.plan();
  CHECK(p.source == "2 copies: local (posix /srv/backups), offsite (s3://bucket/prod)");
  const auto& c = step(p, "copy:offsite");
  CHECK(c.kind == "backup-copy");
  CHECK(c.action == Action::create);
  CHECK(c.params.at("repository") == "offsite");
  CHECK(c.params.at("backup") == "new");
  CHECK(depends(c, "backup:shop"));
  CHECK(p.fingerprints.at("repository:offsite") == "fp2");
  // The copy list survives the plan's policy JSON (apply reads it back).
  auto policy = config::policy_from_json(nlohmann::json::parse(p.params.at("policy")));
  CHECK(policy.spec.repositories == std::vector<std::string>{"local", "offsite"});

  // No backup due: no copy step, and nothing to catch up when the copy holds everything.
  f.policy.spec.schedule_every = 24h;
  f.facts.backups = {backup("20261120T000000Z", at(20))};
  f.offsite().backups = f.facts.backups;
  auto quiet = f.plan();
  CHECK(quiet.find("copy:offsite") == nullptr);
  CHECK_FALSE(quiet.has_changes());
}

TEST_CASE("backup copies: a kept backup the copy lacks is copied again, the source deletes wait for every copy",
          "[planner][backup][copies]") {
  Fixture f;
  f.policy.spec.keep_last = 2;
  f.facts.backups = {backup("20261117T000000Z", at(17)), backup("20261118T000000Z", at(18)),
                     backup("20261119T000000Z", at(19))};
  // The copy of the 19th failed in an earlier apply; offsite still has the 17th and 18th.
  f.offsite().backups = {backup("20261117T000000Z", at(17)), backup("20261118T000000Z", at(18))};
  auto p = f.plan();
  const auto& catch_up = step(p, "copy:offsite:20261119T000000Z");
  CHECK(catch_up.action == Action::create);
  CHECK(catch_up.params.at("backup") == "20261119T000000Z");
  CHECK(p.find("copy:offsite:20261117T000000Z") == nullptr);  // outside offsite's retention: not copied back
  // Each repository by its own retention: offsite keeps the new one and the 19th.
  CHECK(step(p, "delete:offsite:20261117T000000Z").action == Action::remove);
  CHECK(step(p, "delete:offsite:20261118T000000Z").action == Action::remove);
  CHECK(step(p, "delete:offsite:20261118T000000Z").params.at("repository") == "offsite");
  CHECK(depends(step(p, "delete:offsite:20261118T000000Z"), "copy:offsite"));
  CHECK(depends(step(p, "delete:offsite:20261118T000000Z"), "copy:offsite:20261119T000000Z"));
  // The first repository's deletes wait for the copies: a failed copy keeps them.
  const auto& d = step(p, "delete:20261118T000000Z");
  CHECK(d.action == Action::remove);
  CHECK(d.params.count("repository") == 0);
  CHECK(depends(d, "copy:offsite"));
  CHECK(depends(d, "copy:offsite:20261119T000000Z"));
  CHECK(step(p, "delete:20261119T000000Z").action == Action::no_op);
}

TEST_CASE("backup copies: an unreachable copy gets the new backup's copy and loses nothing", "[planner][backup][copies]") {
  Fixture f;
  f.policy.spec.keep_last = 1;
  f.facts.backups = {backup("20261119T000000Z", at(19))};
  f.offsite().unreachable = "could not reach the S3 endpoint";
  auto p = f.plan();
  CHECK(step(p, "copy:offsite").action == Action::create);
  CHECK(step(p, "copy:offsite").reason.find("could not be listed") != std::string::npos);
  CHECK(depends(step(p, "delete:20261119T000000Z"), "copy:offsite"));
  for (const auto& s : p.steps) CHECK(s.id.rfind("delete:offsite:", 0) != 0);
}

TEST_CASE("backup copies: 3-2-1 warnings when every copy shares the source's filesystem or host",
          "[planner][backup][copies]") {
  using planner::RepositoryPlacement;
  RepositoryPlacement local{"local", "/srv/a", "posix", true, true};
  RepositoryPlacement second{"second", "/mnt/b", "posix", false, true};
  RepositoryPlacement offsite{"offsite", "s3://bucket/p", "s3", false, false, true};  // encrypted
  // One repository on the data directory's filesystem: the existing warning.
  auto one = planner::placement_warnings({local}, "/var/lib/pg");
  REQUIRE(one.size() == 1);
  CHECK(one[0].find("repository \"local\" is on the same filesystem as the source's data directory (/var/lib/pg)") == 0);
  // Two copies, both on it.
  auto both = planner::placement_warnings({local, {"copy", "/srv/c", "posix", true, true}}, "/var/lib/pg");
  REQUIRE(both.size() == 1);
  CHECK(both[0].find("every copy (local, copy) is on the same filesystem") == 0);
  CHECK(both[0].find("3-2-1") != std::string::npos);
  // Two copies on other disks of the source's host.
  auto host = planner::placement_warnings({local, second}, "/var/lib/pg");
  REQUIRE(host.size() == 1);
  CHECK(host[0].find("all 2 copies (local: /srv/a, second: /mnt/b) are on this host") == 0);
  // One copy off the host: no warning.
  CHECK(planner::placement_warnings({local, offsite}, "/var/lib/pg").empty());
  CHECK(planner::placement_warnings({second, offsite}, "/var/lib/pg").empty());
  // The off-site copy in an object store without a key: a warning naming it.
  RepositoryPlacement clear = offsite;
  clear.encrypted = false;
  auto plain = planner::placement_warnings({local, clear}, "/var/lib/pg");
  REQUIRE(plain.size() == 1);
  CHECK(plain[0].find("repository \"offsite\" (s3://bucket/p) is an object store without client-side encryption") == 0);
}
