// The restore planner on a TOC fixture and catalog snapshots: no server, no archive files.
#include <catch2/catch.hpp>

#include <regex>

#include <map>
#include <set>

#include "model/dag.hpp"
#include "planner/restore_planner.hpp"
#include "planner/toc_index.hpp"
#include "util/error.hpp"
#include "support/toc_entry.hpp"

using namespace pgr;
using archive::Section;
using archive::TocEntry;

namespace {

TocEntry entry(int id, std::string desc, std::string ns, std::string tag, Section sec, std::vector<int> deps,
               std::string owner = "app", std::string defn = "") {
  auto e = test::toc_entry(id, std::move(desc), std::move(ns), std::move(tag), sec, std::move(deps));
  e.owner = std::move(owner);
  e.defn = std::move(defn);
  return e;
}

// shop: customers <- orders (fk), orders has an index and a trigger using a function; a
// sequence owned by orders.id; logs is an unrelated table; a grant to "reader".
archive::Toc fixture() {
  archive::Toc t;
  t.checksum = "toc-sum";
  auto& e = t.entries;
  e.push_back(entry(1, "ENCODING", "", "ENCODING", Section::pre_data, {}, "", "SET client_encoding = 'UTF8';\n"));
  e.push_back(entry(2, "SCHEMA", "", "shop", Section::pre_data, {}));
  e.push_back(entry(3, "FUNCTION", "shop", "touch()", Section::pre_data, {2}));
  e.push_back(entry(4, "TABLE", "shop", "customers", Section::pre_data, {2}));
  e.push_back(entry(5, "TABLE", "shop", "orders", Section::pre_data, {2}));
  e.push_back(entry(6, "SEQUENCE", "shop", "orders_id_seq", Section::pre_data, {2}));
  e.push_back(entry(7, "SEQUENCE OWNED BY", "shop", "orders_id_seq", Section::pre_data, {6, 5}, "app",
                    "ALTER SEQUENCE shop.orders_id_seq OWNED BY shop.orders.id;\n"));
  e.push_back(entry(8, "TABLE", "shop", "logs", Section::pre_data, {2}));
  auto data = [](int id, std::string tag, int table, std::int64_t bytes) {
    TocEntry d = entry(id, "TABLE DATA", "shop", std::move(tag), Section::data, {table}, "app");
    d.had_dumper = true;
    d.data.bytes = bytes;
    d.copy_stmt = "COPY shop." + d.tag + " (id) FROM stdin;\n";
    return d;
  };
  e.push_back(data(10, "customers", 4, 1000));
  e.push_back(data(11, "orders", 5, 50000));
  e.push_back(data(12, "logs", 8, 999999));
  e.push_back(entry(13, "SEQUENCE SET", "shop", "orders_id_seq", Section::data, {6}, "app",
                    "SELECT pg_catalog.setval('shop.orders_id_seq', 3, true);\n"));
  e.push_back(entry(20, "CONSTRAINT", "shop", "customers customers_pkey", Section::post_data, {4}));
  e.push_back(entry(21, "CONSTRAINT", "shop", "orders orders_pkey", Section::post_data, {5}));
  e.push_back(entry(22, "INDEX", "shop", "orders_customer_idx", Section::post_data, {5}));
  e.push_back(entry(23, "TRIGGER", "shop", "orders orders_touch", Section::post_data, {5, 3}));
  e.push_back(entry(24, "FK CONSTRAINT", "shop", "orders orders_customer_fk", Section::post_data, {5, 20}, "app",
                    "ALTER TABLE ONLY shop.orders\n    ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES shop.customers(id);\n"));
  e.push_back(entry(30, "ACL", "shop", "TABLE orders", Section::none, {5}, "app",
                    "GRANT SELECT ON TABLE shop.orders TO reader;\n"));
  e.push_back(entry(31, "COMMENT", "shop", "TABLE orders", Section::none, {5}, "app", "COMMENT ON TABLE shop.orders IS 'x';\n"));
  return t;
}

struct World {
  archive::Toc toc = fixture();
  catalog::Cluster cluster;
  catalog::Database db;
  config::Restore doc;
  std::map<std::string, std::string> role_defs;
  std::string documents_fingerprint = "docs";
  model::Target target{"", "host=x", "target"};
  World() {
    cluster.roles["postgres"] = {"postgres", true, true};
    cluster.roles["app"] = {"app", false, false};
    cluster.roles["reader"] = {"reader", false, false};
    doc.metadata.name = "r";
    doc.spec.database = "target";
    doc.spec.archive = "/a";
  }
  model::Plan plan(planner::RowCounter* counter = nullptr) {
    planner::RestoreInputs in;
    in.document = &doc;
    in.toc = &toc;
    in.cluster = &cluster;
    in.database = &db;
    in.counter = counter;
    in.role_definitions = role_defs;
    in.documents_fingerprint = documents_fingerprint;
    in.target = target;
    return planner::plan_restore(in);
  }
};

std::map<std::string, const model::Step*> by_id(const model::Plan& p) {
  std::map<std::string, const model::Step*> m;
  for (const auto& s : p.steps) m[s.id] = &s;
  return m;
}

bool depends(const model::Plan& p, const std::string& a, const std::string& b) {
  const auto* s = p.find(a);
  REQUIRE(s != nullptr);
  return std::find(s->depends_on.begin(), s->depends_on.end(), b) != s->depends_on.end();
}

struct FixedCounter : planner::RowCounter {
  std::map<std::string, std::int64_t> archive, target;
  std::int64_t archive_rows(const TocEntry& e) override { return archive.at(e.tag); }
  std::int64_t target_rows(const std::string&, const std::string& t) override { return target.at(t); }
};

}  // namespace

TEST_CASE("planner: a full restore into a missing database creates everything with the documented edges", "[planner]") {
  World w;
  auto p = w.plan();
  auto m = by_id(p);
  CHECK(m.count("database:target"));
  CHECK(m.at("database:target")->action == model::Action::create);
  CHECK_FALSE(m.count("encoding:ENCODING"));  // session settings are not steps
  for (const char* id : {"table-data:shop.orders", "index:shop.orders_customer_idx", "constraint:shop.orders orders_pkey",
                         "fk-constraint:shop.orders orders_customer_fk", "fk-validate:shop.orders orders_customer_fk",
                         "sequence-set:shop.orders_id_seq", "analyze:shop.orders", "sequence-fix:shop.orders_id_seq",
                         "verify:target", "acl:shop.TABLE orders"}) {
    INFO(id);
    CHECK(m.count(id));
  }
  // post-data on a table waits for its data; the FK waits for both tables' data
  CHECK(depends(p, "index:shop.orders_customer_idx", "table-data:shop.orders"));
  CHECK(depends(p, "fk-constraint:shop.orders orders_customer_fk", "table-data:shop.orders"));
  CHECK(depends(p, "fk-constraint:shop.orders orders_customer_fk", "table-data:shop.customers"));
  // analyze waits for data and indexes (not for foreign keys)
  CHECK(depends(p, "analyze:shop.orders", "table-data:shop.orders"));
  CHECK(depends(p, "analyze:shop.orders", "index:shop.orders_customer_idx"));
  CHECK(depends(p, "analyze:shop.orders", "constraint:shop.orders orders_pkey"));
  CHECK_FALSE(depends(p, "analyze:shop.orders", "fk-constraint:shop.orders orders_customer_fk"));
  // the FK is added NOT VALID and validated separately
  CHECK(m.at("fk-constraint:shop.orders orders_customer_fk")->params.at("not_valid") == "true");
  CHECK(depends(p, "fk-validate:shop.orders orders_customer_fk", "fk-constraint:shop.orders orders_customer_fk"));
  // grants come after every object
  CHECK(depends(p, "acl:shop.TABLE orders", "barrier:objects"));
  CHECK(depends(p, "barrier:objects", "index:shop.orders_customer_idx"));
  // verification waits for everything it checks
  CHECK(depends(p, "verify:target", "analyze:shop.orders"));
  CHECK(depends(p, "verify:target", "table-data:shop.logs"));
  // small tables are counted together by verify at the end
  CHECK_FALSE(m.count("row-count:shop.orders"));
  CHECK(m.at("verify:target")->params.at("tables").find("\"table\":\"\\\"shop\\\".\\\"orders\\\"\"") != std::string::npos);
  // locks: data exclusive on its table; an index shares it
  auto lock = m.at("table-data:shop.orders")->locks.at(0);
  CHECK(lock.table == "\"shop\".\"orders\"");
  CHECK(lock.mode == model::LockMode::exclusive);
  CHECK(m.at("index:shop.orders_customer_idx")->locks.at(0).mode == model::LockMode::share);
  // the plan is a valid DAG in topological order, and it is deterministic
  model::Dag dag(p.steps);
  CHECK(dag.topological_order().size() == p.steps.size());
  auto again = w.plan();
  again.created_at = p.created_at;
  CHECK(again == p);
  // The id names what the plan was made from, not when: another document, archive or target
  // gives another id.
  CHECK(std::regex_match(p.id, std::regex("r-[0-9a-f]{16}")));
  World other_docs;
  other_docs.documents_fingerprint = "other docs";
  CHECK(other_docs.plan().id != p.id);
  World other_archive;
  other_archive.toc.checksum = "another archive";
  CHECK(other_archive.plan().id != p.id);
  World other_target;
  other_target.target.database = "elsewhere";
  CHECK(other_target.plan().id != p.id);
}

TEST_CASE("planner: selecting one table pulls in what it needs and skips a foreign key to an unselected table",
          "[planner][select]") {
  World w;
  w.doc.spec.select.tables = {"shop.orders"};
  auto p = w.plan();
  auto m = by_id(p);
  for (const char* id : {"schema:shop", "table:shop.orders", "table-data:shop.orders", "index:shop.orders_customer_idx",
                         "trigger:shop.orders orders_touch", "function:shop.touch()", "sequence:shop.orders_id_seq",
                         "sequence-owned-by:shop.orders_id_seq", "sequence-set:shop.orders_id_seq",
                         "acl:shop.TABLE orders", "comment:shop.TABLE orders"}) {
    INFO(id);
    CHECK(m.count(id));
  }
  CHECK_FALSE(m.count("table:shop.logs"));
  CHECK_FALSE(m.count("table-data:shop.logs"));
  CHECK_FALSE(m.count("table-data:shop.customers"));
  CHECK_FALSE(m.count("fk-constraint:shop.orders orders_customer_fk"));
  REQUIRE(p.warnings.size() >= 1);
  CHECK(p.warnings.front().find("orders_customer_fk") != std::string::npos);
  // pulled-in objects say why they are there
  CHECK(m.at("function:shop.touch()")->reason.find("needed by shop.orders orders_touch") != std::string::npos);
}

TEST_CASE("planner: a selection that matches nothing is an error", "[planner][select]") {
  World w;
  w.doc.spec.select.tables = {"nope.*"};
  CHECK_THROWS_WITH(w.plan(), Catch::Contains("matches no table"));
}

TEST_CASE("planner: exclude patterns win", "[planner][select]") {
  World w;
  w.doc.spec.select.exclude_tables = {"shop.logs"};
  auto p = w.plan();
  auto m = by_id(p);
  CHECK(m.count("table-data:shop.orders"));
  CHECK_FALSE(m.count("table-data:shop.logs"));
  CHECK_FALSE(m.count("table:shop.logs"));
}

TEST_CASE("planner: missing roles follow the roles policy", "[planner][roles]") {
  World w;
  w.cluster.roles.erase("app");
  w.cluster.roles.erase("reader");
  SECTION("create-missing without globals: NOLOGIN roles with a warning") {
    auto p = w.plan();
    auto m = by_id(p);
    REQUIRE(m.count("role:app"));
    REQUIRE(m.count("role:reader"));  // a grantee
    CHECK(m.at("role:app")->params.at("sql") == "CREATE ROLE \"app\" NOLOGIN");
    CHECK(depends(p, "table:shop.orders", "role:app"));
    CHECK(depends(p, "acl:shop.TABLE orders", "role:reader"));
    bool warned = false;
    for (auto& x : p.warnings) warned = warned || x.find("\"reader\" is missing") != std::string::npos;
    CHECK(warned);
  }
  SECTION("create-missing with the backup's globals uses their definition") {
    w.role_defs["app"] = "CREATE ROLE \"app\" LOGIN CONNECTION LIMIT 5";
    auto p = w.plan();
    auto m = by_id(p);
    CHECK(m.at("role:app")->params.at("sql") == "CREATE ROLE \"app\" LOGIN CONNECTION LIMIT 5");
  }
  SECTION("require fails listing them") {
    w.doc.spec.roles = config::RolesPolicy::require;
    CHECK_THROWS_WITH(w.plan(), Catch::Contains("app") && Catch::Contains("reader") && Catch::Contains("missing"));
  }
  SECTION("no-owner needs no roles and drops grants") {
    w.doc.spec.roles = config::RolesPolicy::no_owner;
    auto p = w.plan();
    auto m = by_id(p);
    CHECK_FALSE(m.count("role:app"));
    CHECK_FALSE(m.count("acl:shop.TABLE orders"));
  }
}

TEST_CASE("planner: an existing database with the same objects and rows plans only no-ops", "[planner][diff]") {
  World w;
  w.db.exists = true;
  w.db.schemas = {"public", "shop"};
  for (auto t : {"customers", "orders", "logs"}) {
    catalog::Relation r;
    r.schema = "shop";
    r.name = t;
    r.columns = {"id"};
    r.has_rows = true;
    r.analyzed = true;
    w.db.relations[std::string("shop.") + t] = r;
  }
  catalog::Relation idx;
  idx.schema = "shop";
  idx.name = "orders_customer_idx";
  idx.relkind = 'i';
  w.db.relations["shop.orders_customer_idx"] = idx;
  catalog::Relation seq;
  seq.schema = "shop";
  seq.name = "orders_id_seq";
  seq.relkind = 'S';
  w.db.relations["shop.orders_id_seq"] = seq;
  w.db.sequences["shop.orders_id_seq"] = {"shop", "orders_id_seq", 3, true};
  w.db.functions = {"shop.touch()"};
  w.db.constraints = {"shop.customers.customers_pkey", "shop.orders.orders_pkey", "shop.orders.orders_customer_fk"};
  w.db.triggers = {"shop.orders.orders_touch"};
  FixedCounter c;
  c.archive = {{"customers", 10}, {"orders", 20}, {"logs", 30}};
  c.target = {{"customers", 10}, {"orders", 20}, {"logs", 30}};
  auto p = w.plan(&c);
  CHECK_FALSE(p.has_changes());

  SECTION("other rows in a table: a conflict under existing: fail, listing it") {
    c.target["orders"] = 21;
    CHECK_THROWS_WITH(w.plan(&c), Catch::Contains("shop.orders already has 21 rows") && Catch::Contains("existing: fail"));
  }
  SECTION("existing: truncate reloads that table only, and re-analyzes and verifies") {
    c.target["orders"] = 21;
    w.doc.spec.existing = config::ExistingPolicy::truncate;
    auto q = w.plan(&c);
    auto m = by_id(q);
    CHECK(m.at("table-data:shop.orders")->action == model::Action::replace);
    CHECK(m.at("table-data:shop.customers")->action == model::Action::no_op);
    CHECK(m.at("analyze:shop.orders")->action == model::Action::run);
    CHECK(m.at("verify:target")->action == model::Action::run);
  }
  SECTION("existing: skip keeps it") {
    c.target["orders"] = 21;
    w.doc.spec.existing = config::ExistingPolicy::skip;
    CHECK_FALSE(w.plan(&c).has_changes());
  }
  SECTION("a sequence behind the archive is updated") {
    w.db.sequences["shop.orders_id_seq"].last_value = 1;
    auto q = w.plan(&c);
    auto m = by_id(q);
    CHECK(m.at("sequence-set:shop.orders_id_seq")->action == model::Action::update);
  }
  SECTION("a table with other columns is a conflict") {
    w.db.relations["shop.orders"].columns = {"other"};
    CHECK_THROWS_WITH(w.plan(&c), Catch::Contains("shop.orders exists with other columns"));
  }
}

TEST_CASE("planner: roles_of finds owners, grantees and FOR ROLE, not PUBLIC", "[planner][roles]") {
  TocEntry e = entry(1, "ACL", "s", "TABLE t", Section::none, {}, "owner1",
                     "REVOKE ALL ON TABLE s.t FROM PUBLIC;\nGRANT SELECT ON TABLE s.t TO \"Mixed Case\";\n"
                     "GRANT ALL ON TABLE s.t TO app WITH GRANT OPTION;\n");
  auto r = planner::roles_of(e);
  CHECK(r == std::set<std::string>{"owner1", "Mixed Case", "app"});
  TocEntry d = entry(2, "DEFAULT ACL", "s", "DEFAULT PRIVILEGES FOR TABLES", Section::none, {}, "o",
                     "ALTER DEFAULT PRIVILEGES FOR ROLE o IN SCHEMA s GRANT SELECT ON TABLES TO r2;\n");
  CHECK(planner::roles_of(d) == std::set<std::string>{"o", "r2"});
}

TEST_CASE("planner: 10,000-entry archives plan quickly", "[planner][perf]") {
  archive::Toc t;
  t.checksum = "big";
  t.entries.push_back(entry(1, "SCHEMA", "", "s", Section::pre_data, {}));
  int id = 2;
  for (int i = 0; i < 2500; ++i) {
    std::string name = "t" + std::to_string(i);
    int table = id++;
    t.entries.push_back(entry(table, "TABLE", "s", name, Section::pre_data, {1}));
    TocEntry d = entry(id++, "TABLE DATA", "s", name, Section::data, {table});
    d.data.bytes = 100 + i;
    t.entries.push_back(d);
    t.entries.push_back(entry(id++, "CONSTRAINT", "s", name + " " + name + "_pkey", Section::post_data, {table}));
    t.entries.push_back(entry(id++, "INDEX", "s", name + "_idx", Section::post_data, {table}));
  }
  World w;
  w.toc = t;
  auto start = std::chrono::steady_clock::now();
  auto p = w.plan();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(p.steps.size() > 10000);
  WARN("planning a " << t.entries.size() << "-entry archive took " << s << " s");
  CHECK(s < 10.0);  // the goal is 2 s (measured in bench/); this only catches a blow-up
}

TEST_CASE("planner: a big table's rows are counted as soon as they are in, beside its index builds", "[planner]") {
  World w;
  for (auto& e : w.toc.entries)
    if (e.desc == "TABLE DATA" && e.tag == "orders") e.data.bytes = 2 << 20;
  auto p = w.plan();
  auto m = by_id(p);
  REQUIRE(m.count("row-count:shop.orders"));
  const auto* c = m.at("row-count:shop.orders");
  CHECK(c->params.at("table") == "\"shop\".\"orders\"");
  CHECK(c->depends_on == std::vector<std::string>{"table-data:shop.orders"});  // not the index builds
  CHECK(c->locks.at(0).mode == model::LockMode::share);
  CHECK(depends(p, "verify:target", "row-count:shop.orders"));
  // verify counts the others only
  const auto& tables = m.at("verify:target")->params.at("tables");
  CHECK(tables.find("orders") == std::string::npos);
  CHECK(tables.find("customers") != std::string::npos);
  CHECK(m.at("verify:target")->params.at("counted_alone") == "1");
  CHECK_FALSE(m.count("row-count:shop.customers"));
}
