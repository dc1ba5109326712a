// The libpq layer against a real server: errors, parameters, COPY in and out.
#include <catch2/catch.hpp>

#include "pg/check.hpp"
#include "support/harness.hpp"
#include "util/log.hpp"

using namespace pgr;

TEST_CASE("a query error carries SQLSTATE, message, detail and hint", "[pg]") {
  auto c = pg::Connection::open(test::server().conninfo());
  try {
    c.exec("select * from no_such_table");
    FAIL("no error");
  } catch (const pg::DbError& e) {
    CHECK(e.sqlstate() == "42P01");
    CHECK(e.primary() == "relation \"no_such_table\" does not exist");
    CHECK(e.kind() == ErrorKind::database);
  }
  c.exec("create temp table u (id int primary key)");
  c.exec("insert into u values (1)");
  try {
    c.exec("insert into u values (1)");
    FAIL("no error");
  } catch (const pg::DbError& e) {
    CHECK(e.sqlstate() == "23505");
    CHECK(e.detail() == "Key (id)=(1) already exists.");
  }
  try {
    c.exec("select pg_catalog.length(1)");
    FAIL("no error");
  } catch (const pg::DbError& e) {
    CHECK(e.sqlstate() == "42883");
    CHECK_FALSE(e.hint().empty());  // "No function matches ... You might need to add explicit type casts."
  }
  // the connection is still usable after errors
  CHECK(c.exec("select 1").str(0, 0) == "1");
}

TEST_CASE("parameters are passed as values, never spliced into SQL", "[pg]") {
  auto c = pg::Connection::open(test::server().conninfo());
  auto r = c.exec("select $1::text, $2::text is null", {std::string("x'; drop table y; --"), std::nullopt});
  CHECK(r.str(0, 0) == "x'; drop table y; --");
  CHECK(r.boolean(0, 1));
  CHECK(c.quote_ident("We\"ird") == "\"We\"\"ird\"");
}

TEST_CASE("COPY in and out round-trips awkward bytes", "[pg][copy]") {
  std::string db = test::fresh_database("copy");
  auto c = pg::Connection::open(test::server().conninfo(db));
  c.exec("create table awkward (id int, t text, b bytea)");
  // Rows in COPY text format: tab, newline, backslash escaped; \N is NULL; bytea with non-UTF-8.
  std::string rows =
      "1\ttab\\there\t\\\\x00ff80fe\n"
      "2\tnew\\nline\t\\N\n"
      "3\tback\\\\slash\t\\\\x5c5c\n"
      "4\t\\N\t\\\\x\n"
      "5\tüñíçødé ✓\t\\\\xc328\n";
  auto in = c.copy_in("copy awkward from stdin");
  in.put(rows.substr(0, 17));  // split mid-row: COPY data is a byte stream
  in.put(rows.substr(17));
  in.finish();
  CHECK(c.exec("select count(*) from awkward").str(0, 0) == "5");
  CHECK(c.exec("select t from awkward where id = 1").str(0, 0) == "tab\there");
  CHECK(c.exec("select t from awkward where id = 2").str(0, 0) == "new\nline");
  CHECK(c.exec("select b is null from awkward where id = 2").boolean(0, 0));
  CHECK(c.exec("select encode(b, 'hex') from awkward where id = 1").str(0, 0) == "00ff80fe");

  auto out = c.copy_out("copy (select * from awkward order by id) to stdout");
  std::string back, row;
  while (out.next(row)) back += row;
  CHECK(back == rows);
}

TEST_CASE("a COPY that the server rejects reports the row's error", "[pg][copy]") {
  std::string db = test::fresh_database("copybad");
  auto c = pg::Connection::open(test::server().conninfo(db));
  c.exec("create table n (id int)");
  auto in = c.copy_in("copy n from stdin");
  in.put("1\nnot-a-number\n");
  try {
    in.finish();
    FAIL("no error");
  } catch (const pg::DbError& e) {
    CHECK(e.sqlstate() == "22P02");
    CHECK(e.context().find("COPY n, line 2") != std::string::npos);
  }
  CHECK(c.exec("select count(*) from n").str(0, 0) == "0");
}

TEST_CASE("an abandoned COPY is rolled back and the connection stays usable", "[pg][copy]") {
  std::string db = test::fresh_database("copyabort");
  auto c = pg::Connection::open(test::server().conninfo(db));
  c.exec("create table n (id int)");
  {
    auto in = c.copy_in("copy n from stdin");
    in.put("1\n2\n");
  }  // destroyed without finish()
  CHECK(c.exec("select count(*) from n").str(0, 0) == "0");
}

TEST_CASE("a connection failure names the target and redacts the password", "[pg][redact]") {
  auto& s = test::server();
  std::string conninfo = "host=" + s.socket_dir().string() + " port=" + std::to_string(s.port()) +
                         " dbname=no_such_db user=postgres password=sup3rsecret";
  try {
    pg::Connection::open(conninfo);
    FAIL("no error");
  } catch (const pg::DbError& e) {
    std::string m = e.what();
    CHECK(m.find("dbname=no_such_db") != std::string::npos);
    CHECK(m.find("port=" + std::to_string(s.port())) != std::string::npos);
    CHECK(m.find("database \"no_such_db\" does not exist") != std::string::npos);
    CHECK(m.find("sup3rsecret") == std::string::npos);
  }
}

TEST_CASE("server notices go to the log, not to stderr", "[pg][log]") {
  auto sink = std::make_shared<log::MemorySink>();
  log::set_sink(sink);
  log::set_level(log::Level::debug);
  auto c = pg::Connection::open(test::server().conninfo());
  c.exec("do $$ begin raise warning 'careful: %', 42; end $$");
  log::set_sink(nullptr);
  log::set_level(log::Level::info);
  CHECK(sink->text().find("careful: 42") != std::string::npos);
}

TEST_CASE("a SQL check passes only with exactly one row holding true, and runs read-only", "[pg][check]") {
  auto c = pg::Connection::open(test::server().conninfo());
  c.exec("CREATE TABLE IF NOT EXISTS check_t (id int)");
  c.exec("TRUNCATE check_t; INSERT INTO check_t VALUES (1), (2)");
  CHECK(pg::run_check(c, "select true").passed);
  CHECK(pg::run_check(c, "select count(*) = 2 from check_t").passed);
  struct Bad {
    const char* sql;
    const char* says;
  };
  for (const Bad& b : {Bad{"select false", "returned false"}, Bad{"select null::boolean", "returned NULL"},
                       Bad{"select true where false", "returned no row"}, Bad{"select true from check_t", "returned 2 rows"},
                       Bad{"select count(*) from check_t", "not a boolean"}, Bad{"select 't'::text", "not a boolean"},
                       Bad{"select true, true", "returned 2 columns"}, Bad{"select no_such_column", "failed: column"},
                       Bad{"insert into check_t values (3) returning true", "read-only transaction"}}) {
    INFO(b.sql);
    auto v = pg::run_check(c, b.sql);
    CHECK_FALSE(v.passed);
    CHECK(v.problem.find(b.says) != std::string::npos);
  }
  // nothing was written, and the connection is usable and outside any transaction
  CHECK(c.exec("select count(*) from check_t").int64(0, 0) == 2);
  CHECK_FALSE(c.in_transaction());
  // A cancelled statement is not a verdict: the caller sees the cancellation itself.
  c.exec("SET statement_timeout = '100ms'");
  CHECK_THROWS_AS(pg::run_check(c, "select pg_sleep(5) is not null"), pg::DbError);
  c.exec("RESET statement_timeout");
  CHECK_FALSE(c.in_transaction());
  CHECK(pg::run_check(c, "select true").passed);
}
