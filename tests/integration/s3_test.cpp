// Repositories in an S3-compatible bucket, end to end through the pgrecover binary: s3rver (the
// harness starts it on 127.0.0.1) holds the backups. A logical backup is stored, listed, verified and restored straight from the bucket;
// retention deletes the right objects; a server killed in the middle of an upload leaves no
// backup that is listed as complete, and the next apply completes.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/harness.hpp"
#include "support/s3_server.hpp"
#include "storage/storage.hpp"
#include "util/fs.hpp"

using namespace pgr;
using test::must;
using test::schema_of;
using test::psql;
using test::server;

namespace {

std::string conninfo() {
  auto& s = server();
  return fmt::format("host={} port={} user=postgres dbname=postgres", s.socket_dir().string(), s.port());
}

struct Fixture {
  TempDir dir{"pgrecover-s3-test-"};
  std::string source = "s3_source";
  std::string config;
  std::string prefix = fmt::format("run-{}", ::getpid());
  Fixture() {
    auto& s3 = test::S3Server::shared();
    config = (dir.path() / "pgrecover.toml").string();
    write_file_atomic(config, fmt::format("state_dir = \"{}\"\n", (dir.path() / "state").string()) +
                                  s3.settings("offsite", prefix));
    psql("postgres", "CREATE DATABASE " + source);
    psql(source, R"(
      CREATE TABLE orders (id int PRIMARY KEY, note text);
      INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 1000) g;
      CREATE INDEX orders_note ON orders (note);
    )");
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

ProcessResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"--config", fx().config});
  return test::run_pgrecover(args, test::S3Server::shared().env());
}

std::string policy_doc(const std::string& name, const std::string& extra_spec) {
  std::string extra, line;  // written under spec:
  std::istringstream in(extra_spec);
  while (std::getline(in, line)) extra += "  " + line + "\n";
  std::string path = (fx().dir.path() / (name + ".yaml")).string();
  write_file_atomic(path, fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: {}}}
spec:
  source: {{conninfo: "{}"}}
  database: {}
  repository: offsite
{})",
                                      name, conninfo(), fx().source, extra));
  return path;
}

nlohmann::json list_backups(const std::string& policy) {
  auto r = cli({"backups", "list", "--json"});
  must(r, "backups list --json");
  UNSCOPED_INFO("backups list: " << r.out << r.err);
  if (!test::S3Server::shared().external() && (r.err.find("HTTP 5") != std::string::npos || r.out.find(policy) == std::string::npos)) {
    std::string log = read_file(test::S3Server::shared().storage_dir().parent_path() / "s3rver.log");
    UNSCOPED_INFO("s3rver log: " << log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  }
  nlohmann::json out = nlohmann::json::array();
  auto all = nlohmann::json::parse(r.out);
  for (const auto& b : all.at("backups"))
    if (b.at("policy") == policy) out.push_back(b);
  return out;
}

// Ids of the backups of `policy` that s3rver holds any object of, read from its storage folder.
std::set<std::string> stored_backup_ids(const std::string& policy) {
  std::set<std::string> ids;
  std::string prefix = fmt::format("{}/backups/{}/", fx().prefix, policy);
  for (const auto& key : test::S3Server::shared().stored_keys(prefix)) ids.insert(key.substr(prefix.size(), key.find('/', prefix.size()) - prefix.size()));
  return ids;
}

}  // namespace

TEST_CASE("s3: a logical backup is stored in the bucket, verified, and restored straight from it", "[s3]") {
  auto doc = policy_doc("nightly", "format: custom\n");
  auto applied = cli({"apply", doc, "--auto-approve"});
  must(applied, "apply to s3");
  UNSCOPED_INFO("apply: " << applied.out << applied.err);
  auto l = list_backups("nightly");
  REQUIRE(l.size() == 1);
  std::string id = l[0].at("id");
  if (!test::S3Server::shared().external()) CHECK(stored_backup_ids("nightly") == std::set<std::string>{id});
  auto show = cli({"backups", "show", id, "--json"});
  must(show, "backups show");
  CHECK(nlohmann::json::parse(show.out).at("folder") == fmt::format("s3://pgrecover-test/{}/backups/nightly/{}", fx().prefix, id));
  auto v = cli({"backups", "verify", id});
  must(v, "backups verify");
  CHECK(v.out.find("1000 rows read") != std::string::npos);

  std::string target = fx().source + "_restored";
  std::string rdoc = (fx().dir.path() / "restore.yaml").string();
  write_file_atomic(rdoc, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: from-s3}}
spec:
  from: {{repository: offsite, policy: nightly, backup: latest}}
  to: {{conninfo: "{}", database: {}, create: true}}
)",
                                      conninfo(), target));
  must(cli({"apply", rdoc, doc, "--only", "from-s3", "--auto-approve"}), "restore from s3");
  std::string rows = "SELECT count(*) || '/' || md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o";
  CHECK(psql(target, rows) == psql(fx().source, rows));
  CHECK(schema_of(fx().source).find("CREATE INDEX orders_note") != std::string::npos);
  CHECK(schema_of(target) == schema_of(fx().source));

  // Missing credentials: a clear error naming the variable and the settings, exit 1.
  auto nocred = test::run_pgrecover({"--config", fx().config, "backups", "list"});
  CHECK(nocred.exit_code == 1);
  CHECK(nocred.err.find("TEST_S3_ACCESS_KEY") != std::string::npos);
  CHECK(nocred.err.find("[repositories.offsite]") != std::string::npos);
}

TEST_CASE("s3: retention deletes the objects of the backups it drops, and only those", "[s3]") {
  auto doc = policy_doc("kept", "format: custom\nretention: {keep_last: 1}\n");
  must(cli({"apply", doc, "--auto-approve"}), "first apply");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a new id (ids are seconds)
  must(cli({"apply", doc, "--auto-approve"}), "second apply");
  auto l = list_backups("kept");
  REQUIRE(l.size() == 1);
  if (!test::S3Server::shared().external()) CHECK(stored_backup_ids("kept") == std::set<std::string>{l[0].at("id").get<std::string>()});
}

TEST_CASE("s3: a server killed in the middle of an upload leaves no complete backup, and the next apply completes",
          "[s3]") {
  auto& s3 = test::S3Server::shared();
  if (s3.external()) return;  // needs to kill the server
  // Enough incompressible data for a multipart upload of several parts.
  psql(fx().source, "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS pad "
                    "FROM generate_series(1, 450000) g");
  auto doc = policy_doc("killed", "format: custom\ncompression: none\n");
  fs::path log = s3.storage_dir().parent_path() / "s3rver.log";
  std::size_t log_start = fs::exists(log) ? fs::file_size(log) : 0;
  std::atomic<bool> done{false};
  ProcessResult r;
  std::thread apply([&] {
    r = cli({"apply", doc, "--auto-approve"});
    done = true;
  });
  bool killed = false;
  for (int i = 0; i < 6000 && !done; ++i) {
    std::string text = read_file(log);
    if (text.find("partNumber=1&", log_start) != std::string::npos) {  // the first part is in; more follow
      s3.kill();
      killed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  apply.join();
  s3.start();
  REQUIRE(killed);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("could not reach the S3 endpoint") != std::string::npos);
  CHECK(list_backups("killed").empty());
  // What the killed run stored does not count: no manifest, and the interrupted multipart upload
  // is no object (s3rver keeps its parts: it implements neither abort nor the listing of uploads).
  std::string killed_prefix = fmt::format("{}/backups/killed/", fx().prefix);
  for (const auto& key : s3.stored_keys(killed_prefix)) CHECK(key.find("manifest.json") == std::string::npos);
  CHECK(s3.pending_uploads() >= 1);
  // An object a crashed backup stored before it died (a backup folder without a manifest).
  auto bucket = storage::open(s3.location(fx().prefix), "offsite", false);
  storage::put(*bucket, "backups/killed/20200101T000000Z/globals.sql", "-- left by a crash\n");
  CHECK(stored_backup_ids("killed").count("20200101T000000Z") == 1);
  must(cli({"apply", doc, "--auto-approve"}), "apply after the server came back");
  auto l = list_backups("killed");
  REQUIRE(l.size() == 1);
  // The next apply removed what the killed one left.
  CHECK(stored_backup_ids("killed") == std::set<std::string>{l[0].at("id").get<std::string>()});
  must(cli({"backups", "verify", l[0].at("id").get<std::string>()}), "verify after the server came back");
  psql(fx().source, "DROP TABLE big");
}
