// `pgrecover check` against real servers: exit 0 when every policy is within its bounds, exit 5
// naming the policy when the newest backup is older than its schedule or archive_command has been
// failing, and Prometheus output that a scraper would take.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "instance/instance.hpp"
#include "repository/restore_points.hpp"
#include "support/harness.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

using namespace pgr;

namespace {

test::Workspace& world() {
  static test::Workspace w("pgrecover-check-test");
  return w;
}

std::string logical_policy(const std::string& name, const std::string& db, const std::string& every) {
  return fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: {}}}
spec:
  source: {{conninfo: "{}"}}
  database: {}
  repository: local
  schedule: {{every: {}}}
)", name, test::server_conninfo(), db, every);
}

std::string physical_policy(const std::string& name, const std::string& conninfo, const std::string& cluster) {
  return fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: {}}}
spec:
  source: {{conninfo: "{}"}}
  method: physical
  repository: local
  cluster: {}
  schedule: {{every: 24h}}
  rpo: 1h
)", name, conninfo, cluster);
}

std::string sql(instance::Instance& s, const std::string& q) {
  auto r = s.run_client({"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", q});
  if (!r.ok()) FAIL(describe_failure("psql", r));
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

}  // namespace

TEST_CASE("check: a fresh backup is within its schedule (exit 0), once older than the schedule, exit 5 names the policy",
          "[check]") {
  auto& w = world();
  std::string db = test::fresh_database("chk");
  test::psql(db, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
  fs::path fresh = w.write("fresh.yaml", logical_policy("fresh-nightly", db, "24h"));
  auto backup = w.pgrecover({"apply", "--auto-approve", fresh.string()});
  INFO(backup.out << backup.err);
  REQUIRE(backup.exit_code == 0);

  auto ok = w.pgrecover({"check", fresh.string()});
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("OK  policy fresh-nightly") != std::string::npos);
  CHECK(ok.out.find("All 1 policy is within bounds.") != std::string::npos);

  // The same backups judged against a 2-second schedule, 3 seconds later.
  fs::path tight = w.write("tight.yaml", logical_policy("fresh-nightly", db, "2s"));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto late = w.pgrecover({"check", tight.string()});
  INFO(late.out << late.err);
  CHECK(late.exit_code == 5);
  CHECK(late.out.find("OUT OF BOUNDS: policy fresh-nightly") != std::string::npos);
  CHECK(late.out.find("schedule every 2s") != std::string::npos);
  auto json = w.pgrecover({"check", tight.string(), "--json"});
  CHECK(json.exit_code == 5);
  auto j = nlohmann::json::parse(json.out);
  CHECK(j["format_version"] == 1);
  CHECK(j["policies"][0]["policy"] == "fresh-nightly");
  CHECK(j["policies"][0]["checks"][0]["check"] == "backup_age");
  CHECK(j["policies"][0]["checks"][0]["status"] == "out_of_bounds");

  // A policy with no backup at all is out of bounds too; a broken document is an error (exit 1).
  fs::path none = w.write("none.yaml", logical_policy("never-run", db, "24h"));
  auto never = w.pgrecover({"check", none.string()});
  CHECK(never.exit_code == 5);
  CHECK(never.out.find("no good backup in repository \"local\"") != std::string::npos);
  fs::path broken = w.write("broken.yaml", "apiVersion: pgrecover/v1\nkind: BackupPolicy\nmetadata: {name: x}\nspec: {rpo: soon}\n");
  auto bad = w.pgrecover({"check", broken.string()});
  CHECK(bad.exit_code == 1);
  fs::path empty = w.base.path() / "no-policies";
  fs::create_directories(empty);
  auto nothing = w.pgrecover({"check", empty.string()});
  CHECK(nothing.exit_code == 1);
  CHECK(nothing.err.find("no BackupPolicy among the documents") != std::string::npos);
}

TEST_CASE("check: archive_command failing is out of bounds, a healthy archiving source is within (with Prometheus output)",
          "[check]") {
  auto& w = world();
  // A source whose archive_command cannot work: the settings file it names does not exist.
  instance::Options o;
  o.settings = {{"wal_level", "replica"},
                {"archive_mode", "on"},
                {"archive_timeout", "60"},
                {"archive_command", fmt::format("'{} --config {}/missing.toml wal push %p --repository local --cluster failing'",
                                                PGRECOVER_BINARY, w.base.path().string())}};
  instance::Instance failing(o);
  sql(failing, "CREATE TABLE t AS SELECT generate_series(1, 1000) g; SELECT pg_switch_wal()");
  for (int i = 0; i < 300 && sql(failing, "SELECT failed_count FROM pg_stat_archiver") == "0"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string failing_conninfo =
      fmt::format("host={} port={} user=postgres dbname=postgres", failing.socket_dir().string(), failing.port());
  fs::path doc = w.write("failing.yaml", physical_policy("failing-physical", failing_conninfo, "failing"));
  auto r = w.pgrecover({"check", doc.string()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 5);
  CHECK(r.out.find("OUT OF BOUNDS: policy failing-physical") != std::string::npos);
  CHECK(r.out.find("archive_command is failing") != std::string::npos);
  // A restore point on that source cannot be archived: the command fails and records nothing.
  auto point = w.pgrecover({"restore-point", "before_change", "--policy", "failing-physical", doc.string(), "--timeout", "3s"});
  INFO(point.out << point.err);
  CHECK(point.exit_code == 1);
  CHECK(point.err.find("did not reach the WAL archive of cluster \"failing\"") != std::string::npos);
  CHECK(point.err.find("it is not recorded") != std::string::npos);
  CHECK(repository::list_restore_points(w.repo, "failing").empty());

  // A healthy source: archiving works, a fresh base backup, archive_timeout below the rpo.
  o.settings[3] = {"archive_command", fmt::format("'{} --config {} wal push %p --repository local --cluster healthy'",
                                                  PGRECOVER_BINARY, w.config.string())};
  instance::Instance healthy(o);
  std::string healthy_conninfo =
      fmt::format("host={} port={} user=postgres dbname=postgres", healthy.socket_dir().string(), healthy.port());
  fs::path good = w.write("healthy.yaml", physical_policy("healthy-physical", healthy_conninfo, "healthy"));
  auto backup = w.pgrecover({"apply", "--auto-approve", good.string()});
  INFO(backup.out << backup.err);
  REQUIRE(backup.exit_code == 0);
  sql(healthy, "SELECT pg_switch_wal()");
  for (int i = 0; i < 300 && sql(healthy, "SELECT archived_count FROM pg_stat_archiver") == "0"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto fine = w.pgrecover({"check", good.string()});
  INFO(fine.out << fine.err);
  CHECK(fine.exit_code == 0);
  auto prom = w.pgrecover({"check", good.string(), doc.string(), "--format", "prometheus"});
  INFO(prom.out << prom.err);
  CHECK(prom.exit_code == 5);
  CHECK(prom.out.find("pgrecover_policy_in_bounds{policy=\"healthy-physical\"} 1\n") != std::string::npos);
  CHECK(prom.out.find("pgrecover_policy_in_bounds{policy=\"failing-physical\"} 0\n") != std::string::npos);
  CHECK(prom.out.find("pgrecover_check_in_bounds{policy=\"failing-physical\",check=\"archiver\"} 0\n") != std::string::npos);
}
