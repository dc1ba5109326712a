// Backup policies end to end through the pgrecover binary against the harness server: plan/apply
// of a policy, retention, verify of a damaged backup, a restore of the latest backup into a fresh
// cluster without the source's roles, a restore drill, pg_dump failures, stale plans.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/logical.hpp"
#include "instance/instance.hpp"
#include "support/harness.hpp"
#include "util/fs.hpp"

using namespace pgr;
using test::must;
using test::without_comments;
using test::psql;
using test::server;

namespace {

std::string conninfo(const std::string& user = "postgres") {
  auto& s = server();
  return fmt::format("host={} port={} user={} dbname=postgres", s.socket_dir().string(), s.port(), user);
}

struct Fixture {
  TempDir dir{"pgrecover-backup-test-"};
  std::string source = "bk_source";
  std::string config;
  fs::path repo;
  Fixture() {
    repo = dir.path() / "repo";
    config = (dir.path() / "pgrecover.toml").string();
    write_file_atomic(config, fmt::format("state_dir = \"{}\"\n[repositories.local]\npath = \"{}\"\n",
                                          (dir.path() / "state").string(), repo.string()));
    psql("postgres", "CREATE ROLE bk_owner NOLOGIN; CREATE ROLE bk_reader NOLOGIN; GRANT bk_reader TO bk_owner; "
                     "CREATE ROLE bk_limited LOGIN");
    psql("postgres", "CREATE DATABASE " + source + " OWNER bk_owner");
    psql(source, R"(
      SET ROLE bk_owner;
      CREATE SCHEMA app;
      CREATE TABLE app.orders (id serial PRIMARY KEY, note text NOT NULL, at timestamptz DEFAULT now());
      INSERT INTO app.orders (note) SELECT 'order ' || g || E' with a\ttab and\na newline' FROM generate_series(1, 500) g;
      CREATE TABLE app.items (order_id int REFERENCES app.orders, qty int CHECK (qty > 0));
      INSERT INTO app.items SELECT g % 500 + 1, g FROM generate_series(1, 300) g;
      CREATE INDEX ON app.items (order_id);
      CREATE VIEW app.big_orders AS SELECT * FROM app.orders WHERE id > 400;
      GRANT USAGE ON SCHEMA app TO bk_reader;
      GRANT SELECT ON app.orders, app.big_orders TO bk_reader;
      CREATE TABLE app.secret (x int);
      RESET ROLE;
      GRANT CONNECT ON DATABASE )" + source + R"( TO bk_limited;
      GRANT USAGE ON SCHEMA app TO bk_limited;
      GRANT SELECT ON app.orders, app.items, app.big_orders TO bk_limited;
      GRANT SELECT, USAGE ON SEQUENCE app.orders_id_seq TO bk_limited;
    )");
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

ProcessResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"--config", fx().config});
  return test::run_pgrecover(args);
}

std::string policy_doc(const std::string& name, const std::string& extra_spec, const std::string& user = "postgres",
                       int jobs = 2) {
  std::string extra, line;  // extra_spec is written under spec:
  std::istringstream in(extra_spec);
  while (std::getline(in, line)) extra += "  " + line + "\n";
  std::string path = (fx().dir.path() / (name + ".yaml")).string();
  write_file_atomic(path, fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: {}}}
spec:
  source: {{conninfo: "{}"}}
  database: {}
  jobs: {}
  repository: local
{})",
                                      name, conninfo(user), fx().source, jobs, extra));
  return path;
}

nlohmann::json list_backups(const std::string& policy) {
  auto r = cli({"backups", "list", "--json"});
  must(r, "backups list --json");
  INFO("backups list --json: " << r.out);
  nlohmann::json out = nlohmann::json::array();
  auto all = nlohmann::json::parse(r.out);
  for (const auto& b : all.at("backups"))
    if (b.at("policy") == policy) out.push_back(b);
  return out;
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

// `pgrecover apply DOC --auto-approve` in the background (to be signalled), stdout and stderr in
// files, with TMPDIR set when given. Returns its pid.
pid_t spawn_apply(const std::string& doc, const fs::path& out, const fs::path& err, const fs::path& tmpdir = {}) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1);
    ::dup2(e, 2);
    if (!tmpdir.empty()) ::setenv("TMPDIR", tmpdir.c_str(), 1);
    ::execl(PGRECOVER_BINARY, "pgrecover", "--config", fx().config.c_str(), "apply", doc.c_str(), "--auto-approve",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

}  // namespace

TEST_CASE("backup: plan exits 2 with no backups, apply makes one, plan right after exits 0", "[backup]") {
  auto doc = policy_doc("nightly", "schedule: {every: 24h}\n");
  auto plan = cli({"plan", doc, "--detailed-exitcode"});
  CHECK(plan.exit_code == 2);
  CHECK(plan.out.find("no backup of this policy yet") != std::string::npos);
  // The repository is in /tmp like the harness server's data directory.
  CHECK(plan.out.find("same filesystem") != std::string::npos);
  auto apply = cli({"apply", doc, "--auto-approve"});
  must(apply, "apply nightly");
  auto again = cli({"plan", doc, "--detailed-exitcode", "--show-unchanged"});
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("schedule every 24h") != std::string::npos);

  auto list = list_backups("nightly");
  REQUIRE(list.size() == 1);
  const auto& b = list[0];
  for (const char* k : {"id", "policy", "kind", "database", "started_at", "finished_at", "bytes", "verified_at"})
    CHECK(b.contains(k));
  CHECK(b["kind"] == "logical");
  CHECK(b["database"] == fx().source);
  CHECK(b["bytes"].get<long>() > 0);
  CHECK(b["verified_at"].is_null());

  fs::path folder = fx().repo / "backups" / "nightly" / b["id"].get<std::string>();
  CHECK(mode_of(folder) == 0700);
  CHECK(mode_of(folder / "data") == 0700);
  CHECK(mode_of(folder / "data" / "toc.dat") == 0600);
  CHECK(mode_of(folder / "manifest.json") == 0600);
  CHECK(mode_of(folder / "globals.sql") == 0600);
  auto m = nlohmann::json::parse(read_file(folder / "manifest.json"));
  CHECK(m["row_counts"]["app.orders"] == 500);
  CHECK(m["row_counts"]["app.items"] == 300);
  CHECK(m["server_version_num"].get<int>() >= 150000);
  CHECK_FALSE(m["system_identifier"].get<std::string>().empty());
  bool owner = false;
  for (const auto& r : m["globals"]["roles"])
    if (r["name"] == "bk_owner") owner = r["member_of"].size() == 1 && r["member_of"][0]["role"] == "bk_reader";
  CHECK(owner);
  CHECK(read_file(folder / "globals.sql").find("CREATE ROLE bk_owner") != std::string::npos);
  CHECK(m.dump().find("password=") == std::string::npos);

  auto show = cli({"backups", "show", b["id"].get<std::string>()});
  must(show, "backups show");
  CHECK(show.out.find("app.orders") != std::string::npos);
}

TEST_CASE("backup: row counts equal the dumped rows while the source is written to during the backup", "[backup]") {
  // The counts are taken in pg_dump's snapshot while pg_dump runs: rows committed meanwhile are
  // in neither; an inheritance parent counts its own rows only (pg_dump copies ONLY the parent);
  // a table under row security is counted from the archive.
  psql("postgres", "CREATE DATABASE bk_writes");
  psql("bk_writes", R"(
    CREATE TABLE parent (id bigserial PRIMARY KEY, v int);
    CREATE TABLE child (extra text) INHERITS (parent);
    CREATE TABLE guarded (x int);
    ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
    INSERT INTO parent (v) SELECT g FROM generate_series(1, 100000) g;
    INSERT INTO child (v, extra) SELECT g, 'c' FROM generate_series(1, 3000) g;
    INSERT INTO guarded SELECT generate_series(1, 70);
  )");
  std::string doc = (fx().dir.path() / "writes.yaml").string();
  write_file_atomic(doc, fmt::format("apiVersion: pgrecover/v1\nkind: BackupPolicy\nmetadata: {{name: writes}}\nspec:\n"
                                     "  source: {{conninfo: \"{}\"}}\n  database: bk_writes\n  jobs: 2\n  repository: local\n",
                                     conninfo()));
  std::atomic<bool> done{false};
  std::atomic<long> written{0};
  std::thread writer([&] {
    auto c = pg::Connection::open(fmt::format("host={} port={} user=postgres dbname=bk_writes", server().socket_dir().string(),
                                              server().port()));
    while (!done) {
      c.exec("INSERT INTO parent (v) VALUES (1), (2); INSERT INTO child (v, extra) VALUES (2, 'w'); DELETE FROM parent "
             "WHERE id = (SELECT min(id) FROM ONLY parent)");
      ++written;
    }
  });
  auto apply = cli({"--log-level", "info", "apply", doc, "--auto-approve"});
  long during = written;
  done = true;
  writer.join();
  must(apply, "apply writes");
  INFO(apply.err);
  CHECK(during > 0);
  CHECK(apply.err.find("2 tables counted in the dump's snapshot while pg_dump ran, 1 read from the archive") != std::string::npos);
  auto list = list_backups("writes");
  REQUIRE(list.size() == 1);
  fs::path folder = fx().repo / "backups" / "writes" / list[0]["id"].get<std::string>();
  auto m = nlohmann::json::parse(read_file(folder / "manifest.json"));
  auto dumped = engine::count_archive_rows(folder / "data");
  REQUIRE(dumped.size() == 3);
  for (const auto& [table, rows] : dumped) CHECK(m["row_counts"][table].get<long>() == rows);
  CHECK(dumped["public.guarded"] == 70);
  // The writes changed the tables while the backup ran: the counts are of the snapshot, not of now.
  auto now = server().run_client({"psql", "-X", "-At", "-d", "bk_writes", "-c", "SELECT count(*) FROM ONLY parent"});
  CHECK(std::stol(now.out) != dumped["public.parent"]);
}

TEST_CASE("backup: keep_last 2 with three backups taken leaves the two newest", "[backup]") {
  auto doc = policy_doc("keep2", "retention: {keep_last: 2}\n");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    must(cli({"apply", doc, "--auto-approve"}), "apply keep2");
    auto l = list_backups("keep2");
    ids.push_back(l.back()["id"].get<std::string>());
  }
  auto l = list_backups("keep2");
  REQUIRE(l.size() == 2);
  CHECK(l[0]["id"] == ids[1]);
  CHECK(l[1]["id"] == ids[2]);
  CHECK_FALSE(fs::exists(fx().repo / "backups" / "keep2" / ids[0]));
}

TEST_CASE("backup: backups verify passes on an intact backup and names a file with one flipped byte", "[backup]") {
  auto doc = policy_doc("flip", "");
  must(cli({"apply", doc, "--auto-approve"}), "apply flip");
  std::string id = list_backups("flip").at(0)["id"];
  auto ok = cli({"backups", "verify", id});
  must(ok, "backups verify (intact)");
  CHECK(ok.out.find("intact") != std::string::npos);
  fs::path data = fx().repo / "backups" / "flip" / id / "data";
  fs::path victim;
  for (const auto& e : fs::directory_iterator(data))
    if (e.path().filename() != "toc.dat" && (victim.empty() || e.file_size() > fs::file_size(victim))) victim = e.path();
  REQUIRE_FALSE(victim.empty());
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(victim) / 2));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(fs::file_size(victim) / 2));
    f.put(static_cast<char>(c ^ 0x01));
  }
  auto bad = cli({"backups", "verify", id});
  CHECK(bad.exit_code == 1);
  CHECK((bad.out + bad.err).find("data/" + victim.filename().string()) != std::string::npos);
  CHECK(cli({"backups", "verify", "../../etc"}).exit_code == 1);  // ids are a timestamp pattern
}

TEST_CASE("backup: a restore of the latest backup into a fresh cluster matches the source", "[backup]") {
  auto doc = policy_doc("fresh", "");
  must(cli({"apply", doc, "--auto-approve"}), "apply fresh");
  instance::Instance fresh(instance::Options{});
  std::string rdoc = (fx().dir.path() / "fresh-restore.yaml").string();
  write_file_atomic(rdoc, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: fresh-restore}}
spec:
  from: {{repository: local, policy: fresh, backup: latest}}
  to: {{conninfo: "{}", database: {}, create: true}}
  jobs: 2
)",
                                      fresh.conninfo("postgres"), fx().source));
  auto plan = cli({"plan", rdoc, doc, "--only", "fresh-restore"});
  must(plan, "plan restore from the repository");
  CHECK(plan.out.find("bk_owner") != std::string::npos);
  must(cli({"apply", rdoc, doc, "--only", "fresh-restore", "--auto-approve"}), "apply restore from the repository");

  auto src = server().run_client({"pg_dump", "-s", "-d", fx().source});
  must(src, "pg_dump -s source");
  auto dst = fresh.run_client({"pg_dump", "-s", "-d", fx().source});
  must(dst, "pg_dump -s restored");
  CHECK(without_comments(dst.out) == without_comments(src.out));
  CHECK(src.out.find("OWNER TO bk_owner") != std::string::npos);
  std::string rows = "SELECT (SELECT count(*) FROM app.orders) || '/' || (SELECT count(*) FROM app.items) || '/' || "
                     "(SELECT md5(string_agg(o::text, ',' ORDER BY id)) FROM app.orders o)";
  auto a = server().run_client({"psql", "-X", "-At", "-d", fx().source, "-c", rows});
  auto b = fresh.run_client({"psql", "-X", "-At", "-d", fx().source, "-c", rows});
  must(a, "psql source");
  must(b, "psql restored");
  CHECK(a.out == b.out);
  auto member = fresh.run_client({"psql", "-X", "-At", "-d", "postgres", "-c", "SELECT pg_has_role('bk_owner', 'bk_reader', 'MEMBER')"});
  CHECK(member.out == "t\n");
}

TEST_CASE("backup: custom and tar backups are restored in place from the repository", "[backup][storage]") {
  // The archive is read from the repository's storage by byte ranges; pg_restore renders the
  // schema from a local copy of the TOC alone.
  for (std::string format : {"custom", "tar"}) {
    INFO(format);
    auto doc = policy_doc("fmt-" + format, "format: " + format + "\ncompression: none\n", "postgres", 1);
    must(cli({"apply", doc, "--auto-approve"}), "apply " + format);
    std::string target = fx().source + "_" + format;
    std::string rdoc = (fx().dir.path() / ("restore-" + format + ".yaml")).string();
    write_file_atomic(rdoc, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: restore-{}}}
spec:
  from: {{repository: local, policy: fmt-{}, backup: latest}}
  to: {{conninfo: "{}", database: {}, create: true}}
  jobs: 2
)",
                                        format, format, conninfo("postgres"), target));
    must(cli({"apply", rdoc, doc, "--only", "restore-" + format, "--auto-approve"}), "restore " + format);
    auto src = server().run_client({"pg_dump", "-s", "-d", fx().source});
    auto dst = server().run_client({"pg_dump", "-s", "-d", target});
    CHECK(without_comments(dst.out) == without_comments(src.out));
    std::string rows = "SELECT (SELECT count(*) FROM app.orders) || '/' || (SELECT md5(string_agg(o::text, ',' ORDER BY id)) FROM app.orders o)";
    auto a = server().run_client({"psql", "-X", "-At", "-d", fx().source, "-c", rows});
    auto b = server().run_client({"psql", "-X", "-At", "-d", target, "-c", rows});
    CHECK(a.out == b.out);
    CHECK(b.out.rfind("500/", 0) == 0);
  }
}

TEST_CASE("backup: a restore drill runs in a throwaway instance and records verified_at", "[backup]") {
  auto doc = policy_doc("drilled", R"(schedule: {every: 24h}
verify:
  drill:
    every: 168h
    sql: ["select count(*) = 500 from app.orders"]
)");
  auto plan = cli({"plan", doc});
  must(plan, "plan drilled");
  CHECK(plan.out.find("restored in a drill yet") != std::string::npos);
  must(cli({"apply", doc, "--auto-approve"}), "apply drilled");
  auto l = list_backups("drilled");
  REQUIRE(l.size() == 1);
  CHECK(l[0]["verified_at"].is_string());
  // The drill restored into a throwaway instance (its own socket folder), not into the source
  // server, and that instance is gone.
  auto v = nlohmann::json::parse(read_file(fx().repo / "backups" / "drilled" / l[0]["id"].get<std::string>() / "verification.json"));
  std::string run = v.at("drill_run");
  REQUIRE_FALSE(run.empty());
  auto drill_plan = nlohmann::json::parse(read_file(fx().dir.path() / "state" / "runs" / run / "plan.json"));
  std::string target = drill_plan.at("target").at("conninfo");
  CHECK(target.find(server().socket_dir().string()) == std::string::npos);
  auto host = target.find("host=");
  REQUIRE(host != std::string::npos);
  host += target[host + 5] == '\'' ? 6 : 5;
  std::string socket_dir = target.substr(host, target.find_first_of("' ", host) - host);
  CHECK(socket_dir.find("pgrecover-instance-") != std::string::npos);
  CHECK_FALSE(fs::exists(socket_dir));
  auto again = cli({"plan", doc, "--detailed-exitcode"});
  CHECK(again.exit_code == 0);

  // A failing check fails the drill, and the backup stays unverified.
  auto bad = policy_doc("drill-bad", R"(verify:
  drill:
    every: 1h
    sql: ["select count(*) = 7 from app.orders"]
)");
  auto r = cli({"apply", bad, "--auto-approve"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("drill") != std::string::npos);
  auto lb = list_backups("drill-bad");
  REQUIRE(lb.size() == 1);
  CHECK(lb[0]["verified_at"].is_null());
}

TEST_CASE("backup: pg_dump failing leaves nothing listed and names the table and the rights", "[backup]") {
  auto doc = policy_doc("denied", "", "bk_limited");
  // Plan time already says which table the role may not read, and how to fix it.
  auto plan = cli({"plan", doc});
  CHECK(plan.exit_code == 0);
  CHECK(plan.out.find("may not read table \"app\".\"secret\"") != std::string::npos);
  CHECK(plan.out.find("GRANT SELECT ON \"app\".\"secret\" TO \"bk_limited\"") != std::string::npos);
  CHECK(plan.out.find("app\".\"orders") == std::string::npos);  // readable tables are not named
  auto r = cli({"apply", doc, "--auto-approve"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("app.secret") != std::string::npos);
  CHECK(r.err.find("GRANT SELECT ON app.secret") != std::string::npos);
  CHECK(list_backups("denied").empty());
  fs::path pdir = fx().repo / "backups" / "denied";
  int entries = 0;
  if (fs::exists(pdir))
    for (const auto& e : fs::directory_iterator(pdir)) entries += e.path().filename() != ".lock";
  CHECK(entries == 0);
  // With the table left out, the same role can take the backup.
  auto ok = policy_doc("denied-ok", "select: {exclude_tables: [app.secret]}\n", "bk_limited");
  auto p2 = cli({"plan", ok});
  CHECK(p2.out.find("may not read") == std::string::npos);  // the excluded table is not warned about
  auto r2 = cli({"apply", ok, "--auto-approve"});
  must(r2, "apply with the table excluded");
  CHECK(r2.err.find("pg_authid") != std::string::npos);  // warned: no password hashes
  CHECK(list_backups("denied-ok").size() == 1);
}

TEST_CASE("backup: a connection lost during pg_dump leaves nothing and says so", "[backup]") {
  auto doc = policy_doc("lost", "");
  auto sql = [](const std::string& q) {
    auto r = server().run_client({"psql", "-X", "-At", "-d", fx().source, "-c", q});
    return r.out;
  };
  // Hold a lock pg_dump must wait for, then end pg_dump's session while it waits.
  std::thread locker([&] {
    sql("BEGIN; LOCK TABLE app.items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(20); COMMIT");
  });
  std::string locked = "SELECT count(*) FROM pg_locks WHERE relation = 'app.items'::regclass AND mode = 'AccessExclusiveLock' AND granted";
  for (int i = 0; i < 200 && sql(locked) != "1\n"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ProcessResult r;
  std::thread apply([&] { r = cli({"apply", doc, "--auto-approve"}); });
  std::string waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'";
  for (int i = 0; i < 400 && sql(waiting) == "0\n"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pg_dump'");
  apply.join();
  sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(20)%' AND pid <> pg_backend_pid()");
  locker.join();
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("connection to the source server was lost") != std::string::npos);
  CHECK(list_backups("lost").empty());
  int entries = 0;
  for (const auto& e : fs::directory_iterator(fx().repo / "backups" / "lost")) entries += e.path().filename() != ".lock";
  CHECK(entries == 0);
}

TEST_CASE("backup: a saved plan is refused as stale after the repository changed", "[backup]") {
  auto doc = policy_doc("stale", "retention: {keep_last: 1}\n");
  std::string planfile = (fx().dir.path() / "stale-plan.json").string();
  must(cli({"plan", doc, "--out", planfile}), "plan --out");
  // Someone else takes a backup of the same policy (another revision of the document).
  auto other = policy_doc("stale", "retention: {keep_last: 3}\n");
  must(cli({"apply", other, "--auto-approve"}), "apply stale (other revision)");
  auto r = cli({"apply", planfile});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("stale") != std::string::npos);
  CHECK(list_backups("stale").size() == 1);
}

TEST_CASE("backup: SIGINT during pg_dump stops it, keeps nothing, and the next apply finishes", "[backup][signal]") {
  auto doc = policy_doc("interrupted", "");
  auto sql = [](const std::string& q) {
    auto r = server().run_client({"psql", "-X", "-At", "-d", fx().source, "-c", q});
    return r.out;
  };
  // pg_dump waits for a lock, so the interrupt lands while it runs.
  std::thread locker([&] { sql("BEGIN; LOCK TABLE app.items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(20); COMMIT"); });
  std::string locked = "SELECT count(*) FROM pg_locks WHERE relation = 'app.items'::regclass AND mode = 'AccessExclusiveLock' AND granted";
  for (int i = 0; i < 200 && sql(locked) != "1\n"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  fs::path out = fx().dir.path() / "interrupted.out", err = fx().dir.path() / "interrupted.err";
  pid_t pid = spawn_apply(doc, out, err);
  std::string waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'";
  for (int i = 0; i < 400 && sql(waiting) == "0\n"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  REQUIRE(sql(waiting) != "0\n");
  ::kill(pid, SIGINT);
  int status = 0;
  for (int i = 0; i < 600 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  INFO(read_file(out) << read_file(err));
  REQUIRE(WIFEXITED(status));  // it handled the signal and exited by itself, well before the lock's 20 s
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump'") == "0\n");  // pg_dump is gone
  sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(20)%' AND pid <> pg_backend_pid()");
  locker.join();
  CHECK(list_backups("interrupted").empty());
  int entries = 0;
  for (const auto& e : fs::directory_iterator(fx().repo / "backups" / "interrupted")) entries += e.path().filename() != ".lock";
  CHECK(entries == 0);  // no .partial folder left behind
  auto again = cli({"apply", doc, "--auto-approve"});
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(again.err.find("interrupted run") != std::string::npos);  // the run was continued, not planned anew
  CHECK(list_backups("interrupted").size() == 1);
}

TEST_CASE("backup: pg_dump comes from [instance] bin_dir, never from another version on PATH", "[backup]") {
  TempDir empty;
  std::string config = (fx().dir.path() / "bin-dir.toml").string();
  write_file_atomic(config, fmt::format("state_dir = \"{}\"\n[repositories.local]\npath = \"{}\"\n[instance]\nbin_dir = \"{}\"\n",
                                        (fx().dir.path() / "state").string(), fx().repo.string(), empty.path().string()));
  auto doc = policy_doc("bin-dir", "");
  auto r = test::run_pgrecover({"--json", "--config", config, "apply", doc, "--auto-approve"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("pg_dump is not in [instance] bin_dir") != std::string::npos);
  CHECK(r.err.find("\"kind\":\"instance\"") != std::string::npos);  // the step's error kind, not "database"
  CHECK(list_backups("bin-dir").empty());
}

TEST_CASE("backup: a plan saved under any name is applied as that plan", "[backup]") {
  auto doc = policy_doc("tfplan", "");
  std::string planfile = (fx().dir.path() / "tfplan").string();
  must(cli({"plan", doc, "--out", planfile}), "plan --out tfplan");
  auto r = cli({"apply", planfile});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(list_backups("tfplan").size() == 1);
  // A file that is not a plan (and not YAML) says so, instead of a usage error about documents.
  std::string junk = (fx().dir.path() / "notaplan").string();
  write_file_atomic(junk, "{\"steps\": ");
  auto bad = cli({"apply", junk});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("not a plan file") != std::string::npos);
}

TEST_CASE("backup: SIGINT during a restore drill stops it, records no verdict and removes its instance", "[backup][signal]") {
  // The drill's check sleeps, so the interrupt lands while the drill runs.
  auto doc = policy_doc("drill-interrupted", "verify: {drill: {every: 1h, sql: [\"select pg_sleep(30) is not null\"]}}\n");
  TempDir tmp{"pgrecover-drill-tmp-"};
  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::path out = fx().dir.path() / "drill-int.out", err = fx().dir.path() / "drill-int.err";
  pid_t pid = spawn_apply(doc, out, err, tmp.path());  // the drill's throwaway instance goes into tmp
  // Wait until the drill started; its restore and then its 30 s check run for a while after that
  // (an interrupt during either must end the same way).
  auto logged = [&] { return fs::exists(err) && read_file(err).find("drill: restoring backup") != std::string::npos; };
  for (int i = 0; i < 1200 && !logged(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  REQUIRE(logged());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ::kill(pid, SIGINT);
  int status = 0;
  for (int i = 0; i < 800 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  INFO(read_file(out) << read_file(err));
  REQUIRE(WIFEXITED(status));  // well before the check's 30 s
  CHECK(WEXITSTATUS(status) == 130);
  auto backups = list_backups("drill-interrupted");
  REQUIRE(backups.size() == 1);  // the backup itself was complete before the drill
  CHECK(backups[0].at("verified_at").is_null());  // not verified ...
  fs::path verdict = fx().repo / "backups" / "drill-interrupted" / backups[0].at("id").get<std::string>() / "verification.json";
  CHECK((!fs::exists(verdict) || read_file(verdict).find("drill:") == std::string::npos));  // ... nor failed: no verdict
  int instances = 0;
  for (const auto& e : fs::directory_iterator(tmp.path())) instances += e.path().filename().string().rfind("pgrecover-instance-", 0) == 0;
  CHECK(instances == 0);  // the throwaway instance is gone
}
