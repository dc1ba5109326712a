// The restore planner on what already exists in the target: existing: replace with its
// dependents (drop cascade), existing: truncate with foreign keys, sections, single transaction.
// A TOC fixture and catalog snapshots: no server.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>

#include "model/dag.hpp"
#include "planner/restore_planner.hpp"
#include "util/error.hpp"
#include "support/toc_entry.hpp"

using namespace pgr;
using archive::Section;
using archive::TocEntry;

namespace {

TocEntry entry(int id, std::string desc, std::string ns, std::string tag, Section sec, std::vector<int> deps,
               std::string defn = "") {
  auto e = test::toc_entry(id, std::move(desc), std::move(ns), std::move(tag), sec, std::move(deps));
  e.defn = std::move(defn);
  return e;
}

// shop: customers <- orders (fk); a view on orders; an index on orders; a grant.
archive::Toc fixture() {
  archive::Toc t;
  t.checksum = "toc";
  auto& e = t.entries;
  e.push_back(entry(2, "SCHEMA", "", "shop", Section::pre_data, {}));
  e.push_back(entry(4, "TABLE", "shop", "customers", Section::pre_data, {2}));
  e.push_back(entry(5, "TABLE", "shop", "orders", Section::pre_data, {2}));
  e.push_back(entry(6, "VIEW", "shop", "order_totals", Section::pre_data, {5}));
  auto data = [](int id, std::string tag, int table, std::string cols) {
    TocEntry d = entry(id, "TABLE DATA", "shop", tag, Section::data, {table});
    d.had_dumper = true;
    d.data.bytes = 1000;
    d.copy_stmt = "COPY shop." + tag + " (" + cols + ") FROM stdin;\n";
    return d;
  };
  e.push_back(data(10, "customers", 4, "id"));
  e.push_back(data(11, "orders", 5, "id, customer_id, note"));
  e.push_back(entry(20, "CONSTRAINT", "shop", "customers customers_pkey", Section::post_data, {4}));
  e.push_back(entry(21, "CONSTRAINT", "shop", "orders orders_pkey", Section::post_data, {5}));
  e.push_back(entry(22, "INDEX", "shop", "orders_customer_idx", Section::post_data, {5}));
  e.push_back(entry(24, "FK CONSTRAINT", "shop", "orders orders_customer_fk", Section::post_data, {5, 20},
                    "ALTER TABLE ONLY shop.orders\n    ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) "
                    "REFERENCES shop.customers(id);\n"));
  e.push_back(entry(30, "ACL", "shop", "TABLE orders", Section::none, {5}, "GRANT SELECT ON TABLE shop.orders TO app;\n"));
  return t;
}

struct Counter : planner::RowCounter {
  std::map<std::string, std::int64_t> archive, target;
  std::int64_t archive_rows(const TocEntry& e) override { return archive.at(e.tag); }
  std::int64_t target_rows(const std::string&, const std::string& t) override { return target.at(t); }
};

struct Deps : planner::TargetDependencies {
  std::vector<catalog::DroppedObject> objects;
  std::vector<std::pair<std::string, std::string>> asked;
  std::vector<catalog::DroppedObject> drop_cascade(const std::vector<std::pair<std::string, std::string>>& t) override {
    asked = t;
    return objects;
  }
};

catalog::DroppedObject dropped(std::string root, std::string cat, std::string kind, std::string schema, std::string name,
                               std::string on_table = "", bool part = false) {
  catalog::DroppedObject o;
  o.root = std::move(root);
  o.catalog = std::move(cat);
  o.kind = std::move(kind);
  o.schema = std::move(schema);
  o.name = std::move(name);
  o.on_table = std::move(on_table);
  o.type = o.catalog == "pg_class" ? (o.kind == "v" ? "view" : o.kind == "i" ? "index" : "table") : "table constraint";
  o.identity = o.schema + "." + o.name;
  o.part = part;
  return o;
}

// The target holds the whole shop schema with rows; the counter says which tables differ.
struct World {
  archive::Toc toc = fixture();
  catalog::Cluster cluster;
  catalog::Database db;
  config::Restore doc;
  Counter counter;
  Deps deps;
  bool superuser = true;
  planner::RowCounter* counter_override = nullptr;
  World() {
    cluster.roles["app"] = {"app", false, true};
    doc.metadata.name = "r";
    doc.spec.database = "target";
    doc.spec.archive = "/a";
    doc.spec.jobs = 4;
    db.exists = true;
    db.schemas = {"public", "shop"};
    auto rel = [&](std::string name, char kind, std::vector<std::string> cols) {
      catalog::Relation r;
      r.schema = "shop";
      r.name = name;
      r.relkind = kind;
      r.columns = std::move(cols);
      r.has_rows = kind == 'r';
      r.analyzed = true;
      db.relations["shop." + name] = r;
    };
    rel("customers", 'r', {"id"});
    rel("orders", 'r', {"id", "customer_id", "note"});
    rel("order_totals", 'v', {"customer_id", "n"});
    rel("orders_customer_idx", 'i', {});
    db.constraints = {"shop.customers.customers_pkey", "shop.orders.orders_pkey", "shop.orders.orders_customer_fk"};
    db.foreign_keys = {{"shop", "orders", "orders_customer_fk", "shop", "customers",
                        "FOREIGN KEY (customer_id) REFERENCES shop.customers(id)"}};
    counter.archive = {{"customers", 10}, {"orders", 20}};
    counter.target = {{"customers", 10}, {"orders", 20}};
  }
  model::Plan plan() {
    planner::RestoreInputs in;
    in.document = &doc;
    in.toc = &toc;
    in.cluster = &cluster;
    in.database = &db;
    in.counter = counter_override ? counter_override : &counter;
    in.dependencies = &deps;
    in.target_role = "app";
    in.target_superuser = superuser;
    in.documents_fingerprint = "docs";
    in.target = {"", "host=x", "target"};
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

}  // namespace

TEST_CASE("planner: existing: replace drops a table that lost a column with its dependents and recreates them",
          "[planner][replace]") {
  World w;
  w.doc.spec.existing = config::ExistingPolicy::replace;
  w.db.relations["shop.orders"].columns = {"id", "customer_id"};  // lost "note"
  const std::string root = "shop.orders";
  w.deps.objects = {dropped(root, "pg_class", "r", "shop", "orders"),
                    dropped(root, "pg_class", "v", "shop", "order_totals"),
                    dropped(root, "pg_class", "i", "shop", "orders_customer_idx", "shop.orders"),
                    dropped(root, "pg_constraint", "p", "shop", "orders_pkey", "shop.orders"),
                    dropped(root, "pg_class", "i", "shop", "orders_pkey", "shop.orders", true),
                    dropped(root, "pg_constraint", "f", "shop", "orders_customer_fk", "shop.orders"),
                    dropped(root, "pg_class", "v", "shop", "my_report"),  // the target's own view: lost
                    dropped(root, "pg_constraint", "f", "shop", "refunds_order_fk", "shop.refunds")};
  auto p = w.plan();
  auto m = by_id(p);
  REQUIRE(w.deps.asked == std::vector<std::pair<std::string, std::string>>{{"shop", "orders"}});
  const auto* table = m.at("table:shop.orders");
  CHECK(table->action == model::Action::replace);
  CHECK(table->params.at("drop_first") == "DROP TABLE IF EXISTS \"shop\".\"orders\" CASCADE");
  CHECK(table->reason.find("lacks column(s) note") != std::string::npos);
  // what the cascade drops and the archive holds: -/+, after the drop
  for (const char* id : {"view:shop.order_totals", "index:shop.orders_customer_idx", "constraint:shop.orders orders_pkey",
                         "fk-constraint:shop.orders orders_customer_fk"}) {
    INFO(id);
    CHECK(m.at(id)->action == model::Action::replace);
    CHECK(m.at(id)->reason.find("dropped with shop.orders") != std::string::npos);
    CHECK(depends(p, id, "table:shop.orders"));
  }
  // the data comes back even with an equal row count, and the grant too
  CHECK(m.at("table-data:shop.orders")->action == model::Action::create);
  CHECK(m.at("acl:shop.TABLE orders")->action == model::Action::create);
  // the other table is untouched
  CHECK(m.at("table:shop.customers")->action == model::Action::no_op);
  CHECK(m.at("table-data:shop.customers")->action == model::Action::no_op);
  // the target's own objects are listed as lost: -, and the plan warns
  REQUIRE(m.count("lost:view:shop.my_report"));
  REQUIRE(m.count("lost:fk-constraint:shop.refunds refunds_order_fk"));
  CHECK(m.at("lost:view:shop.my_report")->action == model::Action::remove);
  CHECK(m.at("lost:view:shop.my_report")->reason.find("not in the archive: lost") != std::string::npos);
  CHECK_FALSE(m.count("lost:index:shop.orders_pkey"));  // a part of the constraint, recreated with it
  CHECK(p.params.count("allow_dropping_dependents") == 0);
  bool warned = false;
  for (const auto& x : p.warnings) warned = warned || x.find("allow_dropping_dependents") != std::string::npos;
  CHECK(warned);
  model::Dag dag(p.steps);
  CHECK(dag.topological_order().size() == p.steps.size());

  SECTION("allowed by the document") {
    w.doc.spec.allow_dropping_dependents = true;
    CHECK(w.plan().params.at("allow_dropping_dependents") == "true");
  }
  SECTION("existing: truncate never drops") {
    w.doc.spec.existing = config::ExistingPolicy::truncate;
    w.deps.asked.clear();
    auto q = w.plan();
    CHECK(by_id(q).at("table:shop.orders")->action == model::Action::no_op);
    CHECK(w.deps.asked.empty());
  }
}

TEST_CASE("planner: existing: truncate of tables foreign keys connect truncates them together, in FK order",
          "[planner][truncate]") {
  World w;
  w.doc.spec.existing = config::ExistingPolicy::truncate;
  w.counter.target = {{"customers", 3}, {"orders", 4}};
  auto p = w.plan();
  auto m = by_id(p);
  REQUIRE(m.count("truncate:shop.customers"));
  const auto* t = m.at("truncate:shop.customers");
  CHECK(t->params.at("sql") == "TRUNCATE ONLY \"shop\".\"customers\", \"shop\".\"orders\"");
  CHECK(t->reason.find("orders_customer_fk") != std::string::npos);
  CHECK(m.at("table-data:shop.orders")->params.at("truncated_by") == "truncate:shop.customers");
  CHECK(m.at("table-data:shop.customers")->params.at("truncated_by") == "truncate:shop.customers");
  CHECK(depends(p, "table-data:shop.orders", "truncate:shop.customers"));
  CHECK(depends(p, "table-data:shop.orders", "table-data:shop.customers"));  // referenced table first
  CHECK_FALSE(depends(p, "table-data:shop.customers", "table-data:shop.orders"));

  SECTION("a referencing table that keeps its rows: its foreign key is dropped and added back") {
    w.counter.target = {{"customers", 3}, {"orders", 20}};
    auto q = w.plan();
    auto n = by_id(q);
    CHECK_FALSE(n.count("truncate:shop.customers"));
    REQUIRE(n.count("fk-drop:shop.orders orders_customer_fk"));
    REQUIRE(n.count("fk-restore:shop.orders orders_customer_fk"));
    CHECK(n.at("fk-drop:shop.orders orders_customer_fk")->action == model::Action::remove);
    CHECK(depends(q, "table-data:shop.customers", "fk-drop:shop.orders orders_customer_fk"));
    CHECK(depends(q, "fk-restore:shop.orders orders_customer_fk", "table-data:shop.customers"));
    CHECK(n.at("fk-restore:shop.orders orders_customer_fk")->params.at("definition") ==
          "FOREIGN KEY (customer_id) REFERENCES shop.customers(id)");
    CHECK(n.at("table-data:shop.customers")->params.count("truncated_by") == 0);  // its own TRUNCATE works now
  }
  SECTION("a cycle is loaded with session_replication_role = replica by a superuser") {
    w.db.foreign_keys.push_back({"shop", "customers", "customers_last_order_fk", "shop", "orders",
                                 "FOREIGN KEY (last_order) REFERENCES shop.orders(id)"});
    auto q = w.plan();
    auto n = by_id(q);
    CHECK(n.at("table-data:shop.orders")->params.at("replication_role") == "replica");
    CHECK(n.at("table-data:shop.customers")->params.at("replication_role") == "replica");
    CHECK(n.at("table-data:shop.orders")->reason.find("cycle") != std::string::npos);
    model::Dag dag(q.steps);
    CHECK(dag.topological_order().size() == q.steps.size());
  }
  SECTION("a cycle without a superuser: planning says what blocks it") {
    w.db.foreign_keys.push_back({"shop", "customers", "customers_last_order_fk", "shop", "orders",
                                 "FOREIGN KEY (last_order) REFERENCES shop.orders(id)"});
    w.superuser = false;
    CHECK_THROWS_WITH(w.plan(), Catch::Contains("reference each other") && Catch::Contains("customers_last_order_fk") &&
                                    Catch::Contains("superuser") && Catch::Contains("\"app\" is not one"));
  }
}

TEST_CASE("planner: sections restore parts of the archive like pg_restore --section", "[planner][sections]") {
  World w;
  SECTION("data only into the existing schema: data steps only, truncated together in FK order") {
    w.doc.spec.sections = {"data"};
    for (auto& [k, r] : w.db.relations) r.has_rows = false;
    auto p = w.plan();
    auto m = by_id(p);
    CHECK(m.at("table-data:shop.orders")->action == model::Action::create);
    CHECK_FALSE(m.count("table:shop.orders"));
    CHECK_FALSE(m.count("index:shop.orders_customer_idx"));
    CHECK_FALSE(m.count("acl:shop.TABLE orders"));
    CHECK(depends(p, "table-data:shop.orders", "table-data:shop.customers"));
    CHECK(m.count("truncate:shop.customers"));
    CHECK(p.params.at("sections") == "[\"data\"]");
  }
  SECTION("data only into a new database: refused, naming the tables") {
    w.doc.spec.sections = {"data"};
    w.db = catalog::Database{};
    CHECK_THROWS_WITH(w.plan(), Catch::Contains("shop.customers") && Catch::Contains("not in the target") &&
                                    Catch::Contains("[data]"));
  }
  SECTION("schema only: no data") {
    w.doc.spec.sections = {"pre-data", "post-data"};
    w.db = catalog::Database{};
    auto plan_1 = w.plan();
    auto m = by_id(plan_1);
    CHECK(m.count("table:shop.orders"));
    CHECK(m.count("index:shop.orders_customer_idx"));
    CHECK(m.count("acl:shop.TABLE orders"));
    CHECK_FALSE(m.count("table-data:shop.orders"));
    CHECK_FALSE(m.count("analyze:shop.orders"));
  }
  SECTION("a grant goes with its object's section, a default privilege with the entries before it (as pg_restore)") {
    w.toc.entries.push_back(entry(31, "DEFAULT ACL", "", "DEFAULT PRIVILEGES FOR TABLES", Section::none, {},
                                  "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO app;\n"));
    w.doc.spec.sections = {"pre-data"};
    w.db = catalog::Database{};
    auto plan_2 = w.plan();
    auto m = by_id(plan_2);
    CHECK(m.count("table:shop.orders"));
    CHECK_FALSE(m.count("index:shop.orders_customer_idx"));
    CHECK(m.count("acl:shop.TABLE orders"));
    CHECK_FALSE(m.count("default-acl:DEFAULT PRIVILEGES FOR TABLES"));
    w.doc.spec.sections = {"post-data"};
    w.db = World().db;
    auto plan_3 = w.plan();
    auto n = by_id(plan_3);
    CHECK_FALSE(n.count("acl:shop.TABLE orders"));
    CHECK(n.count("default-acl:DEFAULT PRIVILEGES FOR TABLES"));
  }
}

TEST_CASE("planner: single_transaction wraps every step in one transaction with one job", "[planner][single]") {
  World w;
  w.db = catalog::Database{};
  w.doc.spec.single_transaction = true;
  auto p = w.plan();
  auto m = by_id(p);
  CHECK(p.params.at("jobs") == "1");
  CHECK(p.params.at("single_transaction") == "true");
  REQUIRE(m.count("transaction:begin"));
  REQUIRE(m.count("transaction:commit"));
  CHECK(m.at("transaction:begin")->reason.find("jobs is 1 (the document asks for 4)") != std::string::npos);
  CHECK(depends(p, "transaction:begin", "database:target"));
  for (const auto& s : p.steps) {
    if (s.id == "database:target" || s.id == "transaction:begin") continue;
    INFO(s.id);
    if (s.kind == "verify" || s.kind == "row-count") {  // read-only checks, after the commit
      CHECK(depends(p, s.id, "transaction:commit"));
    } else {
      CHECK(depends(p, s.id, "transaction:begin"));
      if (s.id != "transaction:commit") CHECK(depends(p, "transaction:commit", s.id));
    }
  }
  model::Dag dag(p.steps);
  CHECK(dag.topological_order().size() == p.steps.size());
}

TEST_CASE("planner: default privileges missing in an existing database are restored, present ones kept",
          "[planner][diff]") {
  World w;
  w.toc.entries.push_back(entry(31, "DEFAULT ACL", "shop", "DEFAULT PRIVILEGES FOR TABLES", Section::none, {},
                                "ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA shop GRANT SELECT ON TABLES TO app;\n"));
  auto plan_4 = w.plan();
  auto m = by_id(plan_4);
  CHECK(m.at("default-acl:shop.DEFAULT PRIVILEGES FOR TABLES")->action == model::Action::create);
  w.db.default_acls = {"app|shop|r"};
  auto plan_5 = w.plan();
  m = by_id(plan_5);
  CHECK(m.at("default-acl:shop.DEFAULT PRIVILEGES FOR TABLES")->action == model::Action::no_op);
}

TEST_CASE("planner: existing: replace also recreates a table with columns the archive's table does not have",
          "[planner][replace]") {
  World w;
  w.doc.spec.existing = config::ExistingPolicy::replace;
  // the target grew a column (say, by a migration that is being undone) and has a generated one,
  // which COPY never lists and so does not count as a difference
  w.db.relations["shop.orders"].columns = {"id", "customer_id", "note", "discount", "total_gen"};
  w.db.relations["shop.orders"].generated_columns = {"total_gen"};
  w.deps.objects = {dropped("shop.orders", "pg_class", "r", "shop", "orders")};
  auto p = w.plan();
  auto m = by_id(p);
  const auto* table = m.at("table:shop.orders");
  CHECK(table->action == model::Action::replace);
  CHECK(table->reason.find("has column(s) discount that the archive's table does not") != std::string::npos);
  CHECK(table->reason.find("total_gen") == std::string::npos);
  CHECK(m.at("table-data:shop.orders")->action == model::Action::create);

  SECTION("only a generated column more: nothing to replace") {
    w.db.relations["shop.orders"].columns = {"id", "customer_id", "note", "total_gen"};
    w.deps.asked.clear();
    auto q = w.plan();
    CHECK(by_id(q).at("table:shop.orders")->action == model::Action::no_op);
  }
  SECTION("existing: truncate keeps the definition") {
    w.doc.spec.existing = config::ExistingPolicy::truncate;
    auto q = w.plan();
    CHECK(by_id(q).at("table:shop.orders")->action == model::Action::no_op);
  }
}

namespace {
// Row counts equal to the archive's everywhere, contents as the test says.
class SameCountCounter : public planner::RowCounter {
 public:
  std::optional<bool> contents;
  std::int64_t archive_rows(const archive::TocEntry&) override { return 5; }
  std::int64_t target_rows(const std::string&, const std::string&) override { return 5; }
  std::optional<bool> same_contents(const archive::TocEntry&) override { return contents; }
};
}  // namespace

TEST_CASE("planner: existing: truncate reloads a table with the archive's row count but other rows",
          "[planner][truncate]") {
  World w;
  w.doc.spec.existing = config::ExistingPolicy::truncate;
  for (auto& [k, r] : w.db.relations) r.has_rows = true;
  SameCountCounter c;
  w.counter_override = &c;
  c.contents = false;
  auto p1 = w.plan();
  auto m = by_id(p1);
  CHECK(m.at("table-data:shop.orders")->action == model::Action::replace);
  CHECK(m.at("table-data:shop.orders")->reason.find("other rows") != std::string::npos);
  c.contents = true;
  auto p2 = w.plan();
  CHECK(by_id(p2).at("table-data:shop.orders")->action == model::Action::no_op);
  c.contents = std::nullopt;  // not compared: kept, and the reason says so
  auto p3 = w.plan();
  auto n = by_id(p3);
  CHECK(n.at("table-data:shop.orders")->action == model::Action::no_op);
  CHECK(n.at("table-data:shop.orders")->reason.find("contents not compared") != std::string::npos);
  SECTION("existing: skip never compares contents") {
    w.doc.spec.existing = config::ExistingPolicy::skip;
    c.contents = false;
    auto p4 = w.plan();
    CHECK(by_id(p4).at("table-data:shop.orders")->action == model::Action::no_op);
  }
}
