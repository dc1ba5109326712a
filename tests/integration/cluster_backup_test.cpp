// Whole-cluster logical backups (databases: all): three databases and roles (one owning a
// database, one with a membership, grants) backed up into one backup, listed by `backups
// list/show`, verified, restored into a fresh cluster (globals first, every database equal to
// the source in schema and data), and select.databases restoring only the chosen one.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "instance/instance.hpp"
#include "support/harness.hpp"

using namespace pgr;
using test::data_of;
using test::must;
using test::psql;
using test::schema_of;
using test::server;

namespace {

std::string roles_of(const instance::Instance& inst) {
  auto r = inst.run_client({"psql", "-X", "-At", "-d", "postgres", "-c",
                            "SELECT string_agg(rolname || ' ' || rolcanlogin || ' ' || rolcreatedb, ',' ORDER BY rolname) "
                            "FROM pg_roles WHERE rolname LIKE 'cb\\_%'; "
                            "SELECT string_agg(m.rolname || '>' || r.rolname, ',' ORDER BY 1) FROM pg_auth_members a "
                            "JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member "
                            "WHERE m.rolname LIKE 'cb\\_%'; "
                            "SELECT string_agg(datname || ' ' || pg_get_userbyid(datdba), ',' ORDER BY datname) "
                            "FROM pg_database WHERE datname LIKE 'cb\\_%'"});
  must(r, "roles");
  return r.out;
}

std::string restore_doc(const test::Workspace& ws, const std::string& name, const instance::Instance& to,
                        const std::string& extra) {
  return ws.write(name + ".yaml", fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: {}}}
spec:
  from: {{repository: local, policy: cb-all}}
  to: {{conninfo: "{}"}}
{})",
                                              name, test::instance_conninfo(to), extra)).string();
}

}  // namespace

TEST_CASE("databases: all backs up three databases and roles and restores them into a fresh cluster",
          "[backup][cluster][restore]") {
  // Catch runs the case once per SECTION: the source and its backup are made once.
  static test::Workspace ws("pgrecover-cluster");
  static std::string id;
  static bool backed_up = false;
  if (!backed_up) {
    psql("postgres", R"(
    CREATE ROLE cb_owner LOGIN CREATEDB;
    CREATE ROLE cb_readers NOLOGIN;
    CREATE ROLE cb_app LOGIN IN ROLE cb_readers;
  )");
    // one statement each: psql -c runs several in one transaction, and CREATE DATABASE refuses that
    psql("postgres", "CREATE DATABASE cb_shop OWNER cb_owner");
    psql("postgres", "CREATE DATABASE cb_hr");
    psql("postgres", "CREATE DATABASE cb_logs");
    psql("cb_shop", R"(
    SET ROLE cb_owner;
    CREATE TABLE orders (id serial PRIMARY KEY, note text);
    INSERT INTO orders (note) SELECT 'o' || g FROM generate_series(1, 250) g;
    CREATE INDEX ON orders (note);
    GRANT SELECT ON orders TO cb_readers;
  )");
    psql("cb_hr", R"(
    CREATE SCHEMA people;
    CREATE TABLE people.staff (id int PRIMARY KEY, name text, boss int REFERENCES people.staff);
    INSERT INTO people.staff SELECT g, 'n' || g, NULLIF(g / 2, 0) FROM generate_series(1, 40) g;
    GRANT USAGE ON SCHEMA people TO cb_app;
    GRANT SELECT ON people.staff TO cb_app;
  )");
    psql("cb_logs", "CREATE TABLE events (at timestamptz DEFAULT now(), msg text); "
                    "INSERT INTO events (msg) SELECT 'e' || g FROM generate_series(1, 75) g");

    auto policy = ws.write("policy.yaml", fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: cb-all}}
spec:
  source: {{conninfo: "{}"}}
  databases: all
  exclude_databases: [template1]
  jobs: 2
  repository: local
)",
                                                      test::server_conninfo()));
    auto plan = ws.pgrecover({"plan", policy.string(), "--detailed-exitcode"});
    INFO(plan.out << plan.err);
    REQUIRE(plan.exit_code == 2);  // changes present
    CHECK(plan.out.find("cb_hr, cb_logs, cb_shop") != std::string::npos);
    CHECK(plan.out.find("\"template0\" is not dumped") == std::string::npos);  // expected, as pg_dumpall: no warning
    CHECK(plan.out.find("\"template1\" is not dumped: in exclude_databases") != std::string::npos);

    auto backup = ws.pgrecover({"apply", policy.string(), "--auto-approve"});
    INFO(backup.out << backup.err);
    REQUIRE(backup.exit_code == 0);

    auto list = ws.pgrecover({"backups", "list", "--repository", "local"});
    must(list, "backups list");
    CHECK(list.out.find("cluster (4 databases)") != std::string::npos);  // cb_hr, cb_logs, cb_shop, postgres
    auto json = ws.pgrecover({"backups", "list", "--repository", "local", "--json"});
    must(json, "backups list --json");
    id = nlohmann::json::parse(json.out).at("backups").at(0).at("id");
    auto show = ws.pgrecover({"backups", "show", id, "--repository", "local"});
    must(show, "backups show");
    INFO(show.out);
    CHECK(show.out.find("databases:    4 (whole cluster)") != std::string::npos);
    for (const char* db : {"cb_shop", "cb_hr", "cb_logs"}) CHECK(show.out.find(db) != std::string::npos);
    CHECK(show.out.find("cb_owner") != std::string::npos);  // the owner of cb_shop
    CHECK(show.out.find(" 250 ") != std::string::npos);      // its rows
    must(ws.pgrecover({"backups", "verify", id, "--repository", "local"}), "backups verify");
    backed_up = true;
  }

  SECTION("every database into a fresh cluster, equal to the source") {
    instance::Instance fresh(instance::Options{});
    auto r = restore_doc(ws, "cb-restore", fresh, "");
    auto apply = ws.pgrecover({"apply", r, "--auto-approve"});
    INFO(apply.out << apply.err);
    REQUIRE(apply.exit_code == 0);
    for (const std::string db : {"cb_shop", "cb_hr", "cb_logs"}) {
      INFO(db);
      CHECK(schema_of(fresh, db) == schema_of(server(), db));
      CHECK(data_of(fresh, db) == data_of(server(), db));
    }
    CHECK(data_of(fresh, "cb_shop").find("orders 250:") != std::string::npos);
    CHECK(roles_of(fresh) == roles_of(server()));
    CHECK(roles_of(fresh).find("cb_app>cb_readers") != std::string::npos);
    CHECK(roles_of(fresh).find("cb_shop cb_owner") != std::string::npos);
    // Applied again: every database is there, nothing to do.
    auto again = ws.pgrecover({"plan", r, "--detailed-exitcode"});
    INFO(again.out << again.err);
    CHECK(again.exit_code == 0);
  }

  SECTION("select.databases restores only the chosen ones; renaming needs exactly one") {
    instance::Instance fresh(instance::Options{});
    auto r = restore_doc(ws, "cb-some", fresh, "  select: {databases: [cb_hr]}\n");
    auto apply = ws.pgrecover({"apply", r, "--auto-approve"});
    INFO(apply.out << apply.err);
    REQUIRE(apply.exit_code == 0);
    CHECK(data_of(fresh, "cb_hr") == data_of(server(), "cb_hr"));
    auto dbs = fresh.run_client({"psql", "-X", "-At", "-d", "postgres", "-c",
                                 "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'cb\\_%'"});
    CHECK(dbs.out == "cb_hr\n");
    auto renamed = restore_doc(ws, "cb-rename", fresh, "  select: {databases: [cb_logs]}\n");
    // to.database renames the one selected database.
    auto text = ws.write("cb-rename2.yaml", fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: cb-rename2}}
spec:
  from: {{repository: local, policy: cb-all}}
  to: {{conninfo: "{}", database: logs_copy}}
  select: {{databases: [cb_logs]}}
)",
                                                        test::instance_conninfo(fresh)));
    must(ws.pgrecover({"apply", text.string(), "--auto-approve"}), "restore renamed");
    CHECK(data_of(fresh, "logs_copy") == data_of(server(), "cb_logs"));
    auto all_renamed = ws.write("cb-rename3.yaml", fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: cb-rename3}}
spec:
  from: {{repository: local, policy: cb-all}}
  to: {{conninfo: "{}", database: one}}
)",
                                                               test::instance_conninfo(fresh)));
    auto refused = ws.pgrecover({"plan", all_renamed.string()});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("renames one database") != std::string::npos);
    (void)renamed;
  }
}
