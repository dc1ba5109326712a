// Restores of a database with the awkward corners real ones have (tests/data/awkward.sql), planned
// and applied through the pgrecover binary against a real server, compared with pg_restore of the
// same archive: schema (pg_dump -s), rows (per-table checksums), sequences, large objects.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "instance/instance.hpp"
#include "support/harness.hpp"
#include "util/fs.hpp"

using namespace pgr;
using test::must;
using test::schema_of;
using test::psql;
using test::run_pgrecover;
using test::server;

namespace {

struct Fixture {
  TempDir dir{"pgrecover-restore-test-"};
  std::string source = "awk_source";
  std::string dir_archive, custom_archive, config;
  std::string reference_dir = "awk_ref_dir";
  Fixture() {
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    psql("postgres", "CREATE DATABASE " + source);
    must(server().run_client({"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", source, "-f", test::test_data("awkward.sql")}),
         "psql -f awkward.sql");
    dir_archive = (dir.path() / "awk.dir").string();
    custom_archive = (dir.path() / "awk.dump").string();
    must(server().run_client({"pg_dump", "-Fd", "-j2", "-f", dir_archive, "-d", source}), "pg_dump -Fd");
    must(server().run_client({"pg_dump", "-Fc", "-f", custom_archive, "-d", source}), "pg_dump -Fc");
    // What pg_restore makes of the same archive: the reference.
    psql("postgres", "CREATE DATABASE " + reference_dir);
    must(server().run_client({"pg_restore", "-j2", "-d", reference_dir, dir_archive}), "pg_restore");
    config = (dir.path() / "pgrecover.toml").string();
    write_file_atomic(config, fmt::format("state_dir = \"{}\"\n", (dir.path() / "state").string()));
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

std::string conninfo_yaml() {
  auto& s = server();
  return fmt::format("host={} port={} user=postgres dbname=postgres", s.socket_dir().string(), s.port());
}

// Writes a Restore document and returns its path.
std::string restore_doc(const std::string& name, const std::string& archive, const std::string& database,
                        const std::string& extra = "") {
  std::string path = (fx().dir.path() / (name + ".yaml")).string();
  write_file_atomic(path, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata:
  name: {}
  annotations: {{ticket: CHG-42}}
spec:
  from: {{archive: "{}"}}
  to: {{conninfo: "{}", database: {}, create: true}}
  jobs: 2
{})",
                                      name, archive, conninfo_yaml(), database, extra));
  return path;
}

ProcessResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"--config", fx().config});
  return run_pgrecover(args);
}

std::map<std::string, std::string> data_of(const std::string& db) {
  std::map<std::string, std::string> out;
  std::string tables = psql(db,
                            "select format('%I.%I', schemaname, relname) from pg_stat_user_tables order by 1");
  size_t pos = 0;
  while (pos < tables.size()) {
    size_t nl = tables.find('\n', pos);
    std::string t = tables.substr(pos, nl - pos);
    pos = nl == std::string::npos ? tables.size() : nl + 1;
    if (t.empty()) continue;
    out[t] = psql(db, fmt::format("select count(*) || ':' || coalesce(md5(string_agg(x::text, E'\\n' order by x::text)), '') from {} x", t));
  }
  out["(sequences)"] = psql(db, "select string_agg(format('%s.%s=%s', schemaname, sequencename, last_value), ',' order by 1) from pg_sequences");
  out["(large objects)"] = psql(db, "select string_agg(oid::text || ':' || md5(lo_get(oid)), ',' order by oid) from pg_largeobject_metadata");
  return out;
}

}  // namespace

TEST_CASE("a full restore plans the expected step kinds and edges, applies, equals pg_restore and re-plans to nothing",
          "[restore]") {
  std::string db = "awk_full";
  std::string doc = restore_doc("full", fx().dir_archive, db);
  std::string plan_file = (fx().dir.path() / "full-plan.json").string();

  auto p = cli({"plan", doc, "--out", plan_file, "--detailed-exitcode"});
  INFO(p.err);
  REQUIRE(p.exit_code == 2);  // changes present: the database does not exist yet
  CHECK(p.out.find("Plan: ") != std::string::npos);

  auto plan = nlohmann::json::parse(read_file(plan_file));
  std::map<std::string, nlohmann::json> steps;
  std::set<std::string> kinds;
  for (auto& s : plan["steps"]) {
    steps[s["id"]] = s;
    kinds.insert(s["kind"]);
  }
  for (const char* k : {"table-data", "index", "constraint", "fk-constraint", "sequence-set", "analyze", "database",
                        "verify", "sequence-fix", "blobs", "acl", "comment"}) {
    INFO(k);
    CHECK(kinds.count(k));
  }
  auto deps = [&](const std::string& id) {
    std::set<std::string> d;
    for (auto& x : steps.at(id)["depends_on"]) d.insert(x.get<std::string>());
    return d;
  };
  // post-data on a table waits for its data
  CHECK(deps("index:shop.orders_customer_idx").count("table-data:shop.orders"));
  // analyze waits for the data and the indexes
  CHECK(deps("analyze:shop.orders").count("table-data:shop.orders"));
  CHECK(deps("analyze:shop.orders").count("index:shop.orders_customer_idx"));
  // a foreign key waits for both tables' data
  auto fk = deps("fk-constraint:shop.orders orders_customer_id_fkey");
  CHECK(fk.count("table-data:shop.orders"));
  CHECK(fk.count("table-data:shop.customers"));
  // no password in the plan file, ever
  CHECK(read_file(plan_file).find("password") == std::string::npos);

  auto a = cli({"apply", plan_file});
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(a.out.find(": ok") != std::string::npos);

  CHECK(schema_of(db) == schema_of(fx().reference_dir));
  CHECK(data_of(db) == data_of(fx().reference_dir));
  // every restored table with rows has statistics
  CHECK(psql(db, "select string_agg(relname, ',') from pg_stat_user_tables where n_live_tup > 0 and last_analyze is null") == "\n");
  CHECK(psql(db, "select count(*) > 10 from pg_stat_user_tables where last_analyze is not null") == "t\n");

  auto again = cli({"plan", doc, "--detailed-exitcode"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("Plan: 0 to create, 0 to change, 0 to delete.") != std::string::npos);

  // applying the same plan again does nothing
  auto twice = cli({"apply", plan_file});
  CHECK(twice.exit_code == 0);
  CHECK(twice.out.find("already applied") != std::string::npos);
}

TEST_CASE("a custom-format archive restores to the same result", "[restore]") {
  std::string db = "awk_custom";
  std::string doc = restore_doc("custom", fx().custom_archive, db);
  auto a = cli({"apply", "--auto-approve", doc});
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(schema_of(db) == schema_of(fx().reference_dir));
  CHECK(data_of(db) == data_of(fx().reference_dir));
}

TEST_CASE("a saved plan whose target changed in between is refused with exit 3", "[restore][stale]") {
  std::string db = "awk_stale";
  std::string doc = restore_doc("stale", fx().dir_archive, db);
  std::string plan_file = (fx().dir.path() / "stale-plan.json").string();
  REQUIRE(cli({"plan", doc, "--out", plan_file}).exit_code == 0);
  psql("postgres", "CREATE DATABASE " + db);  // someone created the target meanwhile
  auto a = cli({"apply", plan_file});
  CHECK(a.exit_code == 3);
  CHECK(a.err.find("plan is stale") != std::string::npos);
  CHECK(a.err.find("database") != std::string::npos);
  CHECK(psql(db, "select count(*) from pg_class where relnamespace = 'public'::regnamespace") == "0\n");
}

TEST_CASE("existing: fail lists conflicting objects and changes nothing", "[restore][conflict]") {
  std::string db = "awk_conflict";
  psql("postgres", "CREATE DATABASE " + db);
  psql(db, "CREATE SCHEMA shop; CREATE TABLE shop.big (id int PRIMARY KEY, filler text); "
           "INSERT INTO shop.big VALUES (1, 'mine')");
  std::string before = schema_of(db) + psql(db, "select count(*) from shop.big");
  std::string doc = restore_doc("conflict", fx().dir_archive, db);
  auto p = cli({"plan", doc});
  CHECK(p.exit_code == 1);
  CHECK(p.err.find("conflicting objects") != std::string::npos);
  CHECK(p.err.find("shop.big") != std::string::npos);
  CHECK(p.err.find("existing: skip, truncate or replace") != std::string::npos);
  auto a = cli({"apply", "--auto-approve", doc});
  CHECK(a.exit_code == 1);
  CHECK(schema_of(db) + psql(db, "select count(*) from shop.big") == before);
}

TEST_CASE("existing: truncate reloads a table that holds other rows", "[restore][conflict]") {
  std::string db = "awk_truncate";
  psql("postgres", "CREATE DATABASE " + db);
  psql(db, "CREATE SCHEMA shop; CREATE TABLE shop.big (id int PRIMARY KEY, filler text); "
           "INSERT INTO shop.big VALUES (-1, 'stale row')");
  std::string doc = restore_doc("truncate", fx().dir_archive, db,
                                "  existing: truncate\n  select: {tables: [shop.big]}\n");
  auto a = cli({"apply", "--auto-approve", doc});
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(psql(db, "select count(*), min(id) from shop.big") == "20000|1\n");
}

TEST_CASE("a selected-table restore pulls in exactly what the table needs", "[restore][select]") {
  std::string db = "awk_select";
  std::string doc = restore_doc("select", fx().dir_archive, db, "  select: {tables: [shop.orders]}\n");
  std::string plan_file = (fx().dir.path() / "select-plan.json").string();
  auto p = cli({"plan", doc, "--out", plan_file});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  auto plan = nlohmann::json::parse(read_file(plan_file));
  std::set<std::string> ids;
  for (auto& s : plan["steps"]) ids.insert(s["id"]);
  // the table, its data, index, trigger, identity sequence, and what they need
  for (const char* id : {"table:shop.orders", "table-data:shop.orders", "index:shop.orders_customer_idx",
                         "trigger:shop.orders orders_touch", "function:shop.touch()", "schema:shop",
                         "type:shop.order_status", "domain:shop.positive_money", "sequence:shop.invoice_no",
                         "constraint:shop.orders orders_pkey", "analyze:shop.orders"}) {
    INFO(id);
    CHECK(ids.count(id));
  }
  // nothing of other tables' data; the FK to customers is skipped with a warning
  CHECK_FALSE(ids.count("table-data:shop.customers"));
  CHECK_FALSE(ids.count("table-data:shop.big"));
  CHECK_FALSE(ids.count("fk-constraint:shop.orders orders_customer_id_fkey"));
  bool warned = false;
  for (auto& w : plan["warnings"]) warned = warned || w.get<std::string>().find("orders_customer_id_fkey") != std::string::npos;
  INFO(plan["warnings"].dump());
  CHECK(warned);
  auto a = cli({"apply", plan_file});
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(psql(db, "select count(*) from shop.orders") == "3\n");
  CHECK(psql(db, "select count(*) from pg_tables where schemaname = 'shop'") == "1\n");
}

TEST_CASE("an apply that another apply holds the lock for exits 4 naming the holder", "[restore][lock]") {
  std::string db = "awk_locked";
  std::string doc = restore_doc("locked", fx().dir_archive, db);
  std::string plan_file = (fx().dir.path() / "locked-plan.json").string();
  REQUIRE(cli({"plan", doc, "--out", plan_file}).exit_code == 0);
  auto holder = pg::Connection::open(server().conninfo("postgres"), "pgrecover apply (other)");
  holder.exec("SELECT pg_advisory_lock(hashtext('pgrecover:' || $1))", {db});
  auto a = cli({"apply", plan_file});
  CHECK(a.exit_code == 4);
  CHECK(a.err.find("another apply holds the lock") != std::string::npos);
  CHECK(a.err.find("pgrecover apply (other)") != std::string::npos);
  holder.exec("SELECT pg_advisory_unlock_all()");
  auto ok = cli({"apply", plan_file});
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
}

TEST_CASE("an unreachable target fails planning with the target named and the password redacted", "[restore]") {
  std::string path = (fx().dir.path() / "unreachable.yaml").string();
  write_file_atomic(path, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: unreachable}}
spec:
  from: {{archive: "{}"}}
  to: {{conninfo: "host=/nonexistent/socket port=1 user=u password=hunter2 dbname=postgres", database: x}}
)",
                                      fx().dir_archive));
  auto p = cli({"plan", path});
  CHECK(p.exit_code == 1);
  CHECK(p.err.find("could not connect to host=/nonexistent/socket port=1") != std::string::npos);
  CHECK(p.err.find("hunter2") == std::string::npos);
  CHECK(p.out.find("hunter2") == std::string::npos);
}

TEST_CASE("show renders a saved plan as Markdown with the ticket, summary and warnings, never a password",
          "[restore][report]") {
  // a password in the conninfo itself (the server trusts local connections, so it is not needed)
  std::string doc = (fx().dir.path() / "markdown.yaml").string();
  write_file_atomic(doc, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata:
  name: markdown
  annotations: {{ticket: CHG-42, reason: "restore orders for support"}}
spec:
  from: {{archive: "{}"}}
  to: {{conninfo: "{} password=hunter2secret", database: awk_markdown, create: true}}
  select: {{tables: [shop.orders]}}
)",
                                     fx().dir_archive, conninfo_yaml()));
  std::string plan_file = (fx().dir.path() / "md-plan.json").string();
  REQUIRE(cli({"plan", doc, "--out", plan_file}).exit_code == 0);
  auto md = cli({"show", plan_file, "--markdown"});
  REQUIRE(md.exit_code == 0);
  CHECK(md.out.find("CHG-42") != std::string::npos);
  CHECK(md.out.find("restore orders for support") != std::string::npos);
  CHECK(md.out.find("| create |") != std::string::npos);
  CHECK(md.out.find("Warnings") != std::string::npos);
  CHECK(md.out.find("orders_customer_id_fkey") != std::string::npos);  // the skipped foreign key
  CHECK(md.out.find("pgrecover apply") != std::string::npos);
  for (const auto& text : {md.out, read_file(plan_file), cli({"show", plan_file}).out}) {
    CHECK(text.find("hunter2secret") == std::string::npos);
  }
  // applying it still connects: the password was never needed from the plan
  auto a = cli({"apply", plan_file});
  INFO(a.err);
  CHECK(a.exit_code == 0);
  CHECK(a.out.find("hunter2secret") == std::string::npos);
  CHECK(a.err.find("hunter2secret") == std::string::npos);
  auto js = cli({"--json", "show", plan_file});
  REQUIRE(js.exit_code == 0);
  CHECK(nlohmann::json::parse(js.out)["format_version"] == 1);
}

TEST_CASE("runs list and runs show report what an apply did, without secrets", "[restore][report]") {
  std::string db = "awk_runs";
  // user checks run read-only with the normal search_path, not pg_restore's empty one
  std::string doc = restore_doc("runs", fx().dir_archive, db,
                                "  post: {verify: {sql: [\"select count(*) = 20000 from shop.big\", "
                                "\"select current_setting('search_path') = '\\\"$user\\\", public'\"]}}\n");
  std::string plan_file = (fx().dir.path() / "runs-plan.json").string();
  REQUIRE(cli({"plan", doc, "--out", plan_file}).exit_code == 0);
  std::string id = nlohmann::json::parse(read_file(plan_file))["id"];
  auto a = cli({"apply", plan_file});
  INFO(a.err);
  REQUIRE(a.exit_code == 0);

  auto list = cli({"--json", "runs", "list"});
  INFO(list.out << list.err);
  REQUIRE(list.exit_code == 0);
  bool found = false;
  auto listed = nlohmann::json::parse(list.out);
  for (auto& r : listed["runs"]) {
    if (r["id"] == id) {
      found = true;
      CHECK(r["status"] == "ok");
      CHECK(r["steps_done"] == r["steps_total"]);
      CHECK(r["rows"].get<long>() > 20000);
    }
  }
  CHECK(found);

  auto md = cli({"runs", "show", id, "--markdown"});
  REQUIRE(md.exit_code == 0);
  CHECK(md.out.find("CHG-42") != std::string::npos);
  CHECK(md.out.find("**ok**") != std::string::npos);
  CHECK(md.out.find("14 row counts and 2 SQL checks passed") != std::string::npos);
  CHECK(md.out.find("password") == std::string::npos);

  auto bad = cli({"runs", "show", "../../etc"});
  CHECK(bad.exit_code == 1);
  auto unknown = cli({"runs", "show", "r-0000000000000000"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("no run") != std::string::npos);
}

TEST_CASE("into a fresh cluster without the roles: create-missing makes them, require refuses", "[restore][roles]") {
  instance::Options o;
  instance::Instance fresh(o);
  std::string conninfo = fmt::format("host={} port={} user=postgres dbname=postgres", fresh.socket_dir().string(), fresh.port());
  auto doc_with = [&](const std::string& name, const std::string& extra) {
    std::string path = (fx().dir.path() / (name + ".yaml")).string();
    write_file_atomic(path, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: {}}}
spec:
  from: {{archive: "{}"}}
  to: {{conninfo: "{}", database: awk, create: true}}
  jobs: 2
{})",
                                        name, fx().dir_archive, conninfo, extra));
    return path;
  };
  // the extensions awkward.sql uses must exist in the fresh cluster's installation: they do (contrib)
  auto req = cli({"plan", doc_with("fresh-require", "  roles: require\n")});
  CHECK(req.exit_code == 1);
  CHECK(req.err.find("roles missing on the target") != std::string::npos);
  CHECK(req.err.find("awk_reader") != std::string::npos);

  std::string plan_file = (fx().dir.path() / "fresh-plan.json").string();
  auto p = cli({"plan", doc_with("fresh-create", ""), "--out", plan_file});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  CHECK(p.out.find("role:") == std::string::npos);  // ids are not printed, kinds are
  CHECK(p.out.find("role ") != std::string::npos);
  CHECK(p.out.find("will be created NOLOGIN") != std::string::npos);
  auto a = cli({"apply", plan_file});
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  auto c = pg::Connection::open(fresh.conninfo("postgres"));
  CHECK(c.exec("select count(*) from pg_roles where rolname in ('awk_reader', 'awk_writer', 'Awk Owner') and not rolcanlogin").str(0, 0) == "3");
  // owners and grants came back with the data
  auto d = pg::Connection::open(fresh.conninfo("awk"));
  CHECK(d.exec("select pg_get_userbyid(c.relowner) from pg_class c where c.oid = '\"ünïcødé\".\"tàblé ñ\"'::regclass").str(0, 0) == "Awk Owner");
  CHECK(d.exec("select has_table_privilege('awk_reader', 'shop.customers', 'SELECT')").boolean(0, 0));
  CHECK(d.exec("select count(*) from shop.big").str(0, 0) == "20000");
}

TEST_CASE("a new plan after the target was dropped restores again, the same plan file does not", "[restore][runs]") {
  std::string db = "awk_again";
  std::string doc = restore_doc("again", fx().dir_archive, db, "  select: {tables: [shop.big]}\n");
  std::string first = (fx().dir.path() / "again-1.json").string();
  REQUIRE(cli({"plan", doc, "--out", first}).exit_code == 0);
  REQUIRE(cli({"apply", first}).exit_code == 0);
  CHECK(cli({"apply", first}).out.find("already applied") != std::string::npos);
  psql("postgres", "DROP DATABASE " + db);
  // planned again: same inputs, same plan id, but a new plan: it must run, not be skipped
  std::string second = (fx().dir.path() / "again-2.json").string();
  auto p = cli({"plan", doc, "--out", second, "--detailed-exitcode"});
  REQUIRE(p.exit_code == 2);
  CHECK(nlohmann::json::parse(read_file(second))["id"] == nlohmann::json::parse(read_file(first))["id"]);
  auto a = cli({"apply", second});
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(a.out.find("already applied") == std::string::npos);
  CHECK(psql(db, "select count(*) from shop.big") == "20000\n");
  // both runs are listed
  auto list = cli({"--json", "runs", "list"});
  auto runs = nlohmann::json::parse(list.out)["runs"];
  int mine = 0;
  for (auto& r : runs) mine += r["document"] == "again";
  CHECK(mine == 2);
}
