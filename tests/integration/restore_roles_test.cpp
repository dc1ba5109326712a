// Every role back: a backup taken by a BackupPolicy, restored into fresh clusters (servers the
// test starts) with roles: create-missing and roles: all. Roles are referenced by owners, grants
// on columns and functions, a row-level security policy, default privileges and memberships; the
// database has an owner and ALTER DATABASE ... SET settings. The result is compared with
// pg_dump -s of the source, and a LOGIN role restored with roles: all logs in with its old
// password over TCP (scram-sha-256). Also: a restore from the repository without the policy's
// document, and tablespaces restored, mapped or put in the default.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "instance/instance.hpp"
#include "support/harness.hpp"
#include "util/fs.hpp"

using namespace pgr;
using test::must;
using test::without_comments;
using test::psql;
using test::server;

namespace {

struct Fixture {
  TempDir dir{"pgrecover-roles-test-"};
  std::string source = "rr_source";
  std::string config, policy;
  fs::path repo;
  Fixture() {
    repo = dir.path() / "repo";
    config = (dir.path() / "pgrecover.toml").string();
    write_file_atomic(config, fmt::format("state_dir = \"{}\"\n[repositories.local]\npath = \"{}\"\n",
                                          (dir.path() / "state").string(), repo.string()));
    psql("postgres", R"(
      CREATE ROLE rr_owner NOLOGIN;
      CREATE ROLE rr_group NOLOGIN;
      CREATE ROLE rr_app LOGIN PASSWORD 'old-secret' CONNECTION LIMIT 7 VALID UNTIL '2099-01-01 00:00:00+00';
      GRANT rr_group TO rr_app;
      ALTER ROLE rr_app SET work_mem = '8MB';
      CREATE ROLE rr_colreader NOLOGIN;
      CREATE ROLE rr_fn NOLOGIN;
      CREATE ROLE rr_policy NOLOGIN;
      CREATE ROLE rr_defpriv NOLOGIN;
      CREATE ROLE rr_unused LOGIN PASSWORD 'unused-secret';
    )");
    psql("postgres", "CREATE DATABASE " + source + " OWNER rr_owner");
    psql("postgres", "ALTER DATABASE " + source + " SET search_path = app, public");
    psql("postgres", "ALTER ROLE rr_app IN DATABASE " + source + " SET statement_timeout = '5s'");
    psql(source, R"(
      CREATE SCHEMA app AUTHORIZATION rr_owner;
      SET ROLE rr_owner;
      CREATE TABLE app.accounts (id int PRIMARY KEY, owner_name text, secret text);
      INSERT INTO app.accounts SELECT g, 'user' || g, md5(g::text) FROM generate_series(1, 50) g;
      ALTER TABLE app.accounts ENABLE ROW LEVEL SECURITY;
      CREATE POLICY only_mine ON app.accounts FOR SELECT TO rr_policy USING (owner_name = current_user);
      GRANT SELECT (id, owner_name) ON app.accounts TO rr_colreader;
      GRANT SELECT ON app.accounts TO rr_group;
      CREATE FUNCTION app.answer() RETURNS int LANGUAGE sql AS 'select 42';
      REVOKE EXECUTE ON FUNCTION app.answer() FROM PUBLIC;
      GRANT EXECUTE ON FUNCTION app.answer() TO rr_fn;
      ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO rr_defpriv;
      RESET ROLE;
    )");
    policy = (dir.path() / "policy.yaml").string();
    write_file_atomic(policy, fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: rr}}
spec:
  source: {{conninfo: "host={} port={} user=postgres dbname=postgres"}}
  database: {}
  repository: local
)",
                                          server().socket_dir().string(), server().port(), source));
    ProcessResult r = cli({"apply", policy, "--auto-approve"});
    if (!r.ok()) throw std::runtime_error(describe_failure("backup", r));
  }
  ProcessResult cli(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--config", config});
    return test::run_pgrecover(args);
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

std::string restore_doc(const std::string& name, const instance::Instance& to, const std::string& extra) {
  std::string path = (fx().dir.path() / (name + ".yaml")).string();
  write_file_atomic(path, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: {}}}
spec:
  from: {{repository: local, policy: rr, backup: latest}}
  to: {{conninfo: "{}", database: {}, create: true}}
{})",
                                      name, to.conninfo("postgres"), fx().source, extra));
  return path;
}

std::string query(const instance::Instance& inst, const std::string& db, const std::string& sql) {
  auto r = inst.run_client({"psql", "-X", "-At", "-d", db, "-c", sql});
  must(r, "psql " + sql);
  return r.out;
}

// What a role looks like, as pg_dumpall -r would show it.
const char* kRoleShape =
    "SELECT string_agg(format('%s login=%s inherit=%s limit=%s until=%s config=%s', rolname, rolcanlogin, "
    "rolinherit, rolconnlimit, rolvaliduntil, rolconfig), E'\\n' ORDER BY rolname) FROM pg_roles "
    "WHERE rolname LIKE 'rr\\_%'";

// The database as pg_restore --create would leave it: owner, settings, encoding, locale.
const char* kDatabaseShape =
    "SELECT pg_get_userbyid(d.datdba) || ' ' || pg_encoding_to_char(d.encoding) || ' ' || d.datcollate || ' ' || "
    "d.datctype || ' ' || (SELECT string_agg(coalesce(r.rolname, '*') || ':' || array_to_string(s.setconfig, ','), ';' "
    "ORDER BY 1) FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole WHERE s.setdatabase = d.oid) "
    "FROM pg_database d WHERE d.datname = current_database()";

void compare_with_source(const instance::Instance& fresh) {
  auto src = server().run_client({"pg_dump", "-s", "-d", fx().source});
  must(src, "pg_dump -s source");
  auto dst = fresh.run_client({"pg_dump", "-s", "-d", fx().source});
  must(dst, "pg_dump -s restored");
  CHECK(without_comments(dst.out) == without_comments(src.out));
  CHECK(query(fresh, fx().source, kDatabaseShape) == query(server(), fx().source, kDatabaseShape));
  CHECK(query(fresh, fx().source, "SELECT count(*) FROM app.accounts") == "50\n");
}

}  // namespace

TEST_CASE("roles: create-missing brings every mentioned role with its attributes, the database as it was",
          "[restore][roles]") {
  instance::Instance fresh(instance::Options{});
  auto doc = restore_doc("rr-missing", fresh, "");
  auto plan = fx().cli({"plan", doc, fx().policy});
  must(plan, "plan");
  CHECK(plan.out.find("NOLOGIN") == std::string::npos);
  CHECK(plan.out.find("old-secret") == std::string::npos);
  auto apply = fx().cli({"apply", doc, fx().policy, "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  compare_with_source(fresh);
  // Every role the objects mention, with the source's attributes; none that nothing mentions.
  std::string want = query(server(), "postgres", std::string(kRoleShape) + " AND rolname <> 'rr_unused'");
  CHECK(query(fresh, "postgres", kRoleShape) == want);
  CHECK(want.find("rr_policy") != std::string::npos);
  CHECK(want.find("rr_defpriv") != std::string::npos);
  CHECK(want.find("rr_app login=t inherit=t limit=7") != std::string::npos);
  CHECK(query(fresh, "postgres", "SELECT pg_has_role('rr_app', 'rr_group', 'MEMBER')") == "t\n");
  // The per-database role setting came with the database.
  CHECK(query(fresh, fx().source, kDatabaseShape).find("rr_app:statement_timeout=5s") != std::string::npos);
}

TEST_CASE("roles: all restores every captured role, and a LOGIN role logs in with its old password",
          "[restore][roles]") {
  instance::Options o;
  o.listen_tcp = true;
  instance::Instance fresh(o);
  auto doc = restore_doc("rr-all", fresh, "  roles: all\n");
  auto plan = fx().cli({"plan", doc, fx().policy});
  must(plan, "plan");
  CHECK(plan.out.find("rr_unused") != std::string::npos);
  CHECK(plan.out.find("with its password") != std::string::npos);
  CHECK(plan.out.find("SCRAM-SHA-256$") == std::string::npos);  // plans never carry hashes
  auto apply = fx().cli({"apply", doc, fx().policy, "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  compare_with_source(fresh);
  CHECK(query(fresh, "postgres", kRoleShape) == query(server(), "postgres", kRoleShape));
  // The same hash as on the source: like pg_dumpall -r replayed.
  const char* hashes = "SELECT string_agg(rolname || '=' || rolpassword, ',' ORDER BY rolname) FROM pg_authid "
                       "WHERE rolname LIKE 'rr\\_%'";
  CHECK(query(fresh, "postgres", hashes) == query(server(), "postgres", hashes));

  // Password authentication over TCP on the restored cluster.
  {
    std::ofstream hba(fresh.data_dir() / "pg_hba.conf", std::ios::trunc);
    hba << "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
  }
  query(fresh, "postgres", "SELECT pg_reload_conf()");
  std::string tcp = fmt::format("host=127.0.0.1 port={} user=rr_app dbname={}", fresh.port(), fx().source);
  auto good = fresh.run_client({"psql", "-X", "-At", "-d", tcp, "-c", "SELECT current_user"},
                               {"PGPASSWORD=old-secret", "PGHOST=127.0.0.1"});
  INFO(good.err);
  CHECK(good.ok());
  CHECK(good.out == "rr_app\n");
  auto bad = fresh.run_client({"psql", "-X", "-At", "-d", tcp, "-c", "SELECT 1"}, {"PGPASSWORD=wrong", "PGHOST=127.0.0.1"});
  CHECK_FALSE(bad.ok());
  CHECK(bad.err.find("password authentication failed") != std::string::npos);
}

TEST_CASE("a restore from the repository works without the policy's document",
          "[restore][roles]") {
  instance::Instance fresh(instance::Options{});
  auto doc = restore_doc("rr-nodoc", fresh, "  tablespaces: default\n");
  // Only the Restore document: the policy is found in the repository by name.
  auto apply = fx().cli({"apply", doc, "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(query(fresh, fx().source, "SELECT count(*) FROM app.accounts") == "50\n");

  // Without from.repository, the missing document is an error naming the field.
  std::string bad = (fx().dir.path() / "rr-norepo.yaml").string();
  write_file_atomic(bad, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: rr-norepo}}
spec:
  from: {{policy: rr}}
  to: {{conninfo: "{}", database: x}}
)",
                                     fresh.conninfo("postgres")));
  auto v = fx().cli({"validate", bad});
  CHECK(v.exit_code == 1);
  CHECK((v.out + v.err).find("rr-norepo.yaml:5") != std::string::npos);
  CHECK((v.out + v.err).find("give spec.from.repository") != std::string::npos);
}

TEST_CASE("tablespaces: restored at their old location, mapped, or all in the default", "[restore][tablespaces]") {
  // A database with a table in its own tablespace, backed up by its own policy.
  fs::path location = fx().dir.path() / "ts_fast";
  fs::create_directories(location);
  fs::permissions(fx().dir.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  if (server().server_user()) {
    REQUIRE(::chown(location.c_str(), server().server_user()->uid, server().server_user()->gid) == 0);
  }
  psql("postgres", fmt::format("CREATE TABLESPACE rr_fast LOCATION '{}'", location.string()));
  psql("postgres", "CREATE DATABASE rr_ts");
  psql("rr_ts", "CREATE TABLE hot (x int) TABLESPACE rr_fast; INSERT INTO hot SELECT generate_series(1, 10)");
  std::string policy = (fx().dir.path() / "ts-policy.yaml").string();
  write_file_atomic(policy, fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: rr-ts}}
spec:
  source: {{conninfo: "host={} port={} user=postgres dbname=postgres"}}
  database: rr_ts
  repository: local
)",
                                        server().socket_dir().string(), server().port()));
  must(fx().cli({"apply", policy, "--auto-approve"}), "backup rr_ts");
  instance::Instance fresh(instance::Options{});
  auto doc = [&](const std::string& name, const std::string& database, const std::string& extra) {
    std::string path = (fx().dir.path() / (name + ".yaml")).string();
    write_file_atomic(path, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: {}}}
spec:
  from: {{repository: local, policy: rr-ts}}
  to: {{conninfo: "{}", database: {}}}
{})",
                                        name, fresh.conninfo("postgres"), database, extra));
    return path;
  };
  // restore (the default): the plan creates it at its old location; on this host that folder is
  // the source's own, which the server refuses, naming it.
  auto restore = doc("ts-restore", "rr_ts", "");
  auto plan = fx().cli({"plan", restore});
  must(plan, "plan tablespaces: restore");
  CHECK(plan.out.find("tablespace") != std::string::npos);
  CHECK(plan.out.find("rr_fast") != std::string::npos);
  auto failed = fx().cli({"apply", restore, "--auto-approve"});
  CHECK(failed.exit_code == 1);
  CHECK(failed.err.find("already in use as a tablespace") != std::string::npos);

  // a map to a tablespace the target lacks is refused at plan time
  auto nowhere = fx().cli({"plan", doc("ts-nowhere", "rr_ts_map", "  tablespaces: {map: {rr_fast: nvme}}\n")});
  CHECK(nowhere.exit_code == 1);
  CHECK(nowhere.err.find("\"nvme\", which does not exist") != std::string::npos);

  for (const auto& [name, extra] : {std::pair{"ts-map", "  tablespaces: {map: {rr_fast: pg_default}}\n"},
                                    std::pair{"ts-default", "  tablespaces: default\n"}}) {
    std::string db = std::string(name) == "ts-map" ? "rr_ts_map" : "rr_ts_default";
    auto apply = fx().cli({"apply", doc(name, db, extra), "--auto-approve"});
    INFO(apply.out << apply.err);
    REQUIRE(apply.exit_code == 0);
    CHECK(query(fresh, db, "SELECT reltablespace || ':' || (SELECT count(*) FROM hot) FROM pg_class WHERE relname = 'hot'") ==
          "0:10\n");
  }
}
