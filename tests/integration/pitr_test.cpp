// Point-in-time recovery end to end, against real servers: a source cluster archiving through
// `pgrecover wal push`, a physical base backup (pg_basebackup) in the repository, and
// PointInTimeRecovery documents applied through the pgrecover binary into new data directories.
// As root the servers, archive_command and restore_command run as "postgres": the repository
// and the settings file belong to that user, as docs/pitr.md asks.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "app/restore.hpp"
#include "config/documents.hpp"
#include "engine/physical.hpp"
#include "executor/journal.hpp"
#include "executor/run_folder.hpp"
#include "instance/instance.hpp"
#include "model/plan.hpp"
#include "pg/pg.hpp"
#include "repository/physical.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "support/archiving_source.hpp"
#include "support/harness.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/time.hpp"
#include "util/tree_sync.hpp"

using namespace pgr;
using test::server_user;

namespace {

void give(const fs::path& p) { test::give_to_server_user(p); }

struct Source : test::ArchivingSource {
  fs::path repo;
  std::string between;  // a time stamp taken between two committed inserts
  repository::BackupInfo backup;

  Source() : ArchivingSource("pgrecover-pitr-test-", test::posix_repository, "local", "src", {{"full_page_writes", "on"}}) {
    repo = base.path() / "repo";
  }
  std::string source_conninfo() const { return conninfo(); }
};

Source& src() {
  static Source s;
  static bool prepared = false;
  if (prepared) return s;
  prepared = true;
  s.sql("CREATE TABLE orders (id int PRIMARY KEY, note text); CREATE TABLE audit (id int);"
        "INSERT INTO orders VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  // The base backup: a physical BackupPolicy applied with the binary (pg_basebackup).
  fs::path policy_file = s.write("policy.yaml", fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: src-physical}}
spec:
  source: {{conninfo: "{}"}}
  method: physical
  compression: gzip
  repository: local
  cluster: src
  retention: {{keep_last: 2}}
)", s.source_conninfo()));
  auto settings = config::load_settings(s.config.string());
  auto docs = config::load_documents({policy_file}, settings);
  REQUIRE(docs.policies.size() == 1);
  {
    auto source = pg::Connection::open(settings.connect_string(docs.policies[0].spec.source));
    CHECK(engine::check_archiving(source, docs.policies[0].spec.cluster).empty());
  }
  auto applied = test::run_pgrecover({"--config", s.config.string(), "apply", "--auto-approve", policy_file.string()});
  INFO(applied.out << applied.err);
  REQUIRE(applied.exit_code == 0);
  auto backups = repository::Repository::open(s.repo).list("src-physical");
  REQUIRE(backups.size() == 1);
  s.backup = backups.front();
  s.sql("INSERT INTO orders VALUES (4, 'd'); INSERT INTO orders VALUES (5, 'e')");
  s.sql("INSERT INTO orders VALUES (6, 'f')");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  s.between = s.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  s.sql("INSERT INTO orders VALUES (7, 'g')");
  // The restore point, created, archived and recorded by pgrecover.
  auto point = test::run_pgrecover({"--config", s.config.string(), "restore-point", "before_drop", "--policy",
                                    "src-physical", policy_file.string()});
  INFO(point.out << point.err);
  REQUIRE(point.exit_code == 0);
  REQUIRE(point.out.find("restore point \"before_drop\" at ") != std::string::npos);
  s.sql("DROP TABLE orders");
  s.sql("INSERT INTO audit SELECT generate_series(1, 100)");
  std::string segment = s.archive_current_segment();
  REQUIRE(repository::WalArchive(s.repo, "src").find(segment).has_value());
  return s;
}

std::string recovery_doc(const std::string& name, const std::string& target, const std::string& action,
                         const fs::path& data_dir, const std::string& extra = "") {
  return fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: src-physical}}
spec:
  source: {{conninfo: "{}"}}
  method: physical
  repository: local
  cluster: src
---
apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {{name: {}}}
spec:
  from: {{policy: src-physical}}
  target: {}
  action: {}
  to: {{data_directory: "{}"}}
  timeout: 2m
{})",
                     src().source_conninfo(), name, target, action, data_dir.string(), extra);
}

ProcessResult pgrecover(const std::vector<std::string>& args, std::vector<std::string> env = {}) {
  std::vector<std::string> all = {"--config", src().config.string()};
  all.insert(all.end(), args.begin(), args.end());
  return test::run_pgrecover(all, std::move(env));
}

// The --json event lines of an apply that are `event` for a step of `kind`.
int events(const std::string& out, const std::string& event, const std::string& kind) {
  int n = 0;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    n += line.find("\"event\":\"" + event + "\"") != std::string::npos &&
         line.find("\"kind\":\"" + kind + "\"") != std::string::npos;
  }
  return n;
}

// psql against the recovered server in data_dir (its postmaster.pid says where it listens).
std::string recovered_sql(const fs::path& data_dir, const std::string& q) {
  instance::PostmasterInfo pm;
  REQUIRE(instance::read_postmaster_pid(data_dir, pm));
  auto c = pg::Connection::open(fmt::format("host={} port={} user=postgres dbname=postgres", pm.socket_dir, pm.port));
  auto r = c.exec(q);
  return r.rows() ? r.str(0, 0) : "";
}

using test::stop_server;

// <base>/<name>/data: each recovered server gets its own folder (and server log beside it),
// which the server's user can reach.
fs::path data_dir_in(const std::string& name) {
  fs::path parent = src().base.path() / name;
  fs::create_directories(parent);
  fs::permissions(parent, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::replace);
  return parent / "data";
}

struct StopAtEnd {
  fs::path dir;
  ~StopAtEnd() { stop_server(dir); }
};

}  // namespace

TEST_CASE("recovery to a named restore point brings back the dropped table with exactly the rows before it", "[pitr]") {
  fs::path dd = data_dir_in("before-drop");
  StopAtEnd stop{dd};
  fs::path doc = src().write("pitr-name.yaml", recovery_doc("to-before-drop", "{name: before_drop}", "pause", dd));
  auto plan = pgrecover({"plan", doc.string(), "--only", "to-before-drop"});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  for (const char* kind : {"verify-backup", "data-directory", "extract", "recovery-settings", "server-start",
                           "recovery-target", "pause"}) {
    CHECK(plan.out.find(kind) != std::string::npos);
  }
  CHECK(plan.out.find(src().backup.id) != std::string::npos);
  CHECK(plan.out.find("is in the archive") != std::string::npos);

  // --json: the step-done events carry each step's note.
  auto apply = pgrecover({"--json", "apply", doc.string(), "--only", "to-before-drop", "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(recovered_sql(dd, "SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "1,2,3,4,5,6,7");
  CHECK(recovered_sql(dd, "SELECT count(*) FROM audit") == "0");
  CHECK(recovered_sql(dd, "SELECT pg_is_in_recovery()::text || ' ' || pg_get_wal_replay_pause_state()") == "true paused");
  // The server-start step saw the recovering server take connections in postmaster.pid itself
  // (every 10 ms) rather than at pg_ctl -w's next look (every 100 ms).
  CHECK(apply.out.find("taking connections (postmaster.pid: ") != std::string::npos);
  CHECK(fs::exists(dd / "recovery.signal"));
  struct stat st {};
  REQUIRE(::stat(dd.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  if (auto u = server_user()) CHECK(st.st_uid == u->uid);

  // Planning the same document again shows its finished run: nothing to do.
  auto replan = pgrecover({"plan", doc.string(), "--only", "to-before-drop", "--detailed-exitcode", "--show-unchanged"});
  INFO(replan.out << replan.err);
  CHECK(replan.exit_code == 0);
  CHECK(replan.out.find("done by run") != std::string::npos);
  auto again = pgrecover({"apply", doc.string(), "--only", "to-before-drop", "--auto-approve"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("No changes") != std::string::npos);

  // Once that recovered cluster is gone, the same document recovers again (a new run).
  stop_server(dd);
  fs::remove_all(dd);
  auto anew = pgrecover({"apply", doc.string(), "--only", "to-before-drop", "--auto-approve"});
  INFO(anew.out << anew.err);
  REQUIRE(anew.exit_code == 0);
  CHECK(anew.out.find("No changes") == std::string::npos);
  CHECK(recovered_sql(dd, "SELECT count(*) FROM orders") == "7");
}

TEST_CASE("recovery to a time between two inserts, resumed after a failed check, then promoted", "[pitr]") {
  fs::path dd = data_dir_in("to-time");
  StopAtEnd stop{dd};
  fs::path go = src().base.path() / "go";
  std::string extra = fmt::format("  verify:\n    sql: [\"select (pg_stat_file('{}', true)).size is not null\", \"select count(*) = 6 from orders\"]\n",
                                  go.string());
  fs::path doc = src().write("pitr-time.yaml", recovery_doc("to-time", fmt::format("{{time: \"{}\"}}", src().between),
                                                            "promote", dd, extra));
  // First run: the first check fails (no "go" file yet); the server stays paused at the target.
  auto first = pgrecover({"apply", doc.string(), "--only", "to-time", "--auto-approve"});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 1);
  CHECK(first.err.find("returned false") != std::string::npos);
  CHECK(recovered_sql(dd, "SELECT pg_is_in_recovery()::text") == "true");

  write_file_atomic(go, "");
  auto second = pgrecover({"apply", doc.string(), "--only", "to-time", "--auto-approve"});
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(second.out.find("done by earlier runs") != std::string::npos);
  CHECK(second.out.find("6 done by earlier runs") != std::string::npos);  // everything before verify
  CHECK(recovered_sql(dd, "SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "1,2,3,4,5,6");
  CHECK(recovered_sql(dd, "SELECT pg_is_in_recovery()::text") == "false");
  // promoted: writable, on a new timeline
  CHECK(recovered_sql(dd, "INSERT INTO orders VALUES (8, 'new') RETURNING id") == "8");
}

TEST_CASE("a verify check that returns NULL fails the run and leaves the server paused", "[pitr]") {
  fs::path dd = data_dir_in("null-check");
  StopAtEnd stop{dd};
  fs::path doc = src().write("pitr-null.yaml", recovery_doc("null-check", "{immediate: true}", "promote", dd,
                                                             "  verify:\n    sql: [\"select null::boolean\"]\n"));
  auto r = pgrecover({"--json", "apply", doc.string(), "--only", "null-check", "--auto-approve"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("returned NULL") != std::string::npos);
  CHECK(r.err.find("\"kind\":\"database\"") != std::string::npos);
  // not promoted: still in recovery, paused at the target
  CHECK(recovered_sql(dd, "SELECT pg_is_in_recovery()::text || ' ' || pg_get_wal_replay_pause_state()") == "true paused");
}

TEST_CASE("a target after the end of the archive ends with a clear error, not a hang", "[pitr]") {
  fs::path dd = data_dir_in("too-late");
  StopAtEnd stop{dd};
  fs::path doc = src().write("pitr-late.yaml", recovery_doc("too-late", "{time: \"2999-01-01T00:00:00Z\"}", "pause", dd));
  auto t0 = std::chrono::steady_clock::now();
  auto r = pgrecover({"apply", doc.string(), "--only", "too-late", "--auto-approve"});
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("recovery ended before the configured target was reached") != std::string::npos);
  CHECK(r.err.find("was not in the archive") != std::string::npos);
  CHECK(seconds < 100);
}

TEST_CASE("a PITR plan refuses a non-empty data directory and names missing WAL", "[pitr]") {
  fs::path dd = data_dir_in("occupied");
  fs::create_directories(dd);
  write_file_atomic(dd / "precious", "data");
  fs::path doc = src().write("pitr-occupied.yaml", recovery_doc("occupied", "{immediate: true}", "shutdown", dd));
  auto r = pgrecover({"plan", doc.string(), "--only", "occupied"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("is not empty") != std::string::npos);
  CHECK(read_file(dd / "precious") == "data");

  // an LSN target beyond the archive: the plan names the first missing segment
  auto info = repository::physical_info(repository::Repository::open(src().repo).read_manifest(src().backup));
  std::uint64_t far = repository::parse_lsn(info.stop_lsn) + 40 * info.wal_segment_size;
  fs::path dd2 = data_dir_in("far");
  fs::path doc2 = src().write("pitr-far.yaml", recovery_doc("far", fmt::format("{{lsn: \"{}\"}}", repository::format_lsn(far)),
                                                             "pause", dd2));
  auto r2 = pgrecover({"plan", doc2.string(), "--only", "far"});
  INFO(r2.err);
  CHECK(r2.exit_code == 1);
  CHECK(r2.err.find("lacks segments") != std::string::npos);
  CHECK(r2.err.find(repository::segment_name(info.timeline, repository::segment_number(far, info.wal_segment_size),
                                             info.wal_segment_size)) != std::string::npos);
}

TEST_CASE("the base backup records what recovery needs and pg_basebackup's own manifest", "[pitr]") {
  auto repo = repository::Repository::open(src().repo);
  auto m = repo.read_manifest(src().backup);
  CHECK(m.kind == "physical");
  CHECK(m.system_identifier == src().sql("SELECT system_identifier::text FROM pg_control_system()"));
  auto info = repository::physical_info(m);
  CHECK(info.wal_cluster == "src");
  CHECK(info.timeline == 1);
  CHECK(repository::parse_lsn(info.stop_lsn) > repository::parse_lsn(info.start_lsn));
  CHECK(info.base_file == "base.tar.gz");
  CHECK(fs::exists(fs::path(src().backup.location) / "backup_manifest"));
  CHECK(repo.verify_files(src().backup).empty());
  CHECK(repository::read_tar_member(repo.storage(), repository::Repository::file_key(src().backup, info.base_file),
                                    "backup_label")
            .find("START WAL LOCATION") != std::string::npos);
}

TEST_CASE("an apply killed in the middle of the extract is continued: the half-extracted folder is redone", "[pitr]") {
  fs::path dd = data_dir_in("crashed");
  StopAtEnd stop{dd};
  fs::path doc = src().write("pitr-crashed.yaml", recovery_doc("crashed", "{name: before_drop}", "shutdown", dd));
  fs::path plan_file = src().base.path() / "crashed-plan.json";
  auto planned = pgrecover({"plan", doc.string(), "--only", "crashed", "--out", plan_file.string()});
  INFO(planned.out << planned.err);
  REQUIRE(planned.exit_code == 0);
  // What a run killed during the extract leaves: its journal (verify-backup and data-directory
  // done, extract started) and a data directory with part of the files.
  auto plan = model::load_plan(plan_file.string());
  auto settings = config::load_settings(src().config.string());
  fs::path run = executor::run_dir(settings.state_dir, plan.id);
  create_private_dirs(run);
  model::save_plan(plan, (run / "plan.json").string());
  {
    auto journal = executor::Journal::open(run, plan.id);
    auto now = now_iso8601();
    journal.append({"run-start", "", now, 1, 0, 0, 0, ""}, true);
    for (const char* id : {"verify-backup", "data-directory"}) {
      journal.append({"start", id, now, 1, 0, 0, 0, ""}, false);
      journal.append({"done", id, now, 1, 0, 0, 1, ""}, true);
    }
    journal.append({"start", "extract", now, 1, 0, 0, 0, ""}, true);
  }
  fs::create_directories(dd / "base" / "1");
  write_file_atomic(dd / "PG_VERSION", "1");  // torn
  write_file_atomic(dd / "base" / "1" / "99999", "half a relation");
  fs::permissions(dd, fs::perms::owner_all, fs::perm_options::replace);
  give(dd);

  auto resumed = pgrecover({"apply", plan_file.string()});
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.out.find("Run 2 of plan") != std::string::npos);
  CHECK(resumed.out.find("2 done by earlier runs") != std::string::npos);
  CHECK_FALSE(fs::exists(dd / "base" / "1" / "99999"));
  CHECK(read_file(dd / "PG_VERSION") == "15\n");
  CHECK_FALSE(fs::exists(dd / "postmaster.pid"));  // action shutdown stopped it at the target
  auto log = read_file(dd.parent_path() / "postgresql.log");
  CHECK(log.find("recovery stopping at restore point \"before_drop\"") != std::string::npos);
}

TEST_CASE("an apply killed after the extract wrote every file, before they were made durable, redoes the extract "
          "and recovers", "[pitr]") {
  fs::path dd = data_dir_in("killed-extract");
  StopAtEnd stop{dd};
  fs::path doc = src().write("pitr-killed.yaml", recovery_doc("killed-extract", "{immediate: true}", "promote", dd));
  auto killed = pgrecover({"--json", "apply", doc.string(), "--only", "killed-extract", "--auto-approve"},
                          {"PGRECOVER_TEST_KILL_AFTER_EXTRACT=1"});
  INFO(killed.out << killed.err);
  REQUIRE(killed.term_signal == SIGKILL);
  CHECK(fs::exists(dd / "PG_VERSION"));              // the files were written ...
  CHECK(events(killed.out, "step-start", "extract") == 1);
  CHECK(events(killed.out, "step-done", "extract") == 0);  // ... the step did not finish
  CHECK_FALSE(fs::exists(dd / "postmaster.pid"));

  auto resumed = pgrecover({"--json", "apply", doc.string(), "--only", "killed-extract", "--auto-approve"});
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  // The extract ran again (emptying what the killed run left), made the tree durable in one call
  // per file system, and the server started on it, recovered and was promoted.
  CHECK(events(resumed.out, "step-done", "extract") == 1);
  CHECK(events(resumed.out, "step-done", "data-directory") == 0);  // done by the killed run
  if (syncfs_reports_errors()) CHECK(resumed.out.find("syncfs") != std::string::npos);
  CHECK(resumed.out.find("promoted: open for writes on timeline") != std::string::npos);
  CHECK(recovered_sql(dd, "SELECT pg_is_in_recovery()::text") == "false");
  CHECK(recovered_sql(dd, "SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "1,2,3");
  CHECK(recovered_sql(dd, "INSERT INTO audit VALUES (1) RETURNING id") == "1");
  // For this start only, the server made the restored files durable with one syncfs too.
  if (syncfs_reports_errors()) {
    CHECK(recovered_sql(dd, "SELECT setting FROM pg_settings WHERE name = 'recovery_init_sync_method'") == "syncfs");
  }
  CHECK(read_file(dd / "postgresql.auto.conf").find("recovery_init_sync_method") == std::string::npos);
}

TEST_CASE("a physical policy's archiving check warns when the source does not archive", "[pitr]") {
  auto plain = pg::Connection::open(test::server().conninfo());  // archive_mode = off
  auto warnings = engine::check_archiving(plain, "src");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("archive_mode = off") != std::string::npos);
  auto archiving = pg::Connection::open(src().server->conninfo());
  CHECK(engine::check_archiving(archiving, "src").empty());
  auto other = engine::check_archiving(archiving, "another-cluster");
  REQUIRE(other.size() == 1);
  CHECK(other[0].find("does not push into cluster \"another-cluster\"") != std::string::npos);
}

TEST_CASE("an unknown restore point is refused by the plan, listing the recorded ones, before anything is touched", "[pitr]") {
  fs::path dd = data_dir_in("unknown-point");
  fs::path doc = src().write("pitr-unknown.yaml", recovery_doc("unknown-point", "{name: no_such_point}", "pause", dd));
  for (const char* cmd : {"plan", "apply"}) {
    std::vector<std::string> args = {cmd, doc.string(), "--only", "unknown-point"};
    if (std::string(cmd) == "apply") args.push_back("--auto-approve");
    auto r = pgrecover(args);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("restore point \"no_such_point\" is not recorded") != std::string::npos);
    CHECK(r.err.find("(known: before_drop)") != std::string::npos);
    CHECK_FALSE(fs::exists(dd));
  }
  // creating one twice is refused too
  auto again = pgrecover({"restore-point", "before_drop", "--policy", "src-physical", src().base.path().string() + "/policy.yaml"});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("already recorded") != std::string::npos);
}
