// An archive's text rows loaded in COPY's binary format, converted by pgrecover
// (src/copyfmt/, executor/copy_convert.hpp): every value of every converted type, as pg_dump
// wrote it, must come back exactly as the source holds it. The source database's time zone is
// Europe/Amsterdam, so its dump writes offsets such as +01, +02 and, before 1892, +00:19:32.
// A row the converter refuses (a BC date) sends the rest of its table as text in the same
// transaction; a table with a type it does not know (numeric) goes as text; a split table
// converts chunk by chunk.
#include <catch2/catch.hpp>

#include <filesystem>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/harness.hpp"

using namespace pgr;
using test::data_of;
using test::must;
using test::psql;
using test::schema_of;
using test::server;

namespace {

struct Fixture {
  test::Workspace w{"pgrecover-binconv-test"};
  std::string archive, source = "conv_src";
  Fixture() {
    psql("postgres", "CREATE DATABASE " + source);
    psql("postgres", "ALTER DATABASE " + source + " SET timezone = 'Europe/Amsterdam'");
    psql(source, R"SQL(
      SET timezone = 'Europe/Amsterdam';
      CREATE TABLE typed (id int PRIMARY KEY, b bool, s smallint, i int, l bigint, r real, d double precision,
        t text, v varchar(12), c char(5), dt date, ts timestamp(3), tz timestamptz, u uuid, by bytea, j json, jb jsonb);
      INSERT INTO typed SELECT g, g % 2 = 0, (g % 65536) - 32768, g * 7919 - 2000000000, g::bigint * 1000000007 - 4611686018427387904,
          (g / 7.0)::real, g / 3.0 + 1e-9 * g, 'row ' || g || E'\ttab\nnewline\\back\r\u00e9\u4e2d', 'v' || g, 'c' || (g % 100),
          date '0001-01-01' + (g * 1237 % 3652000), timestamp '1899-06-30 23:59:59.123' + g * interval '97 days 1 second',
          timestamptz '1850-01-01 00:00:00+00' + g * interval '17 days 3 hours 0.25 seconds', md5(g::text)::uuid,
          decode(md5(g::text), 'hex') || '\x00ff5c0a0d09'::bytea, ('{"n": ' || g || ',  "s": "a\"b\\c"}')::json,
          jsonb_build_object('n', g, 'tab', E'x\ty', 'q', 'say "hi"', 'arr', jsonb_build_array(g, null, true))
        FROM generate_series(1, 20000) g;
      INSERT INTO typed (id) VALUES (-1);  -- every other column NULL
      INSERT INTO typed VALUES
        (-2, false, -32768, -2147483648, -9223372036854775808, 'NaN', 'NaN', '', '', '', '-infinity', '-infinity',
         '-infinity', '00000000-0000-0000-0000-000000000000', '', '[]', '{}'),
        (-3, true, 32767, 2147483647, 9223372036854775807, '-Infinity', 'Infinity', E'\\N', 'x', 'x', 'infinity',
         'infinity', 'infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '\x', 'null', '"\\u00e9"'),
        (-4, null, 0, 0, 0, '-0', '-0', 'back\slash', 'v', 'c', '0001-01-01', '0099-12-31 23:59:59.999',
         '2038-01-19 03:14:07.999999+00', null, null, '  {"spaced" :  1 }  ', '{"a": 1e-5}'),
        (-5, null, null, null, null, 1.17549435e-38, 4.9e-324, null, null, null, '9999-12-31', '9999-12-31 23:59:59',
         '1892-05-01 00:00:00+00:19:32', null, null, null, null),
        (-6, null, null, null, null, 3.4028235e38, 1.7976931348623157e308, null, null, null, null, null, null,
         null, null, null, null);
      CREATE TABLE mixed (id int, dt date, note text);
      INSERT INTO mixed SELECT g, CASE WHEN g = 3000 THEN date '0044-03-15 BC' ELSE date '2020-01-01' + g END, 'n' || g
        FROM generate_series(1, 6000) g;
      CREATE TABLE other (id int, n numeric);
      INSERT INTO other SELECT g, g * 1.25 FROM generate_series(1, 1000) g;
      CREATE TABLE few (id int, t text);
      INSERT INTO few VALUES (1, 'one'), (2, 'two');
    )SQL");
    archive = w.folder("conv.dir").string();
    std::filesystem::remove(archive);
    must(server().run_client({"pg_dump", "-Fd", "-f", archive, "-d", source}), "pg_dump");
  }
  std::string doc(const std::string& db, const std::string& extra = "") {
    return w.write(db + ".yaml", test::restore_yaml(archive, db, extra)).string();
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

// The note of the step that loaded `table`, from apply --json's events.
std::string load_note(const std::string& events, const std::string& table) {
  std::string note = "(no step-done event)";
  size_t pos = 0;
  while (pos < events.size()) {
    size_t end = events.find('\n', pos);
    if (end == std::string::npos) end = events.size();
    auto j = nlohmann::json::parse(events.substr(pos, end - pos), nullptr, false);
    pos = end + 1;
    if (j.is_object() && j.value("event", "") == "step-done" && j.value("step", "") == "table-data:public." + table) {
      note = j.value("message", "");
    }
  }
  return note;
}

}  // namespace

TEST_CASE("binary conversion: every value pg_dump wrote comes back exactly as the source holds it", "[binconv]") {
  auto& f = fx();
  std::string db = "conv-one";
  auto apply = f.w.pgrecover({"--json", "apply", "--auto-approve", f.doc(db)});
  must(apply, "apply");
  // Converted (the server parsed none of these rows) ...
  CHECK(load_note(apply.out, "typed") == "rows in COPY's binary format, converted by pgrecover");
  // ... up to the BC date, which the converter refuses: the rest as text, in the same transaction.
  CHECK(load_note(apply.out, "mixed") ==
        "2999 rows in COPY's binary format, converted by pgrecover; from row 3000 on as text (column 2: not written as "
        "PostgreSQL writes this type)");
  // numeric is not converted: the whole table as text.
  CHECK(load_note(apply.out, "other") == "rows as text: column \"n\" is numeric, which pgrecover does not convert");
  // A table of a few rows goes as text: converting would cost a catalog query and a thread.
  CHECK(load_note(apply.out, "few").find("rows as text: a table of ") == 0);
  CHECK(load_note(apply.out, "few").find(" bytes in the archive, not worth converting") != std::string::npos);
  CHECK(schema_of(db) == schema_of(f.source));
  CHECK(data_of(server(), db) == data_of(server(), f.source));
  // Values compared in their binary forms too (text output could hide a float's last bit).
  for (const auto& [col, send] : std::vector<std::pair<std::string, std::string>>{
           {"r", "float4send"}, {"d", "float8send"}, {"tz", "timestamptz_send"}, {"ts", "timestamp_send"},
           {"dt", "date_send"}, {"by", "byteasend"}, {"jb", "jsonb_send"}, {"c", "bpcharsend"}, {"v", "varcharsend"},
           {"t", "textsend"}, {"u", "uuid_send"}, {"l", "int8send"}}) {
    std::string sql = fmt::format(
        "SELECT md5(string_agg(coalesce(encode({}({}), 'hex'), 'NULL'), ',' ORDER BY id)) FROM typed", send, col);
    INFO(col);
    CHECK(psql(db, sql) == psql(f.source, sql));
  }
  CHECK(psql(db, "SELECT count(*) FROM mixed WHERE dt < '0001-01-01'").find("1") != std::string::npos);
}

TEST_CASE("binary conversion: a split table is converted chunk by chunk, each session its own", "[binconv][split]") {
  auto& f = fx();
  std::string db = "conv-split";
  auto apply = f.w.pgrecover({"--json", "apply", "--auto-approve", f.doc(db, "  split_tables_larger_than: 256kB\n")});
  must(apply, "apply");
  std::string note = load_note(apply.out, "typed");
  INFO(note);
  CHECK(note.find("chunks by up to 2 sessions; ") != std::string::npos);
  // Every chunk of typed converts (its rows are all in PostgreSQL's own forms).
  auto at = note.find("; ");
  auto of = note.find(" of ", at);
  REQUIRE(of != std::string::npos);
  CHECK(note.substr(at + 2, of - at - 2) == note.substr(of + 4, note.find(' ', of + 4) - of - 4));
  CHECK(note.find("chunks in COPY's binary format, converted by pgrecover") != std::string::npos);
  CHECK(data_of(server(), db) == data_of(server(), f.source));
}
