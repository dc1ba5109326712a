// A big table loaded by several sessions (split_tables_larger_than, lowered to 1MB so that a
// table of a few MB is split into several chunks): the same data as pg_restore of the same
// archive, and a resume after the apply was killed in the middle of the split table (right after
// a chunk committed, before its end was journaled: the hardest point) that loads no row twice.
// The split table has no primary key, so a row loaded twice would show in its count and checksum.
#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "archive/archive.hpp"
#include "executor/split_load.hpp"
#include "pg/pg.hpp"
#include "support/harness.hpp"
#include "util/fs.hpp"

using namespace pgr;
using test::must;
using test::psql;
using test::schema_of;
using test::server;

namespace {

struct Fixture {
  test::Workspace w{"pgrecover-split-test"};
  std::string archive, reference = "split_ref", source = "split_src";
  Fixture() {
    psql("postgres", "CREATE DATABASE " + source);
    // ~7 MB of rows (about 4 MB stored, gzip); values with tabs, newlines and backslashes, which
    // COPY escapes, so a raw newline always ends a row.
    psql(source, R"(
      CREATE TABLE big (id int, v text, n numeric, note text);
      INSERT INTO big SELECT g, md5(g::text) || md5((g * 7)::text), g * 1.5,
        CASE WHEN g % 10 = 0 THEN E'line one\nline two\ttab \\ back' ELSE NULL END
        FROM generate_series(1, 100000) g;
      INSERT INTO big SELECT id, v, n, note FROM big WHERE id % 1000 = 0;  -- true duplicates, kept
      CREATE INDEX big_id ON big (id);
      CREATE TABLE small (id int PRIMARY KEY, name text);
      INSERT INTO small SELECT g, 'n' || g FROM generate_series(1, 500) g;
    )");
    archive = w.folder("split.dir").string();
    std::filesystem::remove(archive);
    must(server().run_client({"pg_dump", "-Fd", "-f", archive, "-d", source}), "pg_dump");
    psql("postgres", "CREATE DATABASE " + reference);
    must(server().run_client({"pg_restore", "-d", reference, archive}), "pg_restore");
  }
  std::string doc(const std::string& db) {
    return w.write(db + ".yaml", test::restore_yaml(archive, db, "  split_tables_larger_than: 1MB\n")).string();
  }
  std::string journal_text() const {
    std::string all;
    for (const auto& f : std::filesystem::recursive_directory_iterator(w.base.path() / "state"))
      if (f.path().filename() == "journal") all += read_file(f.path());
    return all;
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

// Row count and an order-independent checksum of a table (duplicates count).
std::string digest(const std::string& db, const std::string& table) {
  return psql(db, fmt::format("SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t",
                              table));
}

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("split load: a table above the threshold is loaded in chunks by two sessions, as pg_restore would", "[split]") {
  auto& f = fx();
  std::string db = "split_once";
  auto plan = f.w.pgrecover({"plan", f.doc(db)});
  must(plan, "plan");
  CHECK(plan.out.find("split across 2 sessions") != std::string::npos);
  auto apply = f.w.pgrecover({"apply", "--auto-approve", f.doc(db)});
  must(apply, "apply");
  CHECK(schema_of(db) == schema_of(f.reference));
  CHECK(digest(db, "big") == digest(f.reference, "big"));
  CHECK(digest(db, "small") == digest(f.reference, "small"));
  CHECK(psql(db, "SELECT count(*) FROM big").find("100100") != std::string::npos);
  // Really split: several chunks, each journaled once committed.
  std::string j = f.journal_text();
  CHECK(count_of(j, "\"type\":\"part\"") >= 3);
  CHECK(count_of(j, "\"type\":\"part-commit\"") == count_of(j, "\"type\":\"part\""));
}

TEST_CASE("split load: killed right after a chunk committed, the next apply loads no row twice", "[split][resume]") {
  auto& f = fx();
  std::string db = "split_killed";
  std::string doc = f.doc(db);
  // Test hook (split_load.hpp): SIGKILL itself after the 2nd chunk's COMMIT, before its "part"
  // record; the other session's chunk in flight rolls back with its connection.
  auto killed = f.w.pgrecover({"apply", "--auto-approve", doc}, {"PGRECOVER_TEST_KILL_AFTER_PARTS=2"});
  REQUIRE(killed.term_signal == 9);
  std::string before = f.journal_text();
  CHECK(count_of(before, "\"type\":\"part-commit\"") >= 2);
  std::string partial = psql(db, "SELECT count(*) FROM big");
  CHECK(partial.find("100100") == std::string::npos);  // stopped in the middle
  auto resumed = f.w.pgrecover({"apply", "--auto-approve", doc});
  must(resumed, "resumed apply");
  CHECK(digest(db, "big") == digest(f.reference, "big"));
  CHECK(digest(db, "small") == digest(f.reference, "small"));
  CHECK(schema_of(db) == schema_of(f.reference));
  std::string after = f.journal_text();
  CHECK(after.find("loaded by an earlier run") != std::string::npos);
}

TEST_CASE("split load: a session asked back between two chunks ends, frees its slot, and no row is lost or doubled",
          "[split][slots]") {
  // split_load itself against the server, with the executor's side played here: two slots at
  // first, one asked back after the second chunk is journaled (as the executor does when ready
  // work on a longer critical path finds no free slot).
  auto& f = fx();
  std::string db = "split_giveback";
  psql("postgres", "CREATE DATABASE " + db);
  psql(db, "CREATE TABLE big (id int, v text, n numeric, note text)");
  auto a = archive::Archive::open(f.archive);
  const archive::TocEntry* data = nullptr;
  for (const auto& e : a->toc().entries)
    if (e.desc == "TABLE DATA" && e.tag == "big") data = &e;
  REQUIRE(data != nullptr);
  auto reader = a->open_data(*data);

  executor::SplitLoad job;
  job.copy_sql = "COPY public.big (id, v, n, note) FROM stdin";
  job.truncate_sql = "TRUNCATE ONLY public.big";
  job.chunk_bytes = 512 << 10;
  job.sessions = 2;
  std::atomic<int> slots{2}, freed{0}, parts{0};
  std::mutex mu;
  executor::StepContext ctx;
  ctx.slots = &slots;
  ctx.slot_freed = [&] { freed++; };
  ctx.journal_part = [&](executor::JournalRecord r, bool) {
    std::lock_guard lock(mu);
    if (r.type == "part" && ++parts == 2) slots = 1;
  };
  std::atomic<bool> cancelled{false};
  auto open = [&] { return pg::Connection::open(test::server_conninfo(db), "split test"); };
  auto out = executor::split_load(job, *reader, open, ctx, cancelled);
  CHECK(out.rows == 100100);
  CHECK(parts >= 5);
  // One session ended when asked (its slot freed at once); the last never ends early. When the
  // chunks run out, no second session is left to end.
  CHECK(freed == 1);
  CHECK(digest(db, "big") == digest(f.reference, "big"));
}
