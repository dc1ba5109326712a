// Live restore sources (spec.from.live) without a server: the document fields, the TABLE DATA
// entries made for the source's tables, the schema fingerprint that ignores sequence values, the
// plan made from such a TOC (big tables split), pg_dump's exact patterns and the foreign key
// names a strict resume drops, and the statements that give a cloned large object its owner,
// privileges and comment.
#include <catch2/catch.hpp>

#include <map>

#include "archive/live.hpp"
#include "config/documents.hpp"
#include "config/settings.hpp"
#include "engine/live_schema.hpp"
#include "executor/live_copy.hpp"
#include "executor/live_resume.hpp"
#include "planner/restore_planner.hpp"
#include "util/fs.hpp"
#include "support/toc_entry.hpp"

using namespace pgr;
using archive::Section;
using archive::TocEntry;

namespace {

TocEntry entry(int id, std::string desc, std::string ns, std::string tag, Section sec, std::vector<int> deps,
               std::string oid = "", std::string defn = "") {
  auto e = test::toc_entry(id, std::move(desc), std::move(ns), std::move(tag), sec, std::move(deps));
  e.oid = std::move(oid);
  e.defn = std::move(defn);
  return e;
}

// What pg_dump -Fc --exclude-table-data=... of a small database gives: a schema, a table with an
// awkward name, a partitioned parent with one partition, a sequence with its value, an index.
archive::Toc dump_toc(const std::string& sequence_value = "42") {
  archive::Toc t;
  auto& e = t.entries;
  e.push_back(entry(5, "SCHEMA", "", "Odd \"S\"", Section::pre_data, {}, "2200", "CREATE SCHEMA \"Odd \"\"S\"\"\";\n"));
  e.push_back(entry(10, "TABLE", "Odd \"S\"", "we.ird", Section::pre_data, {5}, "16400", "CREATE TABLE ...;\n"));
  e.push_back(entry(11, "TABLE", "public", "parent", Section::pre_data, {}, "16410", "CREATE TABLE ... PARTITION BY;\n"));
  e.push_back(entry(12, "TABLE", "public", "part1", Section::pre_data, {11}, "16420", "CREATE TABLE ...;\n"));
  e.push_back(entry(13, "SEQUENCE", "public", "s", Section::pre_data, {}, "16430", "CREATE SEQUENCE s;\n"));
  e.push_back(entry(20, "SEQUENCE SET", "public", "s", Section::data, {13}, "",
                    "SELECT pg_catalog.setval('public.s', " + sequence_value + ", true);\n"));
  e.push_back(entry(30, "INDEX", "public", "part1_idx", Section::post_data, {12}, "16440", "CREATE INDEX ...;\n"));
  return t;
}

std::vector<archive::LiveTable> source_tables() {
  return {{"16400", "Odd \"S\"", "we.ird", {"id", "Col \"x\""}, 1000},
          {"16420", "public", "part1", {"a"}, std::int64_t{600} << 20},
          {"99999", "public", "not_in_the_dump", {"a"}, 10}};
}

}  // namespace

TEST_CASE("live: a TABLE DATA entry is made for each source table in the dump, the way pg_dump makes them", "[live]") {
  auto [toc, loads] = archive::add_live_table_data(dump_toc(), source_tables(), true);
  REQUIRE(loads.size() == 2);  // the partitioned parent has no rows; a table missing from the dump gets none
  std::vector<std::string> order;
  for (const auto& e : toc.entries) order.push_back(e.desc + " " + e.tag);
  // after the dump's entries' highest id, before the first post-data entry
  CHECK(order == std::vector<std::string>{"SCHEMA Odd \"S\"", "TABLE we.ird", "TABLE parent", "TABLE part1", "SEQUENCE s",
                                          "SEQUENCE SET s", "TABLE DATA we.ird", "TABLE DATA part1", "BLOBS BLOBS",
                                          "INDEX part1_idx"});
  CHECK(toc.entries[8].id == 33);  // after the tables' entries: their ids do not depend on it
  const TocEntry& d = toc.entries[6];
  CHECK(d.id == 31);
  CHECK(d.section == Section::data);
  CHECK(d.dependencies == std::vector<int>{10});
  CHECK(d.oid == "16400");
  CHECK(d.namespace_ == "Odd \"S\"");
  CHECK(d.copy_stmt == "COPY \"Odd \"\"S\"\"\".\"we.ird\" (\"id\", \"Col \"\"x\"\"\") FROM stdin;\n");
  CHECK(d.data.bytes == 1000);
  CHECK(loads.at(31).name == "we.ird");
  CHECK(loads.at(32).name == "part1");
}

TEST_CASE("live: a source without large objects gets no BLOBS entry, and gaining one changes the fingerprint", "[live]") {
  auto without = archive::add_live_table_data(dump_toc(), source_tables(), false).first;
  auto with = archive::add_live_table_data(dump_toc(), source_tables(), true).first;
  std::vector<std::string> order;
  for (const auto& e : without.entries) order.push_back(e.desc + " " + e.tag);
  CHECK(order == std::vector<std::string>{"SCHEMA Odd \"S\"", "TABLE we.ird", "TABLE parent", "TABLE part1", "SEQUENCE s",
                                          "SEQUENCE SET s", "TABLE DATA we.ird", "TABLE DATA part1", "INDEX part1_idx"});
  REQUIRE(with.entries.size() == without.entries.size() + 1);
  for (size_t i = 0; i < 8; ++i) CHECK(with.entries[i].id == without.entries[i].id);
  CHECK(archive::live_schema_fingerprint(with) != archive::live_schema_fingerprint(without));
}

TEST_CASE("live: the schema fingerprint ignores sequence values and sees schema changes", "[live]") {
  auto a = archive::add_live_table_data(dump_toc("42"), source_tables(), true).first;
  auto b = archive::add_live_table_data(dump_toc("977"), source_tables(), true).first;
  CHECK(archive::live_schema_fingerprint(a) == archive::live_schema_fingerprint(b));
  auto tables = source_tables();
  tables[0].columns.push_back("added");
  auto c = archive::add_live_table_data(dump_toc(), tables, true).first;
  CHECK(archive::live_schema_fingerprint(c) != archive::live_schema_fingerprint(a));
  auto d = dump_toc();
  d.entries[4].defn = "CREATE SEQUENCE s INCREMENT 2;\n";
  CHECK(archive::live_schema_fingerprint(archive::add_live_table_data(d, source_tables(), true).first) !=
        archive::live_schema_fingerprint(a));
}

namespace {
class NoCounter : public planner::RowCounter {
 public:
  std::int64_t archive_rows(const TocEntry&) override { return 0; }
  std::int64_t target_rows(const std::string&, const std::string&) override { return 0; }
};
}  // namespace

TEST_CASE("live: the restore planner loads every source table and splits the big ones", "[live][planner]") {
  auto toc = archive::add_live_table_data(dump_toc(), source_tables(), true).first;
  toc.checksum = archive::live_schema_fingerprint(toc);
  config::Restore doc;
  doc.metadata.name = "clone";
  doc.spec.live.source.conninfo = "host=old";
  doc.spec.live.database = "shop";
  doc.spec.database = "shop";
  doc.spec.jobs = 4;
  catalog::Cluster cluster;
  catalog::Database db;
  db.name = "shop";
  NoCounter counter;
  planner::RestoreInputs in;
  in.document = &doc;
  in.toc = &toc;
  in.cluster = &cluster;
  in.database = &db;
  in.counter = &counter;
  in.target_role = "postgres";
  in.target_superuser = true;
  in.source = "live database \"shop\" on \"host=old\"";
  in.target = {"", "host=new", "shop"};
  auto plan = planner::plan_restore(in);
  std::map<std::string, const model::Step*> by_id;
  for (const auto& s : plan.steps) by_id[s.id] = &s;
  for (const auto& [id, s] : by_id) UNSCOPED_INFO(id);
  REQUIRE(by_id.count("table-data:Odd \"S\".we.ird"));
  REQUIRE(by_id.count("table-data:public.part1"));
  CHECK_FALSE(by_id.at("table-data:Odd \"S\".we.ird")->params.count("sessions"));
  CHECK(by_id.at("table-data:public.part1")->params.at("sessions") == "3");
  CHECK(by_id.count("sequence-set:public.s"));
  CHECK(plan.source == in.source);
  CHECK(plan.fingerprints.at("archive") == toc.checksum);
  // Without TID range scans on the source the rows come in one stream, cut on the target side.
  CHECK_FALSE(by_id.at("table-data:public.part1")->params.count("chunk_pages"));

  // A source that reads by page ranges: the split table is split on the source side too, and
  // the plan says so; each range is the chunk size in 8 kB pages.
  in.source_page_ranges = true;
  auto ranged = planner::plan_restore(in);
  for (const auto& s : ranged.steps) {
    if (s.id != "table-data:public.part1") continue;
    INFO(s.reason);
    REQUIRE(s.params.count("chunk_pages"));
    CHECK(std::stoll(s.params.at("chunk_pages")) * 8192 == std::stoll(s.params.at("chunk_bytes")));
    CHECK(s.reason.find("ranges of " + s.params.at("chunk_pages") + " heap pages by ctid") != std::string::npos);
  }

  // A live source splits only when the document sets split_tables_larger_than (measured slower
  // split on the bench machine); set, it splits as above.
  in.live_source = true;
  for (const auto& s : planner::plan_restore(in).steps) CHECK_FALSE(s.params.count("sessions"));
  doc.spec.split_set = true;
  bool split = false;
  for (const auto& s : planner::plan_restore(in).steps) split = split || s.params.count("sessions") > 0;
  CHECK(split);
}

TEST_CASE("live: a table of built-in types is read and loaded in COPY's binary format, and the plan says so", "[live]") {
  auto tables = source_tables();
  for (auto& t : tables) t.binary = t.name == "part1";
  auto toc = archive::add_live_table_data(dump_toc(), tables, false).first;
  const auto text_fingerprint = archive::live_schema_fingerprint(archive::add_live_table_data(dump_toc(), source_tables(), false).first);
  // Text or binary rows are part of what the plan was made for.
  CHECK(archive::live_schema_fingerprint(toc) != text_fingerprint);
  for (const auto& e : toc.entries)
    if (e.desc == "TABLE DATA") CHECK(e.data.binary == (e.tag == "part1"));
  archive::LiveTable t{"1", "public", "t", {"id"}, 1 << 20, 128, true};
  CHECK(executor::page_range_copy(t, 0, 64) ==
        "COPY (SELECT \"id\" FROM ONLY \"public\".\"t\" WHERE ctid < '(64,0)'::pg_catalog.tid) TO STDOUT (FORMAT binary)");
}

TEST_CASE("live: a page range is read with a TID range condition, identifiers quoted", "[live]") {
  archive::LiveTable t{"1", "Odd \"S\"", "we.ird", {"id", "Col \"x\""}, 1 << 20, 128};
  CHECK(executor::page_range_copy(t, 0, -1) == "COPY (SELECT \"id\", \"Col \"\"x\"\"\" FROM ONLY \"Odd \"\"S\"\"\".\"we.ird\") TO STDOUT");
  CHECK(executor::page_range_copy(t, 0, 64) ==
        "COPY (SELECT \"id\", \"Col \"\"x\"\"\" FROM ONLY \"Odd \"\"S\"\"\".\"we.ird\" WHERE ctid < '(64,0)'::pg_catalog.tid) TO STDOUT");
  CHECK(executor::page_range_copy(t, 64, 128).find("WHERE ctid >= '(64,0)'::pg_catalog.tid AND ctid < '(128,0)'::pg_catalog.tid) TO STDOUT") !=
        std::string::npos);
  // The last range is open-ended: rows in pages added after the sizes were read are not lost.
  CHECK(executor::page_range_copy(t, 128, -1).find("WHERE ctid >= '(128,0)'::pg_catalog.tid) TO STDOUT") != std::string::npos);
}

TEST_CASE("live: pg_dump patterns name one table exactly, wildcards and quotes included", "[live]") {
  CHECK(engine::exact_table_pattern("public", "orders") == "\"public\".\"orders\"");
  CHECK(engine::exact_table_pattern("Mixed Case", "we\"ird.*") == "\"Mixed Case\".\"we\"\"ird.*\"");
}

TEST_CASE("live: a strict resume finds the table and name of a foreign key it drops", "[live]") {
  auto [table, name] = executor::constraint_of(
      "ALTER TABLE ONLY \"public\".\"b\"\n    ADD CONSTRAINT \"b_a_id_fkey\" FOREIGN KEY (a_id) REFERENCES public.a(id);\n");
  CHECK(table == "\"public\".\"b\"");
  CHECK(name == "b_a_id_fkey");
  CHECK(executor::constraint_of("CREATE INDEX x ON t (a);").first.empty());
}

TEST_CASE("live: spec.from.live is read and validated", "[live][config]") {
  config::Settings settings;
  settings.file = "/etc/pgrecover.toml";
  settings.connections["old"] = config::ConnectionSettings{"old", "host=old", "", ""};
  auto ok = config::check_text(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {name: move}
spec:
  from: {live: {connection: old, database: shop, consistent: allow-mixed}}
  to: {conninfo: "host=new", database: shop}
)",
                               "t.yaml", settings);
  for (const auto& p : ok.problems) UNSCOPED_INFO(p.str());
  REQUIRE(ok.ok());
  const auto& spec = ok.documents.restores.at(0).spec;
  CHECK(spec.is_live());
  CHECK(spec.live.source.connection == "old");
  CHECK(spec.live.database == "shop");
  CHECK(spec.live.allow_mixed);
  auto strict = config::check_text(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {name: move}
spec:
  from: {live: {conninfo: "host=old", database: shop}}
  to: {conninfo: "host=new", database: shop}
)",
                                   "t.yaml", settings);
  REQUIRE(strict.ok());
  CHECK_FALSE(strict.documents.restores.at(0).spec.live.allow_mixed);
  // an unknown connection, a missing database, a bad consistency mode, live with archive
  auto bad = config::check_text(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {name: move}
spec:
  from: {live: {connection: nowhere, database: shop}}
  to: {conninfo: "host=new", database: shop}
---
apiVersion: pgrecover/v1
kind: Restore
metadata: {name: move2}
spec:
  from: {live: {connection: old, consistent: loose}}
  to: {conninfo: "host=new", database: shop}
)",
                                "t.yaml", settings);
  std::string all;
  for (const auto& p : bad.problems) all += p.str() + "\n";
  INFO(all);
  CHECK(all.find("t.yaml:5") != std::string::npos);
  CHECK(all.find("nowhere") != std::string::npos);
  CHECK(all.find("database") != std::string::npos);
  CHECK(all.find("loose") != std::string::npos);
}

TEST_CASE("live: an allow-mixed resume keeps finished loads and forgets the chunks of the unfinished ones", "[live]") {
  auto toc = archive::add_live_table_data(dump_toc(), source_tables(), true).first;
  model::Plan plan;
  plan.id = "r-live";
  for (const auto& e : toc.entries) {
    if (e.desc != "TABLE DATA") continue;
    model::Step s;
    s.id = "table-data:" + e.namespace_ + "." + e.tag;
    s.kind = "table-data";
    s.object = e.namespace_ + "." + e.tag;
    s.toc_id = e.id;
    plan.steps.push_back(s);
  }
  REQUIRE(plan.steps.size() == 2);
  TempDir dir("pgrecover-live-resume-");
  auto journal = executor::Journal::open(dir.path(), plan.id);
  const std::string done = plan.steps[0].id, cut = plan.steps[1].id;
  journal.append({"start", done, "t", 1, 0, 0, 0, ""}, false);
  journal.append({"done", done, "t", 1, 10, 100, 1, ""}, false);
  journal.append({"start", cut, "t", 1, 0, 0, 0, ""}, false);
  journal.append({"part", cut, "t", 1, 0, 5, 0, "0"}, false);
  journal.append({"part-commit", cut, "t", 1, 5, 50, 0, "1 xid 777"}, true);
  REQUIRE(journal.parts().count(cut));
  pg::Connection unused;
  auto r = executor::prepare_live_resume(plan, journal, toc, unused, true);
  CHECK(r.kept == std::vector<std::string>{plan.steps[0].object});
  CHECK(r.reloaded == std::vector<std::string>{plan.steps[1].object});
  CHECK(r.voided == 0);
  // The cut table's chunks of the old snapshot are forgotten: it is loaded again, whole (its
  // split load truncates first when no chunk is journaled). The finished one stays done.
  CHECK_FALSE(journal.parts().count(cut));
  CHECK(journal.done_steps().count(done));
  CHECK(journal.in_flight_steps().count(cut));
  // and so after reopening (the records are in the file)
  auto reopened = executor::Journal::open(dir.path(), plan.id);
  CHECK_FALSE(reopened.parts().count(cut));
}

TEST_CASE("a cloned large object gets the owner, privileges and comment of the source, quoted", "[live]") {
  archive::LargeObjectMeta m;
  m.owner = "LO \"Owner\"";
  m.acl_set = true;
  m.grants = {{"LO \"Owner\"", "LO \"Owner\"", "SELECT", false},
              {"LO \"Owner\"", "LO \"Owner\"", "UPDATE", false},
              {"LO \"Owner\"", "lo reader", "SELECT", true},
              {"lo reader", "", "SELECT", false}};
  m.comment = "it's big";
  auto sql = executor::large_object_metadata_sql(16400, m, true);
  std::vector<std::string> want = {
      "ALTER LARGE OBJECT 16400 OWNER TO \"LO \"\"Owner\"\"\"",
      "REVOKE ALL ON LARGE OBJECT 16400 FROM PUBLIC",
      "REVOKE ALL ON LARGE OBJECT 16400 FROM \"LO \"\"Owner\"\"\"",
      "GRANT SELECT ON LARGE OBJECT 16400 TO \"LO \"\"Owner\"\"\"",
      "GRANT UPDATE ON LARGE OBJECT 16400 TO \"LO \"\"Owner\"\"\"",
      "GRANT SELECT ON LARGE OBJECT 16400 TO \"lo reader\" WITH GRANT OPTION",
      "SET ROLE \"lo reader\"",
      "GRANT SELECT ON LARGE OBJECT 16400 TO PUBLIC",
      "RESET ROLE",
      "COMMENT ON LARGE OBJECT 16400 IS 'it''s big'"};
  CHECK(sql == want);
  // Without roles (roles: no-owner) only the comment; a default ACL (NULL) is left alone.
  CHECK(executor::large_object_metadata_sql(16400, m, false) == std::vector<std::string>{want.back()});
  m.acl_set = false;
  m.comment.reset();
  CHECK(executor::large_object_metadata_sql(16400, m, true) == std::vector<std::string>{want.front()});
  // What the source says is checked: only SELECT and UPDATE exist on large objects.
  m.acl_set = true;
  m.grants = {{"x", "y", "DELETE); DROP TABLE t; --", false}};
  CHECK_THROWS_AS(executor::large_object_metadata_sql(1, m, true), Error);
}
