// The restore planner's database, tablespace and role steps (restore_globals.cpp) and the plan of a
// plain SQL script (restore_sql.cpp), on fixtures: no server.
#include <catch2/catch.hpp>

#include <algorithm>

#include "planner/restore_planner.hpp"
#include "planner/restore_sql.hpp"
#include "planner/toc_index.hpp"
#include "support/toc_entry.hpp"

using namespace pgr;
using archive::Section;
using archive::TocEntry;

namespace {

TocEntry entry(int id, std::string desc, std::string ns, std::string tag, Section sec, std::vector<int> deps,
               std::string owner, std::string defn = "") {
  auto e = test::toc_entry(id, std::move(desc), std::move(ns), std::move(tag), sec, std::move(deps));
  e.owner = std::move(owner);
  e.defn = std::move(defn);
  return e;
}

archive::Toc fixture() {
  archive::Toc t;
  t.checksum = "sum";
  auto& e = t.entries;
  e.push_back(entry(1, "ENCODING", "", "ENCODING", Section::pre_data, {}, "", "SET client_encoding = 'UTF8';\n"));
  e.push_back(entry(2, "DATABASE", "", "Src Db", Section::pre_data, {}, "db owner",
                    "CREATE DATABASE \"Src Db\" WITH TEMPLATE = template0 ENCODING = 'LATIN1' LOCALE_PROVIDER = libc "
                    "LOCALE = 'C';\n"));
  e.push_back(entry(3, "DATABASE PROPERTIES", "", "Src Db", Section::pre_data, {}, "db owner",
                    "ALTER DATABASE \"Src Db\" SET search_path TO 'app', 'public';\n"
                    "ALTER ROLE app_user IN DATABASE \"Src Db\" SET work_mem TO '8MB';\n"));
  e.push_back(entry(4, "SCHEMA", "", "app", Section::pre_data, {}, "owner"));
  TocEntry table = entry(5, "TABLE", "app", "accounts", Section::pre_data, {4}, "owner");
  table.tablespace = "fast";
  e.push_back(table);
  e.push_back(entry(6, "POLICY", "app", "accounts only_mine", Section::post_data, {5}, "owner",
                    "CREATE POLICY only_mine ON app.accounts FOR SELECT TO policy_role, \"Other Role\" USING "
                    "((owner_name = CURRENT_USER));\n"));
  e.push_back(entry(7, "ACL", "app", "TABLE accounts", Section::none, {5}, "owner",
                    "GRANT SELECT(id) ON TABLE app.accounts TO column_reader;\n"));
  e.push_back(entry(8, "DEFAULT ACL", "app", "DEFAULT PRIVILEGES FOR TABLES", Section::none, {4}, "owner",
                    "ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA app GRANT SELECT ON TABLES TO defpriv;\n"));
  e.push_back(entry(9, "ACL", "", "DATABASE \"Src Db\"", Section::none, {}, "db owner",
                    "GRANT CONNECT ON DATABASE \"Src Db\" TO connector;\n"));
  return t;
}

struct World {
  archive::Toc toc = fixture();
  catalog::Cluster cluster;
  catalog::Database db;
  config::Restore doc;
  planner::RestoreInputs in;
  World() {
    cluster.roles["postgres"] = {"postgres", true, true};
    doc.metadata.name = "r";
    doc.spec.database = "target";
    doc.spec.archive = "/a";
    in.document = &doc;
    in.toc = &toc;
    in.cluster = &cluster;
    in.database = &db;
    in.target = {"", "host=x", "target"};
  }
  model::Plan plan() { return planner::plan_restore(in); }
};

const model::Step* step(const model::Plan& p, const std::string& id) {
  const auto* s = p.find(id);
  INFO(id);
  REQUIRE(s != nullptr);
  return s;
}

bool depends(const model::Step* s, const std::string& on) {
  return std::find(s->depends_on.begin(), s->depends_on.end(), on) != s->depends_on.end();
}

}  // namespace

TEST_CASE("planner: roles named by policies, column grants, default privileges and the database are created",
          "[planner][roles]") {
  World w;
  w.in.tablespace_definitions["fast"] = {"owner", "CREATE TABLESPACE \"fast\" OWNER \"owner\" LOCATION '/srv/fast'"};
  w.in.role_definitions["app_user"] = "CREATE ROLE \"app_user\" WITH LOGIN CONNECTION LIMIT 3;\n";
  w.in.role_member_of["policy_role"] = {"group_a"};
  w.in.role_member_of["group_a"] = {"group_b"};
  auto p = w.plan();
  for (const char* r : {"owner", "db owner", "policy_role", "Other Role", "column_reader", "defpriv", "app_user",
                        "connector", "group_a", "group_b"}) {
    step(p, std::string("role:") + r);
  }
  CHECK(p.find("role:CURRENT_USER") == nullptr);
  CHECK(step(p, "role:app_user")->params.at("sql").find("LOGIN CONNECTION LIMIT 3") != std::string::npos);
  CHECK(step(p, "role:group_b")->reason.find("\"group_a\" is a member of it") != std::string::npos);
  CHECK(depends(step(p, "policy:app.accounts only_mine"), "role:policy_role"));

  // The new database: the source's encoding and locale, then its owner and settings renamed.
  const auto* d = step(p, "database:target");
  CHECK(d->params.at("sql") ==
        "CREATE DATABASE \"target\" WITH TEMPLATE = template0 ENCODING = 'LATIN1' LC_COLLATE = 'C' LC_CTYPE = 'C'");
  const auto* props = step(p, "database-settings:target");
  const std::string& sql = props->params.at("sql");
  CHECK(sql.find("ALTER DATABASE \"target\" OWNER TO \"db owner\";") != std::string::npos);
  CHECK(sql.find("ALTER DATABASE \"target\" SET search_path TO 'app', 'public';") != std::string::npos);
  CHECK(sql.find("ALTER ROLE app_user IN DATABASE \"target\" SET work_mem") != std::string::npos);
  CHECK(sql.find("GRANT CONNECT ON DATABASE \"target\" TO connector;") != std::string::npos);
  CHECK(sql.find("Src Db") == std::string::npos);
  CHECK(depends(props, "role:db owner"));
  CHECK(depends(props, "role:app_user"));
  CHECK(depends(step(p, "schema:app"), "database-settings:target"));

  // The tablespace: created from the globals, after its owner, before the table.
  const auto* ts = step(p, "tablespace:fast");
  CHECK(depends(ts, "role:owner"));
  CHECK(depends(step(p, "table:app.accounts"), "tablespace:fast"));
}

TEST_CASE("planner: to.encoding and to.locale override the source's, roles: all creates every captured role",
          "[planner][roles]") {
  World w;
  w.doc.spec.encoding = "UTF8";
  w.doc.spec.locale = "C.UTF-8";
  w.doc.spec.tablespaces_default = true;
  w.doc.spec.roles = config::RolesPolicy::all;
  w.in.role_definitions = {{"unused", "CREATE ROLE \"unused\";\n"}, {"owner", "CREATE ROLE \"owner\";\n"}};
  w.in.roles_with_password = {"unused"};
  w.in.globals_backup = "/repo/backups/p/20250101T000000Z";
  auto p = w.plan();
  CHECK(step(p, "database:target")->params.at("sql") ==
        "CREATE DATABASE \"target\" WITH TEMPLATE = template0 ENCODING = 'UTF8' LC_COLLATE = 'C.UTF-8' LC_CTYPE = "
        "'C.UTF-8'");
  CHECK(p.find("tablespace:fast") == nullptr);
  CHECK(p.params.at("tablespaces") == "default");
  const auto* unused = step(p, "role:unused");
  CHECK(unused->params.at("password") == "from-backup");
  CHECK(unused->params.at("sql").find("PASSWORD") == std::string::npos);  // hashes never in plans
  CHECK(p.params.at("globals_backup") == "/repo/backups/p/20250101T000000Z");
  CHECK(step(p, "role:owner")->params.count("password") == 0);  // no hash captured for it
}

TEST_CASE("planner: tablespaces that cannot be had fail the plan, maps must name existing ones", "[planner]") {
  World w;
  CHECK_THROWS_WITH(w.plan(), Catch::Contains("tablespace \"fast\"") && Catch::Contains("not in the backup's globals"));
  w.doc.spec.tablespace_map = {{"fast", "nvme"}};
  CHECK_THROWS_WITH(w.plan(), Catch::Contains("\"nvme\", which does not exist"));
  w.cluster.tablespaces.insert("nvme");
  auto p = w.plan();
  CHECK(p.find("tablespace:fast") == nullptr);
  CHECK(p.params.at("tablespace_map") == "{\"fast\":\"nvme\"}");
  w.doc.spec.roles = config::RolesPolicy::all;
  CHECK_THROWS_WITH(w.plan(), Catch::Contains("roles: all needs the roles captured"));
}

TEST_CASE("planner: a plain SQL script is one psql step after its roles and database", "[planner][sql]") {
  World w;
  archive::PlainScript script;
  script.encoding = "UTF8";
  script.sha256 = "abc";
  script.file_bytes = 1234;
  script.owners = {"owner"};
  script.acl_lines = {"GRANT SELECT ON TABLE app.t TO reader;"};
  script.policy_lines = {"CREATE POLICY p ON app.t FOR SELECT TO policy_role USING ((true));"};
  script.row_counts[{"app", "t"}] = 7;
  w.in.toc = nullptr;
  w.in.script = &script;
  w.in.source = "/dumps/shop.sql.gz";
  w.in.expected_rows = {{"app.t", 7}};
  auto p = planner::plan_sql_restore(w.in);
  CHECK(p.params.at("source_format") == "sql");
  for (const char* r : {"role:owner", "role:reader", "role:policy_role"}) step(p, r);
  const auto* run = step(p, "sql-script:target");
  CHECK(depends(run, "database:target"));
  CHECK(depends(run, "role:reader"));
  CHECK(run->params.at("recreate_sql").find("CREATE DATABASE \"target\"") == 0);
  CHECK(run->estimate.bytes == 1234);
  CHECK(step(p, "verify:target")->params.at("tables") == "[{\"expected\":7,\"table\":\"\\\"app\\\".\\\"t\\\"\"}]");

  SECTION("what a script cannot do is refused with the reason") {
    w.doc.spec.select.tables = {"app.t"};
    CHECK_THROWS_WITH(planner::plan_sql_restore(w.in), Catch::Contains("select does not apply"));
  }
  SECTION("single_transaction with \\connect") {
    script.connects = true;
    w.doc.spec.single_transaction = true;
    CHECK_THROWS_WITH(planner::plan_sql_restore(w.in), Catch::Contains("\\connect"));
  }
  SECTION("a non-empty target database") {
    w.db.exists = true;
    w.db.schemas = {"public", "app"};
    catalog::Relation r;
    r.schema = "app";
    r.name = "t";
    w.db.relations["app.t"] = r;
    CHECK_THROWS_WITH(planner::plan_sql_restore(w.in), Catch::Contains("is not empty"));
  }
  SECTION("a pg_dumpall script whose database exists") {
    script.cluster_dump = true;
    script.databases_created = {"shop"};
    w.cluster.databases.insert("shop");
    CHECK_THROWS_WITH(planner::plan_sql_restore(w.in), Catch::Contains("creates database \"shop\", which exists"));
  }
}
