// Plain SQL sources: spec.from.sql_file with a pg_dump script (plain and gzip), a pg_dumpall
// script with two databases and roles into a fresh cluster, compared with what psql makes of the
// same file; failure paths (missing file, corrupt .gz, an error mid-way, then a rerun); and a
// plain-format backup that restores and drills with row counts from its manifest.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "instance/instance.hpp"
#include "support/harness.hpp"
#include "util/fs.hpp"

using namespace pgr;
using test::must;
using test::without_comments;
using test::schema_of;
using test::psql;
using test::server;

namespace {

struct Fixture {
  TempDir dir{"pgrecover-sql-test-"};
  std::string source = "sq_source";
  std::string config, plain, gz;
  Fixture() {
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    config = (dir.path() / "pgrecover.toml").string();
    write_file_atomic(config, fmt::format("state_dir = \"{}\"\n[repositories.local]\npath = \"{}\"\n",
                                          (dir.path() / "state").string(), (dir.path() / "repo").string()));
    psql("postgres", "CREATE ROLE sq_owner NOLOGIN; CREATE ROLE sq_reader NOLOGIN");
    psql("postgres", "CREATE DATABASE " + source + " OWNER sq_owner");
    psql(source, R"(
      CREATE SCHEMA shop AUTHORIZATION sq_owner;
      SET ROLE sq_owner;
      CREATE TABLE shop.orders (id serial PRIMARY KEY, note text);
      INSERT INTO shop.orders (note) SELECT 'order ' || g || E'\twith a tab' FROM generate_series(1, 300) g;
      CREATE TABLE shop.items (order_id int REFERENCES shop.orders, qty int);
      INSERT INTO shop.items SELECT g % 300 + 1, g FROM generate_series(1, 200) g;
      CREATE VIEW shop.big AS SELECT * FROM shop.orders WHERE id > 250;
      GRANT USAGE ON SCHEMA shop TO sq_reader;
      GRANT SELECT ON shop.orders TO sq_reader;
      RESET ROLE;
    )");
    plain = (dir.path() / "shop.sql").string();
    must(server().run_client({"pg_dump", "-f", plain, "-d", source}), "pg_dump plain");
    gz = plain + ".gz";
    ProcessSpec z;
    z.argv = {find_on_path("gzip").string(), "-k", plain};
    must(run_process(z), "gzip");
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

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

std::string conninfo(const instance::Instance& inst) {
  return fmt::format("host={} port={} user=postgres dbname=postgres", inst.socket_dir().string(), inst.port());
}

std::string doc(const std::string& name, const std::string& from, const std::string& to_conninfo,
                const std::string& database, const std::string& extra = "") {
  std::string path = (fx().dir.path() / (name + ".yaml")).string();
  write_file_atomic(path, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: {}}}
spec:
  from: {}
  to: {{conninfo: "{}", database: {}, create: true}}
{})",
                                      name, from, to_conninfo, database, extra));
  return path;
}

std::string rows_of(const instance::Instance& inst, const std::string& db) {
  auto r = inst.run_client({"psql", "-X", "-At", "-d", db, "-c",
                            "SELECT (SELECT count(*) || ':' || md5(string_agg(o::text, ',' ORDER BY id)) FROM shop.orders o) "
                            "|| '/' || (SELECT count(*) || ':' || md5(string_agg(i::text, ',' ORDER BY i::text)) FROM shop.items i)"});
  must(r, "rows of " + db);
  return r.out;
}

}  // namespace

TEST_CASE("sql_file: a pg_dump script, plain and gzip, restores as psql restores it", "[restore][sql]") {
  // The reference: psql -f of the same script.
  psql("postgres", "CREATE DATABASE sq_ref");
  must(server().run_client({"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "sq_ref", "-f", fx().plain}), "psql -f");
  for (const auto& [name, file] : {std::pair{"sq-plain", fx().plain}, std::pair{"sq-gz", fx().gz}}) {
    std::string db = std::string(name) == "sq-plain" ? "sq_plain" : "sq_gz";
    auto d = doc(name, fmt::format("{{sql_file: \"{}\"}}", file), conninfo(server()), db);
    auto plan = fx().cli({"plan", d});
    must(plan, "plan");
    CHECK(plan.out.find("sql-script") != std::string::npos);
    CHECK(plan.out.find("ON_ERROR_STOP=1") != std::string::npos);
    auto apply = fx().cli({"apply", d, "--auto-approve"});
    INFO(apply.out << apply.err);
    REQUIRE(apply.exit_code == 0);
    CHECK(schema_of(server(), db) == schema_of(server(), "sq_ref"));
    CHECK(rows_of(server(), db) == rows_of(server(), "sq_ref"));
    // Planned again: the database is there and not empty, which a script cannot go into.
    auto again = fx().cli({"plan", d});
    CHECK(again.exit_code == 0);  // the finished run of this very plan: nothing to do
  }
}

TEST_CASE("sql_file: a missing file, a corrupt .gz and an error mid-way exit 1, the rerun works", "[restore][sql]") {
  auto missing = doc("sq-missing", "{sql_file: nowhere.sql}", conninfo(server()), "sq_never");
  auto m = fx().cli({"plan", missing});
  CHECK(m.exit_code == 1);
  CHECK(m.err.find("nowhere.sql") != std::string::npos);

  // A .gz cut in the middle: refused at plan time, nothing created.
  std::string bytes = read_file(fx().gz);
  std::string cut = (fx().dir.path() / "cut.sql.gz").string();
  write_file_atomic(cut, bytes.substr(0, bytes.size() / 2));
  auto c = fx().cli({"plan", doc("sq-cut", fmt::format("{{sql_file: \"{}\"}}", cut), conninfo(server()), "sq_cut")});
  CHECK(c.exit_code == 1);
  CHECK(c.err.find("cut.sql.gz") != std::string::npos);
  CHECK(psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'sq_cut'") == "0\n");

  // A script that fails half-way until a role exists: exit 1 with psql's message; after the
  // cause is fixed, the same command starts the script over and succeeds (rows not doubled).
  std::string gated = (fx().dir.path() / "gated.sql").string();
  write_file_atomic(gated, R"(SET client_encoding = 'UTF8';
CREATE TABLE public.first (x int);
COPY public.first (x) FROM stdin;
1
2
3
\.
DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sq_gate') THEN RAISE EXCEPTION 'gate closed'; END IF; END $$;
CREATE TABLE public.second (y int);
)");
  auto g = doc("sq-gated", fmt::format("{{sql_file: \"{}\"}}", gated), conninfo(server()), "sq_gated");
  auto first = fx().cli({"apply", g, "--auto-approve"});
  CHECK(first.exit_code == 1);
  CHECK(first.err.find("gate closed") != std::string::npos);
  psql("postgres", "CREATE ROLE sq_gate NOLOGIN");
  auto second = fx().cli({"apply", g, "--auto-approve"});
  INFO(second.out << second.err);
  CHECK(second.exit_code == 0);
  CHECK(psql("sq_gated", "SELECT count(*) FROM public.first") == "3\n");
  CHECK(psql("sq_gated", "SELECT count(*) FROM public.second") == "0\n");

  // A script fixed after it failed (a new plan id): the new plan starts over in the database the
  // failed run created and left half restored.
  std::string broken = (fx().dir.path() / "broken.sql").string();
  const std::string broken_text = "CREATE TABLE public.a (x int);\nINSERT INTO public.a VALUES (1);\n"
                                  "CREATE TABLE public.b (y no_such_type);\n";
  write_file_atomic(broken, broken_text);
  auto b = doc("sq-broken", fmt::format("{{sql_file: \"{}\"}}", broken), conninfo(server()), "sq_broken");
  CHECK(fx().cli({"apply", b, "--auto-approve"}).exit_code == 1);
  write_file_atomic(broken, replace_all(broken_text, "no_such_type", "int"));
  auto fixed = fx().cli({"apply", b, "--auto-approve"});
  INFO(fixed.out << fixed.err);
  CHECK(fixed.exit_code == 0);
  CHECK(fixed.out.find("left half restored") != std::string::npos);
  CHECK(psql("sq_broken", "SELECT count(*) FROM public.a") == "1\n");

  // single_transaction into an existing empty database: the failure leaves it as it was.
  psql("postgres", "DROP ROLE sq_gate");
  psql("postgres", "CREATE DATABASE sq_single");
  auto s = doc("sq-single", fmt::format("{{sql_file: \"{}\"}}", gated), conninfo(server()), "sq_single",
               "  single_transaction: true\n");
  auto sr = fx().cli({"apply", s, "--auto-approve"});
  CHECK(sr.exit_code == 1);
  CHECK(psql("sq_single", "SELECT count(*) FROM pg_class WHERE relname = 'first'") == "0\n");
}

TEST_CASE("sql_file: a pg_dumpall script with two databases and roles restores into a fresh cluster",
          "[restore][sql]") {
  psql("postgres", "CREATE ROLE sq_login LOGIN PASSWORD 'pw' CONNECTION LIMIT 3");
  psql("postgres", "CREATE DATABASE sq_second OWNER sq_login");
  psql("sq_second", "CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 42)");
  std::string all = (fx().dir.path() / "all.sql").string();
  must(server().run_client({"pg_dumpall", "-f", all}), "pg_dumpall");
  std::string all_zst = all + ".zst";
  ProcessSpec z;
  z.argv = {find_on_path("zstd").string(), "-q", "-k", all, "-o", all_zst};
  bool have_zstd = !z.argv[0].empty();
  if (have_zstd) must(run_process(z), "zstd");

  instance::Instance fresh(instance::Options{});
  auto d = doc("sq-all", fmt::format("{{sql_file: \"{}\"}}", have_zstd ? all_zst : all), conninfo(fresh), "postgres");
  auto apply = fx().cli({"apply", d, "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);

  // The reference: psql -f of the same script into another fresh cluster.
  instance::Instance ref(instance::Options{});
  must(ref.run_client({"psql", "-X", "-q", "-d", "postgres", "-f", all}), "psql -f pg_dumpall script");
  for (const std::string db : {fx().source, std::string("sq_second")}) {
    CHECK(schema_of(fresh, db) == schema_of(ref, db));
  }
  CHECK(rows_of(fresh, fx().source) == rows_of(server(), fx().source));
  auto roles = [](const instance::Instance& i) {
    auto r = i.run_client({"psql", "-X", "-At", "-d", "postgres", "-c",
                           "SELECT string_agg(rolname || ' ' || rolcanlogin || ' ' || rolconnlimit || ' ' || "
                           "coalesce(rolpassword, ''), ',' ORDER BY rolname) FROM pg_authid WHERE rolname LIKE 'sq\\_%'"});
    must(r, "roles");
    return r.out;
  };
  CHECK(roles(fresh) == roles(ref));
  CHECK(roles(fresh).find("sq_login true 3 SCRAM-SHA-256$") != std::string::npos);
  auto count = fresh.run_client({"psql", "-X", "-At", "-d", "sq_second", "-c", "SELECT count(*) FROM t"});
  CHECK(count.out == "42\n");
  // single_transaction cannot hold \connect: refused at plan time.
  auto st = fx().cli({"plan", doc("sq-all-1", fmt::format("{{sql_file: \"{}\"}}", all), conninfo(fresh), "postgres",
                                  "  single_transaction: true\n")});
  CHECK(st.exit_code == 1);
  CHECK(st.err.find("\\connect") != std::string::npos);
}

TEST_CASE("a plain-format backup restores, drills and verifies row counts, compressing it is refused",
          "[restore][sql][backup]") {
  std::string policy = (fx().dir.path() / "plain-policy.yaml").string();
  auto policy_text = [&](const std::string& extra) {
    return fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: sq-plain}}
spec:
  source: {{conninfo: "{}"}}
  database: {}
  format: plain
  repository: local
  verify: {{drill: {{every: 24h, sql: ["select count(*) = 300 from shop.orders"]}}}}
{})",
                       conninfo(server()), fx().source, extra);
  };
  write_file_atomic(policy, policy_text("  compression: gzip\n"));
  auto v = fx().cli({"validate", policy});
  CHECK(v.exit_code == 1);
  CHECK((v.out + v.err).find("spec.compression") != std::string::npos);

  write_file_atomic(policy, policy_text(""));
  auto b = fx().cli({"apply", policy, "--auto-approve"});
  INFO(b.out << b.err);
  REQUIRE(b.exit_code == 0);
  auto list = fx().cli({"backups", "list", "--repository", "local", "--json"});
  must(list, "backups list");
  auto backups = nlohmann::json::parse(list.out).at("backups");
  REQUIRE(backups.size() == 1);
  CHECK(backups[0]["verified_at"].is_string());  // the drill passed

  instance::Instance fresh(instance::Options{});
  auto r = doc("sq-from-repo", "{repository: local, policy: sq-plain, backup: latest}", conninfo(fresh), fx().source);
  auto plan = fx().cli({"plan", r, policy});
  must(plan, "plan from a plain backup");
  CHECK(plan.out.find("from the backup's manifest") != std::string::npos);
  auto apply = fx().cli({"apply", r, policy, "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(rows_of(fresh, fx().source) == rows_of(server(), fx().source));
  CHECK(schema_of(fresh, fx().source) == schema_of(server(), fx().source));
}
