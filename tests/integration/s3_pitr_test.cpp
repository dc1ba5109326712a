// Physical backups and the WAL archive in an S3-compatible bucket (s3rver, started by the
// harness), end to end through the pgrecover binary: a source cluster whose archive_command is
// `pgrecover wal push` into the bucket, base backups taken into it, a point-in-time recovery read
// straight from it to a restore point, and retention deleting exactly the objects of the backup
// and the WAL it drops.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "support/archiving_source.hpp"
#include "support/harness.hpp"
#include "support/s3_server.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

using namespace pgr;

namespace {

constexpr const char* kPolicy = "s3-physical";
constexpr const char* kCluster = "s3src";

test::S3Server& s3() { return test::S3Server::shared(); }

// A source cluster archiving into the bucket, and the settings and policy that say so.
struct Source : test::ArchivingSource {
  std::string prefix = fmt::format("pitr-{}", ::getpid());
  fs::path policy;

  // archive_command runs in the server's environment: it needs the credential variables.
  Source()
      : ArchivingSource("pgrecover-s3-pitr-test-",
                        [](const fs::path&) {
                          s3().export_env();
                          return s3().settings("offsite", fmt::format("pitr-{}", ::getpid()));
                        },
                        "offsite", kCluster) {
    policy = write("policy.yaml", policy_text());
  }

  std::string policy_text() const {
    return fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: {}}}
spec:
  source: {{conninfo: "{}"}}
  method: physical
  compression: gzip
  repository: offsite
  cluster: {}
  retention: {{keep_last: 2}}
)",
                       kPolicy, conninfo(), kCluster);
  }

  ProcessResult cli(std::vector<std::string> args) { return pgrecover(std::move(args), s3().env()); }

  void backup() {
    auto r = cli({"apply", policy.string(), "--auto-approve"});
    if (!r.ok()) FAIL(describe_failure("apply of the physical policy", r) + "\nstdout:\n" + r.out);
  }

  std::vector<std::string> backup_ids() {
    auto r = cli({"backups", "list", "--json"});
    if (!r.ok()) FAIL(describe_failure("backups list", r));
    std::vector<std::string> ids;
    auto all = nlohmann::json::parse(r.out);
    for (const auto& b : all.at("backups"))
      if (b.at("policy").get<std::string>() == kPolicy) ids.push_back(b.at("id").get<std::string>());
    return ids;
  }

  std::string backups_key(const std::string& id = {}) const {
    return fmt::format("{}/backups/{}/{}", prefix, kPolicy, id.empty() ? "" : id + "/");
  }
  std::string wal_key() const { return fmt::format("{}/wal/{}/", prefix, kCluster); }
};

Source& src() {
  static Source s;
  return s;
}

using test::stop_server;

struct StopAtEnd {
  fs::path dir;
  ~StopAtEnd() { stop_server(dir); }
};

std::string recovered_sql(const fs::path& data_dir, const std::string& q) {
  instance::PostmasterInfo pm;
  REQUIRE(instance::read_postmaster_pid(data_dir, pm));
  auto c = pg::Connection::open(fmt::format("host={} port={} user=postgres dbname=postgres", pm.socket_dir, pm.port));
  auto r = c.exec(q);
  return r.rows() ? r.str(0, 0) : "";
}

// The WAL segment (24 hex digits) holding the start of a stored backup, from its manifest object.
std::string start_segment(const std::string& id) {
  auto m = nlohmann::json::parse(s3().stored_object(src().backups_key(id) + "manifest.json"));
  INFO(m.dump());
  std::string lsn = m.at("extra").at("start_lsn");
  std::uint32_t tli = m.at("extra").at("timeline");
  auto slash = lsn.find('/');
  std::uint64_t v = (std::stoull(lsn.substr(0, slash), nullptr, 16) << 32) | std::stoull(lsn.substr(slash + 1), nullptr, 16);
  std::uint64_t seg = v / (16u << 20);
  return fmt::format("{:08X}{:08X}{:08X}", tli, seg / 256, seg % 256);
}

}  // namespace

TEST_CASE("s3: a physical backup and wal push into the bucket, PITR from it to a restore point has exactly the rows before it",
          "[s3][pitr]") {
  auto& s = src();
  s.sql("CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders VALUES (1), (2), (3)");
  s.backup();
  auto ids = s.backup_ids();
  REQUIRE(ids.size() == 1);
  s.sql("INSERT INTO orders VALUES (4)");
  s.sql("INSERT INTO orders VALUES (5)");
  auto point = s.cli({"restore-point", "before_purge", "--policy", kPolicy, s.policy.string()});
  INFO(point.out << point.err);
  REQUIRE(point.exit_code == 0);
  s.sql("INSERT INTO orders VALUES (6); DELETE FROM orders WHERE id <= 2");
  std::string segment = s.archive_current_segment();
  if (!s3().external()) {
    CHECK(s3().stored_keys(s.wal_key() + segment).size() == 1);  // pushed by archive_command into the bucket
    CHECK(s3().stored_keys(s.backups_key(ids[0])).count(s.backups_key(ids[0]) + "manifest.json") == 1);
  }

  fs::path parent = s.base.path() / "recovered";
  fs::create_directories(parent);
  fs::permissions(parent, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::replace);
  fs::path dd = parent / "data";
  StopAtEnd stop{dd};
  fs::path doc = s.write("pitr.yaml", s.policy_text() + fmt::format(R"(---
apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {{name: to-before-purge}}
spec:
  from: {{repository: offsite, policy: {}}}
  target: {{name: before_purge}}
  action: promote
  to: {{data_directory: "{}"}}
  timeout: 2m
)",
                                                                      kPolicy, dd.string()));
  auto plan = s.cli({"plan", doc.string(), "--only", "to-before-purge"});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  CHECK(plan.out.find(ids[0]) != std::string::npos);
  auto apply = s.cli({"apply", doc.string(), "--only", "to-before-purge", "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(recovered_sql(dd, "SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "1,2,3,4,5");
  CHECK(recovered_sql(dd, "SELECT pg_is_in_recovery()::text") == "false");
}

TEST_CASE("s3: retention keeps the last 2 of 3 physical backups: the oldest one's objects and the WAL before the oldest kept are deleted",
          "[s3][pitr]") {
  auto& s = src();
  if (s.backup_ids().empty()) s.backup();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a new id (ids are seconds)
  s.sql("CREATE TABLE IF NOT EXISTS more (id int); INSERT INTO more SELECT generate_series(1, 1000)");
  s.archive_current_segment();
  s.backup();
  auto ids = s.backup_ids();
  REQUIRE(ids.size() == 2);
  s.archive_current_segment();
  if (s3().external()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    s.backup();
    CHECK(s.backup_ids() == std::vector<std::string>{ids[1], s.backup_ids().back()});
    return;
  }
  auto first = s3().stored_keys(s.backups_key(ids[0]));
  auto second = s3().stored_keys(s.backups_key(ids[1]));
  REQUIRE(first.count(s.backups_key(ids[0]) + "manifest.json") == 1);
  REQUIRE(first.size() > 2);  // base.tar.gz, pg_wal.tar.gz, backup_manifest, manifest.json
  auto wal_before = s3().stored_keys(s.wal_key());
  std::string keep_from = s.wal_key() + start_segment(ids[1]);
  std::size_t older = 0;
  for (const auto& k : wal_before) older += k < keep_from;
  REQUIRE(older > 0);  // there is WAL that retention will be able to drop

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  s.backup();
  auto after = s.backup_ids();
  REQUIRE(after.size() == 2);
  CHECK(after[0] == ids[1]);
  CHECK(after[1] != ids[1]);
  // Nothing of the oldest backup is left in the bucket; the kept one is untouched.
  CHECK(s3().stored_keys(s.backups_key(ids[0])).empty());
  CHECK(s3().stored_keys(s.backups_key(ids[1])) == second);
  CHECK(s3().stored_keys(s.backups_key(after[1])).count(s.backups_key(after[1]) + "manifest.json") == 1);
  // WAL: everything before the start of the oldest kept backup is gone, everything from it is kept.
  auto wal_after = s3().stored_keys(s.wal_key());
  for (const auto& k : wal_after) CHECK(k.substr(0, keep_from.size()) >= keep_from);
  for (const auto& k : wal_before)
    if (k.substr(0, keep_from.size()) >= keep_from) CHECK(wal_after.count(k) == 1);
  // The kept backups still verify from the bucket.
  for (const auto& id : after) {
    auto v = s.cli({"backups", "verify", id});
    INFO(v.out << v.err);
    CHECK(v.exit_code == 0);
  }
}
