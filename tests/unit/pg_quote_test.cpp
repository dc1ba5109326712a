#include <catch2/catch.hpp>

#include "pg/pg.hpp"

using namespace pgr;

TEST_CASE("pure identifier quoting doubles inner quotes", "[pg]") {
  CHECK(pg::quote_ident("orders") == "\"orders\"");
  CHECK(pg::quote_ident("we\"ird") == "\"we\"\"ird\"");
  CHECK(pg::qualified("public", "Order Items") == "\"public\".\"Order Items\"");
}

TEST_CASE("pure literal quoting escapes quotes and backslashes", "[pg]") {
  CHECK(pg::quote_literal("it's") == "'it''s'");
  CHECK(pg::quote_literal("a\\b") == "E'a\\\\b'");
}

TEST_CASE("describe_conninfo never shows the password", "[pg][redact]") {
  std::string d = pg::describe_conninfo("host=db1 port=6432 dbname=shop user=app password=hunter2");
  CHECK(d == "host=db1 port=6432 dbname=shop user=app");
  d = pg::describe_conninfo("postgresql://app:hunter2@db2:5433/sales");
  CHECK(d == "host=db2 port=5433 dbname=sales user=app");
}

TEST_CASE("with_dbname replaces the database in both conninfo forms", "[pg]") {
  // Every part is given: describe_conninfo fills what is left out from PG* variables, and the
  // suite must pass whatever the caller has set.
  std::string c = pg::with_dbname("host=h port=7 dbname=a user=u", "b c");
  CHECK(pg::describe_conninfo(c) == "host=h port=7 dbname=b c user=u");
  c = pg::with_dbname("postgresql://u@h:1/a", "z");
  CHECK(pg::describe_conninfo(c) == "host=h port=1 dbname=z user=u");
}

TEST_CASE("a malformed conninfo is an input error", "[pg]") {
  CHECK_THROWS_AS(pg::with_dbname("host='unterminated", "x"), Error);
}
