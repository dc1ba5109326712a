// Several copies (spec.repositories: [local, offsite]), end to end through the pgrecover binary:
// local is a folder, offsite the S3 test server. Each backup lands in both and is verified in
// both; retention prunes both; a restore whose first copy is unreachable reads the other and says
// so; an apply killed in the middle of the copy resumes and completes; WAL goes to every copy.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/harness.hpp"
#include "support/s3_server.hpp"
#include "util/fs.hpp"

using namespace pgr;
using test::psql;
using test::server;

namespace {

void must(const ProcessResult& r, const std::string& what) {
  if (!r.ok()) FAIL(describe_failure(what, r) + "\nstdout:\n" + r.out);
}

std::string conninfo() {
  auto& s = server();
  return fmt::format("host={} port={} user=postgres dbname=postgres", s.socket_dir().string(), s.port());
}

struct Fixture {
  TempDir dir{"pgrecover-copies-test-"};
  std::string source = "copies_source";
  std::string config;
  std::string prefix = fmt::format("copies-{}", ::getpid());
  fs::path local;
  Fixture() {
    auto& s3 = test::S3Server::shared();
    local = dir.path() / "local";
    config = (dir.path() / "pgrecover.toml").string();
    write_file_atomic(config, fmt::format("state_dir = \"{}\"\n[repositories.local]\npath = \"{}\"\n",
                                          (dir.path() / "state").string(), local.string()) +
                                  s3.settings("offsite", prefix));
    psql("postgres", "CREATE DATABASE " + source);
    psql(source, R"(
      CREATE TABLE orders (id int PRIMARY KEY, note text);
      INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 1000) g;
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
  repositories: [local, offsite]
  format: custom
{})",
                                      name, conninfo(), fx().source, extra));
  return path;
}

std::vector<std::string> ids_in(const std::string& repository, const std::string& policy) {
  auto r = cli({"backups", "list", "--repository", repository, "--json"});
  must(r, "backups list --repository " + repository);
  UNSCOPED_INFO("backups list --repository " << repository << ": " << r.out << r.err);
  std::vector<std::string> out;
  auto all = nlohmann::json::parse(r.out);
  for (const auto& b : all.at("backups"))
    if (b.at("policy") == policy) out.push_back(b.at("id").get<std::string>());
  return out;
}

// Backup ids s3rver holds objects of under backups/<policy>/ (complete or not).
std::set<std::string> stored_in_s3(const std::string& policy) {
  std::set<std::string> ids;
  fs::path dir = test::S3Server::shared().storage_dir() / "pgrecover-test" / fx().prefix / "backups" / policy;
  if (!fs::exists(dir)) return ids;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.size() > 15 && name.compare(name.size() - 15, 15, "._S3rver_object") == 0)
      ids.insert(fs::relative(e.path(), dir).begin()->string());
  }
  return ids;
}

std::string rows_of(const std::string& db) {
  return psql(db, "SELECT count(*) || '/' || md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o");
}

}  // namespace

TEST_CASE("copies: each backup is written to both repositories, verified in both, and pruned in both", "[copies]") {
  auto doc = policy_doc("twice", "retention: {keep_last: 1}\n");
  auto plan = cli({"plan", doc});
  must(plan, "plan");
  INFO(plan.out);
  CHECK(plan.out.find(fmt::format("into 2 copies: local (posix {}), offsite (s3://pgrecover-test/{})", fx().local.string(),
                                  fx().prefix)) != std::string::npos);
  CHECK(plan.out.find("backup-copy      twice/(the new backup) to offsite") != std::string::npos);
  auto first = cli({"apply", doc, "--auto-approve"});
  must(first, "first apply");
  auto local = ids_in("local", "twice");
  REQUIRE(local.size() == 1);
  CHECK(ids_in("offsite", "twice") == local);
  auto v = cli({"backups", "verify", local[0], "--repository", "offsite"});
  must(v, "verify the copy");
  CHECK(v.out.find("1000 rows read") != std::string::npos);
  must(cli({"backups", "verify", local[0], "--repository", "local"}), "verify the original");
  // Re-plan right after: nothing to do in either repository.
  auto again = cli({"plan", doc, "--detailed-exitcode"});
  CHECK(again.exit_code == 2);  // no schedule: a backup on every apply
  CHECK(again.out.find("twice/" + local[0] + " in offsite") != std::string::npos);  // offsite's own retention

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a new id (ids are seconds)
  must(cli({"apply", doc, "--auto-approve"}), "second apply");
  auto local2 = ids_in("local", "twice");
  REQUIRE(local2.size() == 1);
  CHECK(local2[0] != local[0]);
  CHECK(ids_in("offsite", "twice") == local2);
  if (!test::S3Server::shared().external()) CHECK(stored_in_s3("twice") == std::set<std::string>{local2[0]});
  CHECK_FALSE(fs::exists(fx().local / "backups" / "twice" / local[0]));
}

TEST_CASE("copies: a restore whose first repository is unreachable reads the other copy and says so", "[copies]") {
  auto doc = policy_doc("fallback", "");
  must(cli({"apply", doc, "--auto-approve"}), "backup");
  std::string target = fx().source + "_fallback";
  std::string rdoc = (fx().dir.path() / "restore-fallback.yaml").string();
  write_file_atomic(rdoc, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: from-any-copy}}
spec:
  from: {{policy: fallback, backup: latest}}
  to: {{conninfo: "{}", database: {}, create: true}}
)",
                                      conninfo(), target));
  // The local repository's folder is gone (a lost disk): the plan reads from offsite.
  fs::path away = fx().local.string() + ".away";
  fs::rename(fx().local, away);
  auto plan = cli({"plan", rdoc, doc, "--only", "from-any-copy"});
  auto applied = cli({"apply", rdoc, doc, "--only", "from-any-copy", "--auto-approve"});
  fs::rename(away, fx().local);
  must(plan, "plan with local gone");
  INFO(plan.out << plan.err);
  CHECK(plan.out.find("repository \"local\" unreachable") != std::string::npos);
  CHECK(plan.out.find("from repository \"offsite\"") != std::string::npos);
  must(applied, "restore from the other copy");
  CHECK(applied.err.find("repository \"local\" unreachable") != std::string::npos);
  CHECK(rows_of(target) == rows_of(fx().source));

  // Without the fallback (the copy named and unreachable, nothing else listed) it is an error, exit 1.
  std::string lone = (fx().dir.path() / "restore-lone.yaml").string();
  write_file_atomic(lone, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: lone}}
spec:
  from: {{policy: fallback, repository: local, backup: latest}}
  to: {{conninfo: "{}", database: {}_lone, create: true}}
)",
                                      conninfo(), fx().source));
  fs::rename(fx().local, away);
  auto failed = cli({"plan", lone});  // the policy's document is not given: no other copy is known
  fs::rename(away, fx().local);
  CHECK(failed.exit_code == 1);
  CHECK(failed.err.find("does not exist") != std::string::npos);
}

TEST_CASE("copies: an apply killed during the copy resumes and completes, the half copy is never listed", "[copies]") {
  auto& s3 = test::S3Server::shared();
  if (s3.external()) return;  // reads s3rver's log
  // Enough incompressible data for a multipart upload (parts of 16 MB): the copy takes a while.
  psql(fx().source, "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS pad "
                    "FROM generate_series(1, 250000) g");
  auto doc = policy_doc("resumed", "compression: none\n");
  std::string plan_file = (fx().dir.path() / "resumed.plan.json").string();
  must(cli({"plan", doc, "--out", plan_file}), "plan --out");
  fs::path log = s3.storage_dir().parent_path() / "s3rver.log";
  std::size_t log_start = fs::exists(log) ? fs::file_size(log) : 0;
  fs::path out = fx().dir.path() / "killed.out", err = fx().dir.path() / "killed.err";
  auto env = s3.env();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1);
    ::dup2(e, 2);
    for (auto& kv : env) ::putenv(kv.data());
    ::execl(PGRECOVER_BINARY, "pgrecover", "--config", fx().config.c_str(), "apply", plan_file.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool killed = false;
  int status = 0;
  for (int i = 0; i < 6000; ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    std::string text = read_file(log);
    // The first part of the copy's big file is in; more follow.
    if (text.find("partNumber=1&", log_start) != std::string::npos) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      killed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  INFO(read_file(err));
  REQUIRE(killed);
  auto local = ids_in("local", "resumed");
  REQUIRE(local.size() == 1);
  CHECK(ids_in("offsite", "resumed").empty());  // half a copy is not a backup

  auto resumed = cli({"apply", plan_file});
  must(resumed, "apply the same plan again");
  INFO(resumed.out << resumed.err);
  CHECK(resumed.err.find("resuming run") != std::string::npos);
  CHECK(resumed.out.find("1 done now, 1 done by earlier runs") != std::string::npos);  // the backup is not taken again
  CHECK(resumed.err.find("copied to offsite") != std::string::npos);
  CHECK(ids_in("offsite", "resumed") == local);
  must(cli({"backups", "verify", local[0], "--repository", "offsite"}), "verify the resumed copy");
  psql(fx().source, "DROP TABLE big");
}

TEST_CASE("copies: wal push stores in every repository listed, wal fetch reads the first that answers", "[copies]") {
  fs::path file = fx().dir.path() / "00000002.history";
  write_file_atomic(file, "1\t0/3000000\tno recovery target specified\n");
  must(cli({"wal", "push", file.string(), "--repository", "local,offsite", "--cluster", "walc"}), "wal push to both");
  CHECK(fs::exists(fx().local / "wal" / "walc" / "00000002.history"));
  fs::path away = fx().local.string() + ".away";
  fs::rename(fx().local, away);
  fs::path dest = fx().dir.path() / "fetched.history";
  auto fetched = cli({"wal", "fetch", "00000002.history", dest.string(), "--repository", "local,offsite", "--cluster", "walc"});
  fs::rename(away, fx().local);
  must(fetched, "wal fetch with local gone");
  CHECK(read_file(dest) == read_file(file));
  // One unknown name: refused before anything is written.
  auto bad = cli({"wal", "push", file.string(), "--repository", "local,nowhere", "--cluster", "walc2"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("nowhere") != std::string::npos);
  CHECK_FALSE(fs::exists(fx().local / "wal" / "walc2"));
}
