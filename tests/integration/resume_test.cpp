// Fault tests: an apply killed with SIGKILL at about a quarter, a half and three quarters of its
// normal time, then the same command again, must give what pg_restore gives, without redoing
// finished steps. SIGINT stops cleanly (exit 130, valid journal) and the next run finishes.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/harness.hpp"
#include "util/fs.hpp"

extern char** environ;

using namespace pgr;
using test::must;
using test::schema_of;
using test::psql;
using test::server;
using Clock = std::chrono::steady_clock;

namespace {

struct Fixture {
  TempDir dir{"pgrecover-resume-test-"};
  std::string archive, config, reference = "resume_ref";
  Fixture() {
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    std::string src = "resume_src";
    psql("postgres", "CREATE DATABASE " + src);
    // Enough work that a restore takes a few seconds: several tables, indexes, foreign keys.
    psql(src, R"(
      CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL);
      INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 50000) g;
      CREATE TABLE child_a (id bigserial PRIMARY KEY, parent_id int REFERENCES parent(id), v text, n numeric);
      CREATE TABLE child_b (id bigserial PRIMARY KEY, parent_id int REFERENCES parent(id), v text, n numeric);
      CREATE TABLE child_c (id bigserial PRIMARY KEY, parent_id int REFERENCES parent(id), v text, n numeric);
      INSERT INTO child_a (parent_id, v, n) SELECT 1 + g % 50000, md5(g::text), g * 1.5 FROM generate_series(1, 300000) g;
      INSERT INTO child_b (parent_id, v, n) SELECT 1 + g % 50000, md5((g * 7)::text), g FROM generate_series(1, 250000) g;
      INSERT INTO child_c (parent_id, v, n) SELECT 1 + g % 50000, repeat('x', g % 50), g FROM generate_series(1, 200000) g;
      CREATE INDEX ON child_a (parent_id); CREATE INDEX ON child_a (v);
      CREATE INDEX ON child_b (parent_id); CREATE INDEX ON child_b (v);
      CREATE INDEX ON child_c (parent_id, n);
      CREATE TABLE small1 AS SELECT g AS id FROM generate_series(1, 1000) g;
      CREATE TABLE small2 AS SELECT g AS id, now() AS at FROM generate_series(1, 1000) g;
    )");
    archive = (dir.path() / "resume.dir").string();
    must(server().run_client({"pg_dump", "-Fd", "-j2", "-f", archive, "-d", src}), "pg_dump");
    psql("postgres", "CREATE DATABASE " + reference);
    must(server().run_client({"pg_restore", "-j2", "-d", reference, archive}), "pg_restore");
    config = (dir.path() / "pgrecover.toml").string();
    write_file_atomic(config, fmt::format("state_dir = \"{}\"\n", (dir.path() / "state").string()));
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

std::string doc_for(const std::string& db) {
  std::string path = (fx().dir.path() / (db + ".yaml")).string();
  write_file_atomic(path, test::restore_yaml(fx().archive, db));
  return path;
}

// Starts pgrecover in the background; returns its pid.
pid_t spawn_pgrecover(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {PGRECOVER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return pid;
}

// How a child ended: an exit code, or the signal that killed it (never confused with each other:
// a process killed by SIGINT did not exit cleanly with 130).
struct Ended {
  bool exited = false;
  int code = -1;    // when exited
  int signal = 0;   // when killed
};
Ended wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  Ended e;
  e.exited = WIFEXITED(status);
  if (e.exited) e.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
  return e;
}

std::string data_of(const std::string& db) {
  std::string out;
  for (const char* t : {"parent", "child_a", "child_b", "child_c", "small1", "small2"}) {
    // order-independent and sort-free: a sum of row hashes
    out += psql(db, fmt::format("select '{0}', count(*), sum(hashtext(x::text)::bigint), sum(length(x::text)) from {0} x", t));
  }
  out += psql(db, "select string_agg(sequencename || '=' || coalesce(last_value, 0), ',' order by 1) from pg_sequences");
  return out;
}

// The run folder's journal: step -> the runs that started it / finished it.
struct JournalView {
  std::map<std::string, std::set<int>> started, done;
  std::set<int> ended;  // runs that journaled their end
};
JournalView read_journal(const std::string& db) {
  JournalView v;
  for (auto& run : fs::directory_iterator(fx().dir.path() / "state" / "runs")) {
    auto plan = nlohmann::json::parse(read_file(run.path() / "plan.json"));
    if (plan["target"]["database"] != db) continue;
    std::string text = read_file(run.path() / "journal");
    size_t pos = text.find('\n') + 1;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      auto j = nlohmann::json::parse(text.substr(pos + 9, nl - pos - 9));
      if (j["type"] == "run-end") v.ended.insert(j["run"].get<int>());
      if (j.contains("step")) {
        if (j["type"] == "start") v.started[j["step"]].insert(j["run"].get<int>());
        if (j["type"] == "done") v.done[j["step"]].insert(j["run"].get<int>());
      }
      pos = nl + 1;
    }
  }
  return v;
}

}  // namespace

TEST_CASE("SIGKILL at 25%, 50% and 75% of a restore, then the same command again, equals pg_restore", "[resume]") {
  // One uninterrupted run for the reference time (after a warm-up run, so caches are equal).
  REQUIRE(test::run_pgrecover({"--config", fx().config, "apply", "--auto-approve", doc_for("resume_warm")}).exit_code == 0);
  std::string base_db = "resume_whole";
  auto t0 = Clock::now();
  auto whole = test::run_pgrecover({"--config", fx().config, "apply", "--auto-approve", doc_for(base_db)});
  double whole_s = std::chrono::duration<double>(Clock::now() - t0).count();
  INFO(whole.err);
  REQUIRE(whole.exit_code == 0);
  std::string want_schema = schema_of(fx().reference);
  std::string want_data = data_of(fx().reference);
  CHECK(schema_of(base_db) == want_schema);
  CHECK(data_of(base_db) == want_data);

  for (double fraction : {0.25, 0.5, 0.75}) {
    std::string db = fmt::format("resume_kill_{}", static_cast<int>(fraction * 100));
    {
      INFO("killed at " << fraction * 100 << "% of " << whole_s << "s");
      std::string doc = doc_for(db);
      // The kill must land mid-run: if the apply finished first (the machine was faster than the
      // reference run), or was killed only after journaling its end (in its report), start over
      // on a new database with a shorter delay.
      double delay = whole_s * fraction;
      Ended first;
      Clock::time_point started;
      for (int attempt = 0; attempt < 6; ++attempt) {
        if (attempt > 0) {
          db += "_r";
          doc = doc_for(db);
          delay /= 2;
        }
        started = Clock::now();
        pid_t pid = spawn_pgrecover({"--config", fx().config, "apply", "--auto-approve", doc});
        std::this_thread::sleep_for(std::chrono::duration<double>(delay));
        ::kill(pid, SIGKILL);
        first = wait_exit(pid);
        if (first.signal == SIGKILL && read_journal(db).ended.empty()) break;
      }
      REQUIRE(first.signal == SIGKILL);
      auto second = test::run_pgrecover({"--config", fx().config, "apply", "--auto-approve", doc});
      double both_s = std::chrono::duration<double>(Clock::now() - started).count();
      INFO(second.out << second.err);
      WARN(fmt::format("killed at {:.0f}%: two runs took {:.2f}s, one uninterrupted run {:.2f}s, ratio {:.2f}",
                       fraction * 100, both_s, whole_s, both_s / whole_s));
      REQUIRE(second.exit_code == 0);
      CHECK(schema_of(db) == want_schema);
      CHECK(data_of(db) == want_data);
      // Finished work is not redone: no step done in run 1 was started again in run 2.
      auto j = read_journal(db);
      int redone = 0, done_first = 0;
      for (auto& [step, runs] : j.done) {
        if (!runs.count(1)) continue;
        ++done_first;
        if (j.started[step].count(2)) ++redone;
      }
      CHECK(redone == 0);
      CHECK(second.err.find("interrupted run") != std::string::npos);
      CHECK(done_first > 0);
    }
  }
}

TEST_CASE("SIGINT stops an apply cleanly, the next run finishes it", "[resume][signal]") {
  std::string db = "resume_sigint";
  std::string doc = doc_for(db);
  pid_t pid = spawn_pgrecover({"--config", fx().config, "apply", "--auto-approve", doc});
  // Wait until data loading has begun, then interrupt.
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::string n = psql("postgres", fmt::format("select count(*) from pg_stat_activity where datname = '{}' and query ilike '%copy %from stdin%'", db));
    if (n != "0\n") break;
  }
  ::kill(pid, SIGINT);
  Ended rc = wait_exit(pid);
  CHECK(rc.exited);       // it handled the signal and exited by itself ...
  CHECK(rc.code == 130);  // ... with the documented code for an interrupted apply
  // No transaction of ours is left open on the server.
  for (int i = 0; i < 100; ++i) {
    if (psql("postgres", fmt::format("select count(*) from pg_stat_activity where datname = '{}'", db)) == "0\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(psql("postgres", fmt::format("select count(*) from pg_stat_activity where datname = '{}'", db)) == "0\n");
  auto again = test::run_pgrecover({"--config", fx().config, "apply", "--auto-approve", doc});
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(schema_of(db) == schema_of(fx().reference));
  CHECK(data_of(db) == data_of(fx().reference));
}
