// Restores into databases that already hold something, through the pgrecover binary against a
// real server, each compared with what pg_restore makes of the same archive (schema with
// pg_dump -s, rows per table): existing: replace with dependents, existing: truncate with
// foreign keys, sections (schema-only then data-only; a pg_dump -a archive into an existing
// schema with a foreign-key cycle, resumed after a failure) and single_transaction.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/harness.hpp"
#include "util/fs.hpp"

using namespace pgr;
using test::must;
using test::schema_of;
using test::psql;
using test::run_pgrecover;
using test::server;

namespace {

const char* kShop = R"SQL(
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), amount numeric, note text);
CREATE TABLE items (id int PRIMARY KEY, order_id int NOT NULL REFERENCES orders(id), sku text);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE VIEW order_totals AS SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id;
CREATE VIEW big_customers AS SELECT customer_id FROM order_totals WHERE total > 100;
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_positive ON orders USING (amount >= 0);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.note := 'touched'; RETURN NEW; END$$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 50) g;
INSERT INTO orders (customer_id, amount, note) SELECT 1 + g % 50, g, 'order ' || g FROM generate_series(1, 200) g;
INSERT INTO items SELECT g, 1 + g % 200, 'sku-' || g FROM generate_series(1, 400) g;
-- two tables that reference each other: no load order satisfies both
CREATE TABLE nodes (id int PRIMARY KEY, edge_id int);
CREATE TABLE edges (id int PRIMARY KEY, node_id int NOT NULL REFERENCES nodes(id));
ALTER TABLE nodes ADD CONSTRAINT nodes_edge_fk FOREIGN KEY (edge_id) REFERENCES edges(id);
INSERT INTO nodes SELECT g, NULL FROM generate_series(1, 20) g;
INSERT INTO edges SELECT g, g FROM generate_series(1, 20) g;
UPDATE nodes SET edge_id = id;
-- entries without a section of their own
CREATE ROLE ex_reader;
GRANT SELECT ON customers TO ex_reader;
COMMENT ON INDEX orders_customer_idx IS 'orders by customer';
ALTER DEFAULT PRIVILEGES FOR ROLE ex_reader GRANT SELECT ON TABLES TO PUBLIC;
)SQL";

struct Fixture {
  TempDir dir{"pgrecover-existing-test-"};
  std::string source = "ex_source", reference = "ex_reference";
  std::string full, data_only, config;
  Fixture() {
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    psql("postgres", "CREATE DATABASE " + source);
    psql(source, kShop);
    full = (dir.path() / "full.dump").string();
    data_only = (dir.path() / "data.dump").string();
    must(server().run_client({"pg_dump", "-Fc", "-f", full, "-d", source}), "pg_dump -Fc");
    must(server().run_client({"pg_dump", "-Fc", "-a", "-f", data_only, "-d", source}), "pg_dump -Fc -a");
    psql("postgres", "CREATE DATABASE " + reference);
    must(server().run_client({"pg_restore", "-d", reference, full}), "pg_restore");
    config = (dir.path() / "pgrecover.toml").string();
    write_file_atomic(config, fmt::format("state_dir = \"{}\"\n", (dir.path() / "state").string()));
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

// A database holding what pg_restore makes of the archive (sections as pg_restore flags).
void pg_restore_into(const std::string& db, std::vector<std::string> flags = {}) {
  psql("postgres", "CREATE DATABASE " + db);
  std::vector<std::string> argv = {"pg_restore", "-d", db};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(fx().full);
  must(server().run_client(argv), "pg_restore into " + db);
}

std::string doc(const std::string& name, const std::string& archive, const std::string& database,
                const std::string& extra) {
  auto& s = server();
  std::string path = (fx().dir.path() / (name + ".yaml")).string();
  write_file_atomic(path, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: {}}}
spec:
  from: {{archive: "{}"}}
  to: {{conninfo: "host={} port={} user=postgres dbname=postgres", database: {}}}
  jobs: 2
{})",
                                      name, archive, s.socket_dir().string(), s.port(), database, extra));
  return path;
}

ProcessResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"--config", fx().config});
  return run_pgrecover(args);
}

std::map<std::string, std::string> data_of(const std::string& db) {
  std::map<std::string, std::string> out;
  for (const char* t : {"customers", "orders", "items", "nodes", "edges"}) {
    out[t] = psql(db, fmt::format("select count(*) || ':' || coalesce(md5(string_agg(x::text, ',' order by x::text)), '') "
                                  "from public.{} x",
                                  t));
  }
  out["(sequences)"] = psql(db, "select string_agg(sequencename || '=' || coalesce(last_value, 0), ',' order by 1) from pg_sequences");
  return out;
}

}  // namespace

TEST_CASE("existing: replace drops a damaged table with its dependents, refuses to lose the target's own objects "
          "unless allowed, and ends equal to pg_restore",
          "[existing][replace]") {
  std::string db = "ex_replace";
  pg_restore_into(db);
  // the damage: rows lost, a column lost; and objects of the target's own that depend on orders
  psql(db, "DELETE FROM items WHERE id > 100; ALTER TABLE orders DROP COLUMN note CASCADE;"
           "ALTER TABLE customers ADD COLUMN vip boolean DEFAULT false;"  // a column the archive does not have
           "CREATE VIEW my_report AS SELECT count(*) FROM orders;"
           "CREATE TABLE refunds (id int PRIMARY KEY, order_id int REFERENCES orders(id))");
  std::string plan_file = (fx().dir.path() / "replace.json").string();
  auto p = cli({"plan", doc("replace", fx().full, db, "  existing: replace\n"), "--out", plan_file});
  INFO(p.out << p.err);
  REQUIRE(p.exit_code == 0);
  // the plan shows each dependent with its action and reason
  auto plan = nlohmann::json::parse(read_file(plan_file));
  std::map<std::string, nlohmann::json> steps;
  for (auto& s : plan["steps"]) steps[s["id"]] = s;
  CHECK(steps.at("table:public.orders")["action"] == "replace");
  for (const char* id : {"view:public.order_totals", "view:public.big_customers", "policy:public.orders orders_positive",
                         "trigger:public.orders orders_touch", "fk-constraint:public.items items_order_id_fkey",
                         "index:public.orders_customer_idx", "constraint:public.orders orders_pkey"}) {
    INFO(id);
    REQUIRE(steps.count(id));
    CHECK(steps.at(id)["action"] == "replace");
    CHECK(steps.at(id)["reason"].get<std::string>().find("dropped with public.orders") != std::string::npos);
  }
  int lost = 0;
  for (auto& [id, s] : steps) lost += id.rfind("lost:", 0) == 0;
  CHECK(lost == 2);  // nothing else: the triggers of foreign keys go with their constraints
  CHECK(steps.at("lost:view:public.my_report")["action"] == "delete");
  CHECK(steps.at("lost:fk-constraint:public.refunds refunds_order_id_fkey")["action"] == "delete");
  CHECK(p.out.find("-   view") != std::string::npos);
  CHECK(p.out.find("allow_dropping_dependents") != std::string::npos);
  CHECK(steps.at("table-data:public.items")["action"] == "replace");  // lost rows: truncate and reload
  CHECK(steps.at("table:public.customers")["action"] == "replace");
  CHECK(steps.at("table:public.customers")["reason"].get<std::string>().find("has column(s) vip") != std::string::npos);
  CHECK(steps.at("table-data:public.customers")["action"] == "create");

  // apply refuses the loss, changing nothing
  std::string before = schema_of(db);
  auto refused = cli({"apply", plan_file});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("view public.my_report") != std::string::npos);
  CHECK(refused.err.find("allow_dropping_dependents: true") != std::string::npos);
  CHECK(schema_of(db) == before);

  auto a = cli({"apply", "--auto-approve", doc("replace-allowed", fx().full, db,
                                               "  existing: replace\n  allow_dropping_dependents: true\n")});
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(psql(db, "select count(*) from pg_views where viewname = 'my_report'") == "0\n");
  CHECK(psql(db, "select count(*) from pg_constraint where conname = 'refunds_order_id_fkey'") == "0\n");
  psql(db, "DROP TABLE refunds");  // the target's own table (kept, without its foreign key)
  CHECK(schema_of(db) == schema_of(fx().reference));
  CHECK(data_of(db) == data_of(fx().reference));
  auto again = cli({"plan", doc("replace-allowed", fx().full, db, "  existing: replace\n  allow_dropping_dependents: true\n"),
                    "--detailed-exitcode"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
}

TEST_CASE("existing: truncate reloads tables that foreign keys point at, together or by dropping and re-adding the "
          "foreign key of a table that keeps its rows",
          "[existing][truncate]") {
  std::string db = "ex_truncate";
  pg_restore_into(db);
  // only customers differs: orders keeps its rows, so its foreign key is dropped and added back
  psql(db, "INSERT INTO customers VALUES (999, 'not in the backup')");
  auto one = cli({"apply", "--auto-approve", doc("truncate-one", fx().full, db, "  existing: truncate\n")});
  INFO(one.out << one.err);
  REQUIRE(one.exit_code == 0);
  CHECK(one.out.find("fk-drop") != std::string::npos);
  CHECK(one.out.find("fk-restore") != std::string::npos);
  CHECK(data_of(db) == data_of(fx().reference));
  CHECK(schema_of(db) == schema_of(fx().reference));

  // all three differ: truncated together, loaded in foreign-key order
  psql(db, "DELETE FROM items WHERE order_id IN (SELECT id FROM orders WHERE customer_id > 40);"
           "DELETE FROM orders WHERE customer_id > 40; DELETE FROM customers WHERE id > 40");
  std::string plan_file = (fx().dir.path() / "truncate.json").string();
  auto p = cli({"plan", doc("truncate-all", fx().full, db, "  existing: truncate\n"), "--out", plan_file});
  INFO(p.out << p.err);
  REQUIRE(p.exit_code == 0);
  auto plan = nlohmann::json::parse(read_file(plan_file));
  std::map<std::string, nlohmann::json> steps;
  for (auto& s : plan["steps"]) steps[s["id"]] = s;
  REQUIRE(steps.count("truncate:public.customers"));
  CHECK(steps.at("truncate:public.customers")["params"]["sql"] ==
        "TRUNCATE ONLY \"public\".\"customers\", \"public\".\"items\", \"public\".\"orders\"");
  auto deps = steps.at("table-data:public.items")["depends_on"];
  CHECK(std::find(deps.begin(), deps.end(), "table-data:public.orders") != deps.end());
  auto a = cli({"apply", plan_file});
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(data_of(db) == data_of(fx().reference));
  CHECK(schema_of(db) == schema_of(fx().reference));

  // rows changed in place, the same count: the contents differ, so the table is reloaded; then
  // a re-plan finds every table equal, contents included
  psql(db, "UPDATE customers SET name = 'changed in place' WHERE id = 1");
  auto u = cli({"plan", doc("truncate-updated", fx().full, db, "  existing: truncate\n")});
  INFO(u.out << u.err);
  REQUIRE(u.exit_code == 0);
  CHECK(u.out.find("archive's row count") != std::string::npos);
  auto ua = cli({"apply", "--auto-approve", doc("truncate-updated", fx().full, db, "  existing: truncate\n")});
  INFO(ua.out << ua.err);
  REQUIRE(ua.exit_code == 0);
  CHECK(data_of(db) == data_of(fx().reference));
  auto again = cli({"plan", doc("truncate-updated", fx().full, db, "  existing: truncate\n"), "--detailed-exitcode"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
}

TEST_CASE("sections: schema only, then data only into the same new database equals pg_restore -s then -a",
          "[existing][sections]") {
  std::string db = "ex_split";
  auto s = cli({"apply", "--auto-approve", doc("schema-only", fx().full, db, "  sections: [pre-data, post-data]\n")});
  INFO(s.out << s.err);
  REQUIRE(s.exit_code == 0);
  std::string ref = "ex_split_ref";
  pg_restore_into(ref, {"-s"});
  CHECK(schema_of(db) == schema_of(ref));
  CHECK(psql(db, "select count(*) from customers") == "0\n");
  // pre-data alone: grants with their objects, the index comment and default privileges not
  auto pre = cli({"apply", "--auto-approve", doc("pre-data", fx().full, "ex_pre", "  sections: [pre-data]\n")});
  INFO(pre.out << pre.err);
  REQUIRE(pre.exit_code == 0);
  pg_restore_into("ex_pre_ref", {"--section=pre-data"});
  CHECK(schema_of("ex_pre") == schema_of("ex_pre_ref"));
  CHECK(psql("ex_pre", "select has_table_privilege('ex_reader', 'customers', 'SELECT')") == "t\n");

  // data only: foreign keys are in place, nodes and edges reference each other
  std::string plan_file = (fx().dir.path() / "data-only.json").string();
  auto p = cli({"plan", doc("data-only", fx().full, db, "  sections: [data]\n"), "--out", plan_file});
  INFO(p.out << p.err);
  REQUIRE(p.exit_code == 0);
  CHECK(p.out.find("session_replication_role = replica") != std::string::npos);
  CHECK(p.out.find("foreign-key order") != std::string::npos);
  auto a = cli({"apply", plan_file});
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(schema_of(db) == schema_of(fx().reference));
  CHECK(data_of(db) == data_of(fx().reference));

  // data only into a database without the tables: refused before anything happens
  auto none = cli({"plan", doc("data-only-new", fx().full, "ex_split_missing", "  sections: [data]\n")});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("not in the target database") != std::string::npos);
  CHECK(psql("postgres", "select count(*) from pg_database where datname = 'ex_split_missing'") == "0\n");
}

TEST_CASE("a pg_dump -a archive into an existing schema with a foreign-key cycle: fails mid-way, then resumes to "
          "pg_restore's result",
          "[existing][sections][resume]") {
  std::string db = "ex_data_archive";
  pg_restore_into(db, {"-s"});
  // a failure in the middle of the loads: items refuses rows until the trigger is dropped
  psql(db, "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'boom'; END$$;"
           "CREATE TRIGGER boom BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION boom()");
  std::string d = doc("data-archive", fx().data_only, db, "");
  auto first = cli({"apply", "--auto-approve", d});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 1);
  CHECK(first.err.find("boom") != std::string::npos);
  CHECK(psql(db, "select count(*) from customers") == "50\n");  // loaded before items (foreign-key order)
  psql(db, "DROP TRIGGER boom ON items; DROP FUNCTION boom()");
  auto second = cli({"apply", "--auto-approve", d});
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(second.err.find("resuming run") != std::string::npos);
  CHECK(data_of(db) == data_of(fx().reference));
  CHECK(schema_of(db) == schema_of(fx().reference));
}

TEST_CASE("single_transaction: a restore that fails mid-way leaves the target exactly as before, run again, it "
          "completes",
          "[existing][single]") {
  std::string db = "ex_single";
  psql("postgres", "CREATE DATABASE " + db);
  psql(db, "CREATE TABLE keep (x int); INSERT INTO keep VALUES (42);"
           "CREATE FUNCTION no_index() RETURNS event_trigger LANGUAGE plpgsql AS "
           "$$BEGIN RAISE EXCEPTION 'no index today'; END$$;"
           "CREATE EVENT TRIGGER no_index ON ddl_command_end WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION no_index()");
  std::string before = schema_of(db);
  std::string d = doc("single", fx().full, db, "  single_transaction: true\n");
  std::string plan_file = (fx().dir.path() / "single.json").string();
  auto p = cli({"plan", d, "--out", plan_file});
  INFO(p.out << p.err);
  REQUIRE(p.exit_code == 0);
  CHECK(p.out.find("jobs is 1 (the document asks for 2)") != std::string::npos);
  auto a = cli({"apply", plan_file, "--jobs", "4"});
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 1);
  CHECK(a.err.find("no index today") != std::string::npos);
  CHECK(a.out.find("table-data") != std::string::npos);  // the data had been loaded before the failure
  CHECK(schema_of(db) == before);
  CHECK(psql(db, "select string_agg(x::text, ',') from keep") == "42\n");
  CHECK(psql(db, "select count(*) from pg_class where relname = 'customers'") == "0\n");

  psql(db, "DROP EVENT TRIGGER no_index; DROP FUNCTION no_index(); DROP TABLE keep");
  auto again = cli({"apply", plan_file});
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(schema_of(db) == schema_of(fx().reference));
  CHECK(data_of(db) == data_of(fx().reference));
}

TEST_CASE("a row count that differs from what the load copied stops the run: a big table at its own row-count "
          "step, small tables at verify",
          "[existing][verify]") {
  // big: over 1 MB in the archive, so it has a row-count step of its own; small: counted by verify.
  psql("postgres", "CREATE DATABASE ex_rc_source");
  psql("ex_rc_source", "CREATE TABLE big (id int PRIMARY KEY, t text);"
                       "INSERT INTO big SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 100000) g;"
                       "CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small SELECT generate_series(1, 10)");
  std::string archive = (fx().dir.path() / "rc.dump").string();
  must(server().run_client({"pg_dump", "-Fc", "-f", archive, "-d", "ex_rc_source"}), "pg_dump -Fc");
  // A trigger of the target's own adds a row for every row loaded: the table ends with twice the
  // rows COPY sent, which only counting the table after the load can see.
  auto prepare = [&](const std::string& db, const std::string& table) {
    psql("postgres", "CREATE DATABASE " + db);
    must(server().run_client({"pg_restore", "-d", db, archive}), "pg_restore");
    psql(db, fmt::format("INSERT INTO {0} VALUES (-1);"  // differs from the archive: reloaded
                         "CREATE FUNCTION shadow() RETURNS trigger LANGUAGE plpgsql AS "
                         "$$BEGIN INSERT INTO public.{0} (id) VALUES (NEW.id + 1000000); RETURN NULL; END$$;"
                         "CREATE TRIGGER shadow AFTER INSERT ON {0} FOR EACH ROW WHEN (NEW.id < 1000000) "
                         "EXECUTE FUNCTION shadow()",
                         table));
  };
  // The apply into `db` fails at `step`, naming the table's counts in `message`.
  auto fails_at = [&](const std::string& db, const std::string& step, const std::string& message) {
    std::string name = db;  // document names take hyphens, not underscores
    std::replace(name.begin(), name.end(), '_', '-');
    auto a = cli({"apply", "--auto-approve", doc(name, archive, db, "  existing: truncate\n")});
    INFO(a.out << a.err);
    CHECK(a.exit_code == 1);
    CHECK(a.err.find("step " + step + " failed") != std::string::npos);
    CHECK(a.err.find(message) != std::string::npos);
  };
  prepare("ex_rc_big", "big");
  fails_at("ex_rc_big", "row-count:public.big", "verification failed: \"public\".\"big\" has 200000 rows, expected 100000");
  CHECK(psql("ex_rc_big", "select count(*) from big") == "200000\n");
  prepare("ex_rc_small", "small");
  fails_at("ex_rc_small", "verify:ex_rc_small", "\"public\".\"small\" has 20 rows, expected 10");
}
