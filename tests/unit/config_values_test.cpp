// Durations, compression specs and selection patterns: the small values inside documents.
#include <catch2/catch.hpp>

#include "config/documents.hpp"
#include "config/selection.hpp"

using namespace pgr;
using namespace pgr::config;
using std::chrono::seconds;

TEST_CASE("config: durations take s, m, h, d, w and sums of them", "[config]") {
  CHECK(parse_duration("30s") == seconds(30));
  CHECK(parse_duration("90m") == seconds(90 * 60));
  CHECK(parse_duration("24h") == seconds(24 * 3600));
  CHECK(parse_duration("7d") == seconds(7 * 86400));
  CHECK(parse_duration("1w") == seconds(7 * 86400));
  CHECK(parse_duration("1h30m") == seconds(5400));
}

TEST_CASE("config: bad durations are input errors that say why", "[config]") {
  for (const char* bad : {"", "24", "h", "24 h", "1.5h", "-1h", "0h", "3y", "24H", "1234567890s"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_duration(bad), Error);
  }
  try {
    parse_duration("3y");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::input);
    CHECK(std::string(e.what()).find("unknown unit") != std::string::npos);
  }
  CHECK_THROWS_WITH(parse_duration("0m"), Catch::Contains("greater than zero"));
  CHECK_THROWS_WITH(parse_duration("99999999w"), Catch::Contains("100 years"));
}

TEST_CASE("config: compression specs are method[:level] with per-method ranges", "[config]") {
  CHECK(parse_compression("zstd:3") == Compression{"zstd", 3});
  CHECK(parse_compression("gzip") == Compression{"gzip", -1});
  CHECK(parse_compression("gzip:0") == Compression{"gzip", 0});
  CHECK(parse_compression("lz4:12") == Compression{"lz4", 12});
  CHECK(parse_compression("none") == Compression{"none", -1});
  CHECK(parse_compression("zstd:22").str() == "zstd:22");
  CHECK(parse_compression("lz4").str() == "lz4");
  CHECK_THROWS_WITH(parse_compression("brotli"), Catch::Contains("unknown compression method"));
  CHECK_THROWS_WITH(parse_compression("gzip:10"), Catch::Contains("out of range for gzip (0 to 9)"));
  CHECK_THROWS_WITH(parse_compression("zstd:0"), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(parse_compression("zstd:23"), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(parse_compression("lz4:13"), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(parse_compression("none:1"), Catch::Contains("takes no level"));
  CHECK_THROWS_WITH(parse_compression("gzip:x"), Catch::Contains("not a number"));
  CHECK_THROWS_WITH(parse_compression("gzip:"), Catch::Contains("not a number"));
}

TEST_CASE("config: name patterns follow pg_dump's rules", "[config]") {
  auto t = NamePattern::parse_table("pay_*");
  CHECK_FALSE(t.has_schema());
  CHECK(t.matches_table("public", "pay_orders"));
  CHECK(t.matches_table("sales", "pay_"));
  CHECK_FALSE(t.matches_table("public", "orders_pay"));

  auto a = NamePattern::parse_table("audit.*");
  CHECK(a.has_schema());
  CHECK(a.matches_table("audit", "anything"));
  CHECK_FALSE(a.matches_table("public", "audit"));

  // unquoted letters fold to lower case; quoted ones keep case and dots
  CHECK(NamePattern::parse_table("Public.Orders").matches_table("public", "orders"));
  CHECK_FALSE(NamePattern::parse_table("\"Orders\"").matches_table("public", "orders"));
  CHECK(NamePattern::parse_table("\"Orders\"").matches_table("public", "Orders"));
  CHECK(NamePattern::parse_table("\"a.b\".t").matches_table("a.b", "t"));
  CHECK(NamePattern::parse_table("\"say \"\"hi\"\"\"").matches_table("s", "say \"hi\""));
  CHECK(NamePattern::parse_table("t?").matches_table("s", "t1"));
  CHECK_FALSE(NamePattern::parse_table("t?").matches_table("s", "t12"));
  CHECK(NamePattern::parse_table("*a*b*").matches_table("s", "xxaxxbxx"));
  CHECK_FALSE(NamePattern::parse_table("*a*b").matches_table("s", "xxbxxa"));

  CHECK_THROWS_WITH(NamePattern::parse_table(""), Catch::Contains("empty"));
  CHECK_THROWS_WITH(NamePattern::parse_table("db.s.t"), Catch::Contains("more than one dot"));
  CHECK_THROWS_WITH(NamePattern::parse_table("\"open"), Catch::Contains("unterminated"));
  CHECK_THROWS_WITH(NamePattern::parse_table("s."), Catch::Contains("empty part"));
  CHECK_THROWS_WITH(NamePattern::parse_schema("public.orders"), Catch::Contains("contains a dot"));
}

TEST_CASE("config: a selection is a union of includes minus excludes", "[config]") {
  Selection all;
  CHECK(all.empty());
  CHECK(selects_table(all, "public", "orders"));
  CHECK(selects_schema(all, "anything"));

  Selection s;
  s.schemas = {"public", "sales"};
  s.tables = {"audit.login"};
  s.exclude_tables = {"public.logs", "audit.*_old"};
  CHECK_FALSE(s.empty());
  CHECK(selects_table(s, "public", "orders"));
  CHECK(selects_table(s, "sales", "x"));
  CHECK(selects_table(s, "audit", "login"));      // a table include outside the schemas
  CHECK_FALSE(selects_table(s, "audit", "other"));
  CHECK_FALSE(selects_table(s, "public", "logs")); // excluded wins
  CHECK(selects_schema(s, "public"));
  CHECK_FALSE(selects_schema(s, "audit"));

  Selection ex;
  ex.exclude_schemas = {"tmp_*"};
  CHECK(selects_table(ex, "public", "t"));
  CHECK_FALSE(selects_table(ex, "tmp_x", "t"));
  CHECK_FALSE(selects_schema(ex, "tmp_x"));
}
