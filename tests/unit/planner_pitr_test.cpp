// The PointInTimeRecovery planner on fixtures: the backup choice for each kind of target, WAL
// continuity through a fake view of the archive, the recovery settings, and the no-op plan of a
// recovery that is already done. No server, no repository.
#include <catch2/catch.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "model/pitr_params.hpp"
#include "planner/pitr_planner.hpp"
#include "util/error.hpp"

using namespace pgr;
using Kind = config::RecoveryTarget::Kind;
namespace P = model::pitr_param;

namespace {

// An archive that is complete unless told which segments it lacks.
struct FakeWal : planner::WalArchiveView {
  std::vector<std::string> missing;
  std::string last = "000000010000000000000009";
  int calls = 0;
  repository::Continuity continuity(const std::string&, std::uint32_t, std::uint64_t, std::optional<std::uint64_t>,
                                    const std::string&, std::uint64_t) override {
    ++calls;
    repository::Continuity c;
    c.missing = missing;
    c.missing_count = missing.size();
    c.first_segment = "000000010000000000000002";
    c.last_segment = last;
    c.segments_checked = 8;
    c.target_timeline = 1;
    return c;
  }
};

planner::PhysicalBackup physical(const std::string& id, const std::string& start_lsn, const std::string& stop_lsn,
                                 const std::string& stop_time, double stop_epoch) {
  planner::PhysicalBackup b;
  b.backup.id = id;
  b.backup.policy = "prod";
  b.backup.kind = "physical";
  b.backup.bytes = 4096;
  b.backup.location = "/srv/repo/backups/prod/" + id;
  b.info.wal_cluster = "main";
  b.info.timeline = 1;
  b.info.start_lsn = start_lsn;
  b.info.stop_lsn = stop_lsn;
  b.info.stop_time = stop_time;
  b.info.stop_epoch = stop_epoch;
  b.info.superuser = "postgres";
  b.info.base_file = "base.tar.gz";
  b.info.wal_file = "pg_wal.tar.gz";
  b.info.next_xid = "1000";
  b.manifest_sha256 = "sha-" + id;
  return b;
}

struct Fixture {
  config::PointInTimeRecovery doc;
  FakeWal wal;
  planner::PitrFacts facts;
  Fixture() {
    doc.metadata.name = "before-drop";
    doc.spec.repository = "local";
    doc.spec.policy = "prod";
    doc.spec.target = {Kind::time, "2026-11-20T12:00:00Z"};
    doc.spec.action = config::RecoveryAction::promote;
    doc.spec.data_directory = "/srv/pg/restore";
    doc.spec.verify_sql = {"select true"};
    facts.document = &doc;
    facts.repository_path = "/srv/repo";
    // 2026-11-20T00:00:00Z is 1795132800 seconds after 1970.
    facts.backups = {physical("b1", "0/2000028", "0/2000100", "2026-11-20T00:00:00Z", 1795132800),
                     physical("b2", "0/6000028", "0/6000100", "2026-11-20T18:00:00Z", 1795132800 + 18 * 3600)};
    facts.wal = &wal;
    facts.executable = "/usr/bin/pgrecover";
    facts.settings_file = "/etc/pgrecover/it's.toml";
    facts.created_at = "2026-11-21T00:00:00.000Z";
  }
  model::Plan plan() { return planner::plan_recovery(facts); }
};

std::vector<std::string> ids(const model::Plan& p) {
  std::vector<std::string> out;
  for (const auto& s : p.steps) out.push_back(s.id);
  return out;
}

}  // namespace

TEST_CASE("pitr planner: the newest backup that ends before the target", "[planner][pitr]") {
  Fixture f;
  auto p = f.plan();
  CHECK(p.params.at(P::backup) == "b1");  // b2 ended after noon
  CHECK(p.fingerprints.at("backup") == "sha-b1");
  CHECK(p.source == "/srv/repo/backups/prod/b1");
  CHECK(ids(p) == std::vector<std::string>{"verify-backup", "data-directory", "extract", "recovery-settings",
                                           "server-start", "recovery-target", "verify", "promote"});
  const auto& conf = p.params.at(P::recovery_conf);
  CHECK(conf.find("recovery_target_time = '2026-11-20T12:00:00+00'") != std::string::npos);
  CHECK(conf.find("recovery_target_action = 'pause'") != std::string::npos);  // the action comes after verify
  CHECK(conf.find("archive_mode = off") != std::string::npos);
  // restore_command runs pgrecover itself with the settings file, for the backup's cluster
  CHECK(conf.rfind("restore_command = ", 0) == 0);
  CHECK(conf.find("/usr/bin/pgrecover") != std::string::npos);
  CHECK(conf.find("s.toml") != std::string::npos);
  CHECK(conf.find("wal fetch %f %p --repository") != std::string::npos);

  f.doc.spec.target = {Kind::time, "2026-11-21T00:00:00Z"};
  CHECK(f.plan().params.at(P::backup) == "b2");
  f.doc.spec.target = {Kind::lsn, "0/5000000"};
  CHECK(f.plan().params.at(P::backup) == "b1");
  f.doc.spec.target = {Kind::immediate, ""};
  CHECK(f.plan().params.at(P::backup) == "b2");
  f.doc.spec.target = {Kind::time, "2026-11-19T00:00:00Z"};
  CHECK_THROWS_WITH(f.plan(), Catch::Contains("no base backup of policy \"prod\" ends before the target"));
  f.facts.backups.clear();
  CHECK_THROWS_WITH(f.plan(), Catch::Contains("holds no physical backup of policy \"prod\""));
}

TEST_CASE("pitr planner: a recovery to the backup's end does not wait for its last segment to reach the archive",
          "[planner][pitr]") {
  // pg_basebackup --wal-method=stream does not wait for archiving: right after a backup (a
  // drill), the archive may lack the segment of the stop LSN, which pg_wal.tar holds up to there.
  Fixture f;
  f.facts.backups.resize(1);                       // b1: 0/2000028 .. 0/2000100, segment 2
  f.wal.missing = {"000000010000000000000002"};
  f.doc.spec.target = {Kind::immediate, ""};
  auto p = f.plan();
  CHECK(p.params.at(P::backup) == "b1");
  // A target past the stop LSN replays the rest of segment 2 from the archive: it must be there.
  f.doc.spec.target = {Kind::lsn, "0/2000200"};
  CHECK_THROWS_WITH(f.plan(), Catch::Contains("lacks segments between the backup b1 and the target: "
                                              "000000010000000000000002"));
}

TEST_CASE("pitr planner: a gap in the WAL before the target stops the plan", "[planner][pitr]") {
  Fixture f;
  f.doc.spec.target = {Kind::lsn, "0/5000000"};
  f.wal.missing = {"000000010000000000000004"};
  CHECK_THROWS_WITH(f.plan(), Catch::Contains("lacks segments between the backup b1 and the target: "
                                              "000000010000000000000004"));
  // Without a known end (a time target), the gap is a warning: replay stops at it.
  f.doc.spec.target = {Kind::time, "2026-11-20T12:00:00Z"};
  auto p = f.plan();
  REQUIRE(p.warnings.size() == 1);
  CHECK(p.warnings[0].find("lacks 000000010000000000000004") != std::string::npos);
}

TEST_CASE("pitr planner: the data directory must be empty unless moved aside", "[planner][pitr]") {
  Fixture f;
  f.facts.data_directory_empty = false;
  CHECK_THROWS_WITH(f.plan(), Catch::Contains("the data directory \"/srv/pg/restore\" is not empty"));
  f.doc.spec.move_aside_existing = true;
  CHECK(f.plan().find("data-directory")->action == model::Action::replace);
}

TEST_CASE("pitr planner: a finished recovery still in place plans nothing, the id names the inputs", "[planner][pitr]") {
  Fixture f;
  auto p = f.plan();
  CHECK(p.has_changes());
  CHECK(p.id == planner::pitr_plan_id(f.doc, f.facts.backups[0]));
  f.facts.data_directory_empty = false;
  f.facts.finished_run = p.id;
  auto done = f.plan();
  CHECK(done.id == p.id);
  CHECK_FALSE(done.has_changes());
  for (const auto& s : done.steps) CHECK(s.reason.find("done by run " + p.id) == 0);
  // Another target is another recovery.
  f.doc.spec.target = {Kind::time, "2026-11-20T12:30:00Z"};
  CHECK(planner::pitr_plan_id(f.doc, f.facts.backups[0]) != p.id);
}

TEST_CASE("pitr planner: target latest replays the whole archive as a standby and names the data-loss window",
          "[planner][pitr]") {
  struct DatedWal : FakeWal {
    std::string archived_at(const std::string& cluster, const std::string& name) override {
      return cluster == "main" && name == "000000010000000000000009" ? "2026-11-20T23:59:00.000Z" : "";
    }
  };
  Fixture f;
  DatedWal wal;
  f.facts.wal = &wal;
  f.doc.spec.target = {Kind::latest, ""};
  auto p = f.plan();
  CHECK(p.params.at(P::backup) == "b2");  // the newest backup, whatever its time
  CHECK(p.params.at(P::standby) == "true");
  CHECK(p.params.at(P::last_segment) == "000000010000000000000009");
  const auto& conf = p.params.at(P::recovery_conf);
  CHECK(conf.find("recovery_target") == conf.find("recovery_target_timeline"));  // no other recovery_target_*
  CHECK(conf.find("recovery_target_action") == std::string::npos);
  const auto* wait = p.find("recovery-target");
  REQUIRE(wait != nullptr);
  CHECK(wait->object == "latest (the end of the archived WAL)");
  CHECK_THAT(wait->reason, Catch::Contains("replays every segment up to 000000010000000000000009"));
  CHECK_THAT(wait->reason, Catch::Contains("data-loss window"));
  CHECK_THAT(wait->reason, Catch::Contains("2026-11-20T23:59:00.000Z"));

  // A gap: replay ends before it, and the plan says so.
  wal.missing = {"000000010000000000000007"};
  auto gap = f.plan();
  CHECK(gap.params.at(P::last_segment) == "000000010000000000000006");
  REQUIRE(gap.warnings.size() == 1);
  CHECK_THAT(gap.warnings[0], Catch::Contains("lacks 000000010000000000000007"));
  // Other targets are not standbys.
  f.doc.spec.target = {Kind::immediate, ""};
  wal.missing.clear();
  CHECK(f.plan().params.at(P::standby) == "false");
}

TEST_CASE("pitr planner: a name target must be a recorded restore point, its LSN chooses the backup", "[planner][pitr]") {
  Fixture f;
  f.doc.spec.target = {Kind::name, "before_v2"};
  CHECK_THROWS_WITH(f.plan(), Catch::Contains("restore point \"before_v2\" is not recorded") &&
                                  Catch::Contains("(known: none)"));
  repository::RestorePoint p;
  p.name = "before_v2";
  p.cluster = "main";
  p.lsn = "0/5000100";  // after b1 ended, before b2 ended
  p.timeline = 1;
  p.segment = "000000010000000000000005";
  p.created_at = "2026-11-20T10:00:00.000000Z";
  repository::RestorePoint other = p;
  other.name = "nightly_check";
  other.lsn = "0/7000000";
  f.facts.restore_points = {p, other};
  auto plan = f.plan();
  CHECK(plan.params.at(P::backup) == "b1");
  const auto* wait = plan.find("recovery-target");
  REQUIRE(wait != nullptr);
  CHECK_THAT(wait->reason, Catch::Contains("restore points recorded: before_v2 at 0/5000100"));
  CHECK_THAT(wait->reason, Catch::Contains("nightly_check at 0/7000000"));
  f.doc.spec.target = {Kind::name, "typo"};
  CHECK_THROWS_WITH(f.plan(), Catch::Contains("(known: before_v2, nightly_check)"));
  // the WAL up to the restore point must be complete: a gap before it fails the plan
  f.doc.spec.target = {Kind::name, "before_v2"};
  f.wal.missing = {"000000010000000000000004"};
  CHECK_THROWS_WITH(f.plan(), Catch::Contains("lacks segments between the backup b1 and the target"));
}

TEST_CASE("pitr planner: in place, the old directory's new name and its unarchived WAL are in the plan", "[planner][pitr]") {
  Fixture f;
  f.doc.spec.target = {Kind::latest, ""};
  f.doc.spec.move_aside_existing = true;
  f.facts.data_directory_empty = false;
  // b2 starts in segment 6; segment 3 is older than the backup and not needed.
  f.facts.unarchived_wal = {"000000010000000000000003", "00000001000000000000000A", "00000001000000000000000B",
                            "00000002.history"};
  auto p = f.plan();
  CHECK(p.params.at(P::moved_aside_to) == "/srv/pg/restore.pgrecover-20261121T000000");
  CHECK_THAT(p.find("data-directory")->reason, Catch::Contains("renamed to /srv/pg/restore.pgrecover-20261121T000000"));
  CHECK(nlohmann::json::parse(p.params.at(P::local_wal)) ==
        nlohmann::json({"00000001000000000000000A", "00000001000000000000000B", "00000002.history"}));
  const auto* local = p.find("local-wal");
  REQUIRE(local != nullptr);
  CHECK(local->object == "3 WAL file(s) from /srv/pg/restore.pgrecover-20261121T000000/pg_wal");
  CHECK_THAT(local->reason, Catch::Contains("00000001000000000000000A..00000002.history"));
  CHECK(p.find("recovery-settings")->depends_on == std::vector<std::string>{"local-wal"});
  // Replay must reach the newest local segment, not only the newest archived one.
  CHECK(p.params.at(P::last_segment) == "00000001000000000000000B");
  // Into an empty folder: nothing moves, no local WAL.
  f.facts.data_directory_empty = true;
  auto side = f.plan();
  CHECK(side.find("local-wal") == nullptr);
  CHECK(side.params.at(P::moved_aside_to).empty());
}

TEST_CASE("pitr planner: each tablespace gets a step saying where it goes, a busy original folder is refused", "[pitr]") {
  Fixture f;
  f.doc.spec.target = {Kind::immediate, ""};
  f.facts.backups.back().info.tablespaces = {{"16384", "fast", "/srv/ts/fast", "16384.tar.gz", 8192},
                                             {"16390", "slow", "/srv/ts/slow", "16390.tar.gz", 4096}};
  f.doc.spec.tablespace_mapping = {{"/srv/ts/fast", "/srv/restore-ts/fast"}};
  auto plan = planner::plan_recovery(f.facts);
  const model::Step* fast = nullptr;
  const model::Step* extract = nullptr;
  for (const auto& s : plan.steps) {
    if (s.id == "tablespace-16384") fast = &s;
    if (s.id == "extract") extract = &s;
  }
  REQUIRE(fast);
  REQUIRE(extract);
  CHECK(fast->object == "/srv/restore-ts/fast");
  CHECK(fast->reason.find("mapped from \"/srv/ts/fast\"") != std::string::npos);
  CHECK(std::count(extract->depends_on.begin(), extract->depends_on.end(), "tablespace-16390") == 1);
  auto params = nlohmann::json::parse(plan.params.at(P::tablespaces));
  REQUIRE(params.size() == 2);
  CHECK(params[1]["location"] == "/srv/ts/slow");  // not mapped: its original location, which is free

  f.facts.occupied_folders = {"/srv/ts/slow"};  // a live cluster's tablespace on this host
  try {
    planner::plan_recovery(f.facts);
    FAIL("a busy original location was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("tablespace \"slow\"") != std::string::npos);
    CHECK(e.hint().find("tablespace_mapping") != std::string::npos);
  }
  f.facts.occupied_folders.clear();
  f.doc.spec.tablespace_mapping = {{"/srv/ts/typo", "/srv/x"}};
  CHECK_THROWS_WITH(planner::plan_recovery(f.facts), Catch::Contains("/srv/ts/typo"));
}

TEST_CASE("pitr planner: in place, the old cluster's tablespace folders move aside with its data directory", "[pitr][in-place]") {
  Fixture f;
  f.doc.spec.target = {Kind::latest, ""};
  f.doc.spec.move_aside_existing = true;
  f.facts.data_directory_empty = false;
  f.facts.backups.back().info.tablespaces = {{"16384", "fast", "/srv/ts/fast", "16384.tar.gz", 8192},
                                             {"16390", "slow", "/srv/ts/slow", "16390.tar.gz", 4096}};
  f.facts.occupied_folders = {"/srv/ts/fast", "/srv/ts/slow"};
  f.facts.old_tablespace_links = {{"/srv/ts/fast", "16384"}, {"/srv/ts/slow", "16390"}};
  auto plan = f.plan();
  const auto* fast = plan.find("tablespace-16384");
  REQUIRE(fast != nullptr);
  CHECK(fast->action == model::Action::replace);
  CHECK_THAT(fast->reason, Catch::Contains("/srv/ts/fast is renamed to /srv/ts/fast.pgrecover-20261121T000000 (kept, "
                                           "never deleted) and the old data directory's pg_tblspc/16384 is pointed at it"));
  CHECK(fast->depends_on == std::vector<std::string>{"data-directory"});
  auto params = nlohmann::json::parse(plan.params.at(P::tablespaces));
  CHECK(params[1]["moved_aside_to"] == "/srv/ts/slow.pgrecover-20261121T000000");
  CHECK(params[1]["old_oid"] == "16390");
  // A busy folder the old data directory does not link to is someone else's: refused as before.
  f.facts.old_tablespace_links.erase("/srv/ts/slow");
  CHECK_THROWS_WITH(f.plan(), Catch::Contains("tablespace \"slow\""));
  // Not in place (an empty data directory): never moved, refused.
  f.facts.old_tablespace_links = {{"/srv/ts/fast", "16384"}, {"/srv/ts/slow", "16390"}};
  f.facts.data_directory_empty = true;
  CHECK_THROWS_WITH(f.plan(), Catch::Contains("which is not empty"));
}
