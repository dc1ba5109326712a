// "The server is gone": recovery of the newest base backup plus every archived WAL segment
// (target latest), against real servers. The source archives through `pgrecover wal push`; it is
// stopped for good before the recovery, as after losing the machine.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "support/harness.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

using namespace pgr;
using test::server_user;

namespace {

// <base>: the repository (the server user's), the settings file, and one folder per recovery.
test::Workspace& world() {
  static test::Workspace w("pgrecover-gone-test");
  return w;
}

std::string archive_command(const std::string& cluster) {
  return fmt::format("'{} --config {} wal push %p --repository local --cluster {}'", PGRECOVER_BINARY,
                     world().config.string(), cluster);
}

// SQL on a server given by its data directory (postmaster.pid says where it listens).
std::string sql_at(const fs::path& data_dir, const std::string& q) {
  instance::PostmasterInfo pm;
  REQUIRE(instance::read_postmaster_pid(data_dir, pm));
  auto c = pg::Connection::open(fmt::format("host={} port={} user=postgres dbname=postgres", pm.socket_dir, pm.port));
  auto r = c.exec(q);
  return r.rows() && r.cols() ? r.str(0, 0) : "";
}

// Switches to a new segment and waits until the archiver has pushed the old one.
std::string switch_and_wait(const fs::path& data_dir) {
  std::string segment = sql_at(data_dir, "SELECT pg_walfile_name(pg_switch_wal())");
  for (int i = 0; i < 600; ++i) {
    if (sql_at(data_dir, fmt::format("SELECT coalesce(last_archived_wal >= '{}', false)::text FROM pg_stat_archiver",
                                     segment)) == "true") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return segment;
}

void stop_server(const fs::path& data_dir, const char* mode = "immediate") {
  if (!fs::exists(data_dir / "postmaster.pid")) return;
  ProcessSpec ps;
  ps.argv = {(instance::find_bin_dir() / "pg_ctl").string(), "stop", "-D", data_dir.string(), "-m", mode, "-w"};
  ps.run_as = server_user();
  ps.cwd = "/";
  run_process(ps);
}

struct StopAtEnd {
  fs::path dir;
  ~StopAtEnd() { stop_server(dir); }
};

std::string policy_doc(const std::string& name, const std::string& conninfo, const std::string& cluster) {
  return fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: {}}}
spec:
  source: {{conninfo: "{}"}}
  method: physical
  repository: local
  cluster: {}
)", name, conninfo, cluster);
}

std::string latest_doc(const std::string& name, const std::string& policy, const fs::path& data_dir,
                       const std::string& extra = "") {
  return fmt::format(R"(---
apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {{name: {}}}
spec:
  from: {{policy: {}}}
  target: {{latest: true}}
  action: promote
  to: {{data_directory: "{}"}}
  timeout: 3m
{})", name, policy, data_dir.string(), extra);
}

}  // namespace

TEST_CASE("target latest recovers every archived commit of a lost server and names the data-loss window", "[pitr][latest]") {
  auto& w = world();
  instance::Options o;
  o.settings = {{"wal_level", "replica"}, {"archive_mode", "on"}, {"archive_command", archive_command("lost")}};
  auto source = std::make_unique<instance::Instance>(o);
  fs::path src_dd = source->data_dir();
  std::string conninfo = fmt::format("host={} port={} user=postgres dbname=postgres", source->socket_dir().string(), source->port());
  sql_at(src_dd, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)");
  fs::path policy = w.write("lost-policy.yaml", policy_doc("lost-physical", conninfo, "lost"));
  auto backup = w.pgrecover({"apply", "--auto-approve", policy.string()});
  INFO(backup.out << backup.err);
  REQUIRE(backup.exit_code == 0);
  // After the base backup: rows in two segments, both archived.
  sql_at(src_dd, "INSERT INTO t SELECT generate_series(11, 20)");
  switch_and_wait(src_dd);
  sql_at(src_dd, "INSERT INTO t SELECT generate_series(21, 30)");
  std::string last = switch_and_wait(src_dd);
  REQUIRE(repository::WalArchive(w.repo, "lost").find(last).has_value());
  source.reset();  // the server is gone (stopped and its folder removed)

  fs::path dd = w.folder("lost-recovered") / "data";
  StopAtEnd stop{dd};
  fs::path doc = w.write("lost-latest.yaml", policy_doc("lost-physical", conninfo, "lost") +
                                                latest_doc("lost-latest", "lost-physical", dd,
                                                           "  verify: {sql: [\"select count(*) = 30 from t\"]}\n"));
  auto plan = w.pgrecover({"plan", doc.string(), "--only", "lost-latest"});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  CHECK(plan.out.find("latest (the end of the archived WAL)") != std::string::npos);
  CHECK(plan.out.find("replays every segment up to " + last) != std::string::npos);
  CHECK(plan.out.find("data-loss window") != std::string::npos);

  auto apply = w.pgrecover({"apply", doc.string(), "--only", "lost-latest", "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(apply.err.find("the last transaction replayed committed at") != std::string::npos);
  CHECK(sql_at(dd, "SELECT count(*) FROM t") == "30");
  CHECK(sql_at(dd, "SELECT pg_is_in_recovery()::text") == "false");
  CHECK(sql_at(dd, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)") == "00000002");
  CHECK(sql_at(dd, "INSERT INTO t VALUES (31) RETURNING id") == "31");
  CHECK_FALSE(fs::exists(dd / "standby.signal"));
}

namespace {

// Drill folders in the temporary folder (others' tests may come and go meanwhile: compare with includes).
std::set<std::string> drill_folders() {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path())) {
    if (e.path().filename().string().rfind("pgrecover-drill-", 0) == 0) out.insert(e.path().string());
  }
  return out;
}

std::string drill_policy(const std::string& conninfo, const std::string& check) {
  return policy_doc("drilled-physical", conninfo, "drilled") +
         fmt::format("  schedule: {{every: 24h}}\n  verify:\n    drill:\n      every: 1h\n      heapallindexed: true\n      sql: [\"{}\"]\n", check);
}

}  // namespace

TEST_CASE("a physical drill recovers the base backup to consistency, runs the checks and pg_amcheck, records verified_at",
          "[drill]") {
  auto& w = world();
  instance::Options o;
  o.settings = {{"wal_level", "replica"}, {"archive_mode", "on"}, {"archive_command", archive_command("drilled")}};
  instance::Instance source(o);
  std::string conninfo = fmt::format("host={} port={} user=postgres dbname=postgres", source.socket_dir().string(), source.port());
  sql_at(source.data_dir(), "CREATE TABLE t (id int PRIMARY KEY, v text); CREATE INDEX ON t (v);"
                            "INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 1000) i");
  auto before = drill_folders();

  // A check that fails: the backup is taken, the drill fails, apply exits 1, nothing is verified.
  fs::path bad = w.write("drilled-bad.yaml", drill_policy(conninfo, "select count(*) = 7 from t"));
  auto plan = w.pgrecover({"plan", bad.string()});
  INFO(plan.out << plan.err);
  CHECK(plan.out.find("no backup of this policy was restored in a drill yet") != std::string::npos);
  auto failed = w.pgrecover({"apply", "--auto-approve", bad.string()});
  INFO(failed.out << failed.err);
  CHECK(failed.exit_code == 1);
  CHECK(failed.err.find("restore drill of backup drilled-physical/") != std::string::npos);
  CHECK(failed.err.find("select count(*) = 7 from t") != std::string::npos);
  auto repo = repository::Repository::open(w.repo);
  auto backups = repo.list("drilled-physical");
  REQUIRE(backups.size() == 1);
  CHECK(backups[0].verified_at.empty());
  auto v = repo.read_verification(backups[0]);
  CHECK(v.last_failure.find("drill:") == 0);
  auto after = drill_folders();  // the throwaway cluster is gone, its server stopped
  CHECK(std::includes(before.begin(), before.end(), after.begin(), after.end()));

  // The right check: the same backup is drilled again (no new one), checked with pg_amcheck, verified.
  fs::path good = w.write("drilled-good.yaml", drill_policy(conninfo, "select count(*) = 1000 from t"));
  auto ok = w.pgrecover({"--json", "apply", "--auto-approve", good.string()});
  INFO(ok.out << ok.err);
  REQUIRE(ok.exit_code == 0);
  CHECK((ok.out + ok.err).find("pg_amcheck --all --heapallindexed found no corruption") != std::string::npos);
  backups = repo.list("drilled-physical");
  REQUIRE(backups.size() == 1);
  CHECK_FALSE(backups[0].verified_at.empty());
  v = repo.read_verification(backups[0]);
  std::string run = v.drill_run;
  CHECK(run.rfind("pitr-", 0) == 0);
  auto drill_plan = nlohmann::json::parse(read_file(w.base.path() / "state" / "runs" / run / "plan.json"));
  std::string dd = drill_plan.at("params").at("data_directory");
  CHECK(dd.find("pgrecover-drill-") != std::string::npos);
  CHECK_FALSE(fs::exists(dd));
  CHECK_FALSE(fs::exists(fs::path(dd).parent_path()));
  // Verified within the hour: the next plan has nothing to do.
  CHECK(w.pgrecover({"plan", good.string(), "--detailed-exitcode"}).exit_code == 0);
}

TEST_CASE("in place: a crashed primary's data directory is moved aside and its unarchived WAL replayed", "[pitr][in-place]") {
  auto& w = world();
  instance::Options o;
  o.keep = true;  // the test stops it like a crash, and the recovery reuses its data directory
  o.settings = {{"wal_level", "replica"}, {"archive_mode", "on"}, {"archive_command", archive_command("inplace")}};
  fs::path folder, dd;
  std::string conninfo;
  {
    instance::Instance source(o);
    folder = source.folder();
    dd = source.data_dir();
    conninfo = fmt::format("host={} port={} user=postgres dbname=postgres", source.socket_dir().string(), source.port());
  }
  struct RemoveAtEnd {
    fs::path folder;
    ~RemoveAtEnd() { instance::destroy_folder(folder); }  // stops whatever runs in folder/data
  } remove{folder};
  sql_at(dd, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)");
  fs::path policy = w.write("inplace-policy.yaml", policy_doc("inplace-physical", conninfo, "inplace"));
  auto backup = w.pgrecover({"apply", "--auto-approve", policy.string()});
  INFO(backup.out << backup.err);
  REQUIRE(backup.exit_code == 0);
  sql_at(dd, "INSERT INTO t SELECT generate_series(11, 20)");
  switch_and_wait(dd);
  // Rows 21..30 are only in the current segment: never switched, never archived.
  // (synchronous_commit on: the throwaway instance turns it off, and the commit must be written)
  sql_at(dd, "SET synchronous_commit = on; INSERT INTO t SELECT generate_series(21, 30)");
  std::string current = sql_at(dd, "SELECT pg_walfile_name(pg_current_wal_insert_lsn())");
  fs::path doc = w.write("inplace.yaml", policy_doc("inplace-physical", conninfo, "inplace") + fmt::format(R"(---
apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {{name: inplace-latest}}
spec:
  from: {{policy: inplace-physical}}
  target: {{latest: true}}
  action: promote
  to: {{data_directory: "{}", move_aside_existing: true}}
  timeout: 3m
  verify: {{sql: ["select count(*) = 30 from t"]}}
)", dd.string()));
  // While the server runs, the plan refuses and touches nothing.
  auto running = w.pgrecover({"plan", doc.string(), "--only", "inplace-latest"});
  CHECK(running.exit_code == 1);
  CHECK(running.err.find("is running in \"" + dd.string() + "\"") != std::string::npos);
  CHECK(sql_at(dd, "SELECT count(*) FROM t") == "30");

  stop_server(dd, "immediate");  // the crash
  REQUIRE_FALSE(repository::WalArchive(w.repo, "inplace").find(current).has_value());
  auto plan = w.pgrecover({"plan", doc.string(), "--only", "inplace-latest", "--out", (w.base.path() / "inplace.plan").string()});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  auto saved = nlohmann::json::parse(read_file(w.base.path() / "inplace.plan"));
  std::string aside = saved.at("params").at("moved_aside_to");
  CHECK(aside.rfind(dd.string() + ".pgrecover-", 0) == 0);
  CHECK(plan.out.find("renamed to " + aside) != std::string::npos);
  CHECK(plan.out.find(current) != std::string::npos);  // the segment it keeps, by name

  auto apply = w.pgrecover({"apply", (w.base.path() / "inplace.plan").string()});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(sql_at(dd, "SELECT count(*) FROM t") == "30");
  CHECK(sql_at(dd, "SELECT pg_is_in_recovery()::text") == "false");
  // The old directory is kept, whole, beside it.
  CHECK(fs::exists(fs::path(aside) / "pg_wal" / current));
  CHECK(fs::exists(fs::path(aside) / "PG_VERSION"));
}
