// Live clones (spec.from.live) between two real servers: the harness's server is the source, a
// second instance the target. A database with awkward names, partitions, inheritance, a foreign
// key cycle, identity and generated columns, row-level security, large objects (with an owner,
// privileges and a comment) and a materialized view is cloned while the source takes writes (the apply is held right after its
// snapshot is exported, through PGRECOVER_TEST_LIVE_PAUSE): the target equals the source at the
// snapshot, schema (pg_dump -s) and data, and none of the writes made during the clone are in
// it. Every session a clone opens on the source refuses writes (pg_dump's, seen through a
// pg_dump wrapper in [instance] bin_dir, and the role-password session's, seen in the source's
// statement log, included). A clone onto its own source is refused; a clone killed in the middle of a split table
// resumes (consistent: strict) and ends equal to the source at the new snapshot. A clone of a
// database without large objects plans no change when planned again, and its first large object
// made after the plan makes the apply stale.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "executor/live_copy.hpp"
#include "pg/pg.hpp"
#include "support/harness.hpp"
#include "util/fs.hpp"

using namespace pgr;
using test::data_of;
using test::must;
using test::psql;
using test::schema_of;
using test::server;

namespace {

// Large objects: oid and md5 of the contents.
std::string large_objects_of(const instance::Instance& inst, const std::string& db) {
  auto r = inst.run_client({"psql", "-X", "-At", "-d", db, "-c",
                            "SELECT string_agg(oid || ':' || md5(lo_get(oid)), ',' ORDER BY oid) FROM pg_largeobject_metadata"});
  must(r, "large objects of " + db);
  return r.out;
}

// Large objects' owners, privileges and comments (what pg_dump's BLOB, ACL and COMMENT entries
// carry).
std::string large_object_rights_of(const instance::Instance& inst, const std::string& db) {
  auto r = inst.run_client({"psql", "-X", "-At", "-d", db, "-c",
                            "SELECT string_agg(oid || ':' || pg_get_userbyid(lomowner) || ':' || coalesce(lomacl::text, '-') "
                            "|| ':' || coalesce(obj_description(oid, 'pg_largeobject'), '-'), ',' ORDER BY oid) "
                            "FROM pg_largeobject_metadata"});
  must(r, "large object rights of " + db);
  return r.out;
}

// The roles the clone needs (owners, grantees, policy roles, large objects' roles) with their
// attributes and memberships.
std::string roles_of(const instance::Instance& inst) {
  auto r = inst.run_client({"psql", "-X", "-At", "-d", "postgres", "-c",
                            "SELECT string_agg(rolname || ':' || rolcanlogin || rolcreatedb || rolconnlimit || ':' || "
                            "coalesce((SELECT string_agg(pg_get_userbyid(roleid), '+' ORDER BY 1) FROM pg_auth_members "
                            "WHERE member = r.oid), ''), ',' ORDER BY rolname) FROM pg_roles r WHERE rolname IN "
                            "('Clone Owner', 'policy reader', 'granted_only', 'LO Owner', 'lo reader')"});
  must(r, "roles");
  return r.out;
}

// Sequence values. Sequences are not transactional: pg_dump (and so a clone) reads their value
// when it gets to them, after the snapshot, never before: a clone's sequence is at least at the
// snapshot's value, never behind its rows.
std::string sequences_of(const instance::Instance& inst, const std::string& db) {
  auto r = inst.run_client({"psql", "-X", "-At", "-d", db, "-c",
                            "SELECT string_agg(schemaname || '.' || sequencename || '=' || "
                            "coalesce(last_value::text, 'null'), ',' ORDER BY 1) FROM pg_sequences"});
  must(r, "sequences of " + db);
  return r.out;
}

std::string query(const instance::Instance& inst, const std::string& db, const std::string& sql) {
  auto r = inst.run_client({"psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql});
  must(r, sql);
  return r.out;
}

constexpr const char* kSchema = R"(
  CREATE SCHEMA "Mixed Case";
  CREATE TABLE "Mixed Case"."we""ird.name" (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "Col Name" text, doubled int GENERATED ALWAYS AS (id * 2) STORED);
  INSERT INTO "Mixed Case"."we""ird.name" ("Col Name") SELECT E'v\t' || g || E'\nline' FROM generate_series(1, 300) g;
  CREATE TABLE measures (at date NOT NULL, v numeric) PARTITION BY RANGE (at);
  CREATE TABLE measures_2024 PARTITION OF measures FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE measures_2025 PARTITION OF measures FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
  INSERT INTO measures SELECT date '2024-06-01' + g, g / 3.0 FROM generate_series(0, 400) g;
  CREATE TABLE animal (id serial PRIMARY KEY, name text);
  CREATE TABLE dog (good boolean) INHERITS (animal);
  INSERT INTO animal (name) VALUES ('cat'), ('cow');
  INSERT INTO dog (name, good) VALUES ('rex', true), ('fido', false);
  CREATE TABLE a (id int PRIMARY KEY, b_id int);
  CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a);
  ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b;
  INSERT INTO a SELECT g, NULL FROM generate_series(1, 50) g;
  INSERT INTO b SELECT g, g FROM generate_series(1, 50) g;
  UPDATE a SET b_id = id;
  CREATE TABLE secret (id int PRIMARY KEY, owner_name text, body text);
  ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
  CREATE POLICY own_rows ON secret USING (owner_name = current_user);
  CREATE ROLE "Clone Owner" LOGIN CREATEDB CONNECTION LIMIT 7;
  CREATE ROLE "policy reader";
  CREATE ROLE granted_only LOGIN IN ROLE "policy reader";
  ALTER TABLE secret OWNER TO "Clone Owner";
  CREATE POLICY readers ON secret FOR SELECT TO "policy reader" USING (true);
  GRANT SELECT ON a TO granted_only;
  INSERT INTO secret SELECT g, 'u' || (g % 3), 'body ' || g FROM generate_series(1, 30) g;
  SELECT lo_from_bytea(0, convert_to(repeat('large object ', 5000), 'UTF8'));
  SELECT lo_from_bytea(0, '\x00ff00ff'::bytea);
  CREATE ROLE "LO Owner";
  CREATE ROLE "lo reader";
  DO $$ DECLARE o oid := lo_from_bytea(0, 'owned, granted, commented'); BEGIN
    EXECUTE format('ALTER LARGE OBJECT %s OWNER TO "LO Owner"', o);
    EXECUTE format('GRANT SELECT, UPDATE ON LARGE OBJECT %s TO "lo reader" WITH GRANT OPTION', o);
    EXECUTE format('COMMENT ON LARGE OBJECT %s IS %L', o, 'a large object''s comment');
  END $$;
  CREATE MATERIALIZED VIEW measure_totals AS SELECT date_trunc('month', at) AS month, sum(v) AS total FROM measures GROUP BY 1;
  CREATE SEQUENCE tickets START 100;
  SELECT nextval('tickets'), nextval('tickets');
  CREATE TABLE big (id int, v text);
  INSERT INTO big SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 40000) g;
)";

// Writes of the kinds a clone must not see: new rows, changed and deleted rows, a sequence step,
// a new large object.
constexpr const char* kWrites = R"(
  INSERT INTO "Mixed Case"."we""ird.name" ("Col Name") VALUES ('written during the clone');
  UPDATE measures SET v = v + 1000 WHERE at < '2024-07-01';
  DELETE FROM dog WHERE name = 'fido';
  INSERT INTO big SELECT g, 'late' FROM generate_series(1, 100) g;
  SELECT nextval('tickets');
  SELECT lo_from_bytea(0, 'late'::bytea);
  REFRESH MATERIALIZED VIEW measure_totals;
)";

struct Fixture {
  test::Workspace w{"pgrecover-live-test"};
  instance::Instance target{instance::Options{}};
  std::string source = "live_src";
  Fixture() {
    psql("postgres", "CREATE DATABASE " + source);
    psql(source, kSchema);
  }
  std::string doc(const std::string& name, const std::string& to_db, const std::string& extra = "",
                  const instance::Instance* to = nullptr, const std::string& from_db = "") {
    return w.write(name + ".yaml", fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: {}}}
spec:
  from: {{live: {{conninfo: "{}", database: {}}}}}
  to: {{conninfo: "{}", database: {}, create: true}}
  jobs: 2
{})",
                                               name, test::server_conninfo(), from_db.empty() ? source : from_db,
                                               test::instance_conninfo(to ? *to : target), to_db,
                                               extra))
        .string();
  }
  // Applies `doc` paused right after the snapshot is exported (PGRECOVER_TEST_LIVE_PAUSE), makes
  // the kWrites writes on the source then, and lets it go on. REQUIREs that it paused.
  ProcessResult apply_with_writes_after_snapshot(const std::string& doc, const std::string& pause_folder) {
    auto pause = w.folder(pause_folder);
    ProcessResult apply;
    std::thread t([&] {
      apply = w.pgrecover({"apply", doc, "--auto-approve"}, {"PGRECOVER_TEST_LIVE_PAUSE=" + pause.string()});
    });
    for (int i = 0; i < 600 && !std::filesystem::exists(pause / "snapshot"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    bool paused = std::filesystem::exists(pause / "snapshot");
    if (paused) psql(source, kWrites);
    write_file_atomic(pause / "go", "");
    t.join();
    INFO(apply.out << apply.err);
    REQUIRE(paused);
    return apply;
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

}  // namespace

TEST_CASE("a live clone equals the source at its snapshot, whatever is written during it", "[live]") {
  auto& f = fx();
  std::string doc = f.doc("clone-one", "clone_one");
  auto plan = f.w.pgrecover({"plan", doc, "--detailed-exitcode"});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 2);
  CHECK(plan.out.find("live database \"live_src\"") != std::string::npos);
  CHECK(plan.out.find("table-data       Mixed Case.we\"ird.name") != std::string::npos);
  // The target is a fresh server: the roles the objects name are created as on the source.
  CHECK(plan.out.find("role             Clone Owner") != std::string::npos);
  CHECK(plan.out.find("role             granted_only") != std::string::npos);
  CHECK(plan.out.find("will be created NOLOGIN") == std::string::npos);

  std::string schema_before = schema_of(server(), f.source);
  std::string data_before = data_of(server(), f.source);
  std::string large_objects_before = large_objects_of(server(), f.source);
  std::string rights_before = large_object_rights_of(server(), f.source);
  INFO(rights_before);
  REQUIRE(rights_before.find(":LO Owner:{") != std::string::npos);
  REQUIRE(rights_before.find("lo reader\\\"=r*w*/") != std::string::npos);
  ProcessResult apply = f.apply_with_writes_after_snapshot(doc, "pause");
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  // The writes are on the source and not in the clone.
  REQUIRE(data_of(server(), f.source) != data_before);
  CHECK(roles_of(f.target) == roles_of(server()));
  CHECK(roles_of(server()).find("Clone Owner:truetrue7:") != std::string::npos);
  CHECK(schema_of(f.target, "clone_one") == schema_before);  // owners, grants and policies too
  CHECK(data_of(f.target, "clone_one") == data_before);
  CHECK(large_objects_of(f.target, "clone_one") == large_objects_before);
  CHECK(large_object_rights_of(f.target, "clone_one") == rights_before);
  CHECK(query(f.target, "clone_one", "SELECT last_value >= 101 FROM tickets") == "t\n");
  CHECK(query(f.target, "clone_one", "SELECT count(*) FROM \"Mixed Case\".\"we\"\"ird.name\" WHERE \"Col Name\" LIKE 'written%'") == "0\n");
  // Identity and generated columns work on the clone; the materialized view is populated; the
  // policy is in force for other roles.
  CHECK(query(f.target, "clone_one",
              "WITH n AS (INSERT INTO \"Mixed Case\".\"we\"\"ird.name\" (\"Col Name\") VALUES ('new') RETURNING id, doubled) "
              "SELECT id > 300 AND doubled = 2 * id FROM n") == "t\n");
  CHECK(query(f.target, "clone_one", "SELECT count(*) FROM measure_totals") != "0\n");
  CHECK(query(f.target, "clone_one", "SELECT relrowsecurity FROM pg_class WHERE relname = 'secret'") == "t\n");
  psql(f.source, "DELETE FROM big WHERE v = 'late'; DELETE FROM \"Mixed Case\".\"we\"\"ird.name\" WHERE \"Col Name\" LIKE 'written%'");
}

TEST_CASE("a clone of a database without large objects plans no change again, and one made after the plan makes the "
          "apply stale", "[live]") {
  auto& f = fx();
  psql("postgres", "CREATE DATABASE live_no_lo");
  psql("live_no_lo", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 20) g");
  std::string doc = f.doc("clone-no-lo", "clone_no_lo", "", nullptr, "live_no_lo");
  auto apply = f.w.pgrecover({"apply", doc, "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  auto again = f.w.pgrecover({"plan", doc, "--detailed-exitcode"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);  // no "blobs ... missing in the target"

  std::string later = f.doc("clone-lo-later", "clone_lo_later", "", nullptr, "live_no_lo");
  std::string saved = (f.w.base.path() / "clone-lo-later.json").string();
  auto plan = f.w.pgrecover({"plan", later, "--out", saved});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  psql("live_no_lo", "SELECT lo_from_bytea(0, 'made after the plan'::bytea)");
  auto stale = f.w.pgrecover({"apply", saved});
  INFO(stale.out << stale.err);
  CHECK(stale.exit_code == 3);
  CHECK(stale.err.find("plan is stale: the live database \"live_no_lo\"") != std::string::npos);
  CHECK(stale.err.find("holds large objects now and held none when the plan was made") != std::string::npos);
  CHECK(query(f.target, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'clone_lo_later'") == "0\n");
}

TEST_CASE("a big table is read from the source by ranges of pages, all in the snapshot", "[live]") {
  auto& f = fx();
  std::string doc = f.doc("clone-ranges", "clone_ranges", "  split_tables_larger_than: 256kB\n");
  auto plan = f.w.pgrecover({"plan", doc, "--detailed-exitcode", "--json"});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 2);
  CHECK(plan.out.find("heap pages by ctid, each its own COPY in the snapshot") != std::string::npos);
  std::string data_before = data_of(server(), f.source);
  // New rows land in pages after the last range's start: the open-ended range must not see them.
  ProcessResult apply = f.apply_with_writes_after_snapshot(doc, "pause-ranges");
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK((apply.out + apply.err).find("ranges of") != std::string::npos);
  REQUIRE(data_of(server(), f.source) != data_before);
  CHECK(data_of(f.target, "clone_ranges") == data_before);
  psql(f.source, "DELETE FROM big WHERE v = 'late'; DELETE FROM \"Mixed Case\".\"we\"\"ird.name\" WHERE \"Col Name\" LIKE 'written%'");
}

TEST_CASE("rows of built-in types travel in COPY's binary format, other types as text, and equal the source", "[live]") {
  auto& f = fx();
  psql("postgres", "CREATE DATABASE live_types");
  // Values whose text forms are costly or easy to get wrong: floats (NaN, infinities, -0, the
  // shortest exact digits), infinite dates, numeric NaN, every byte, arrays, ranges, jsonb.
  psql("live_types", R"(
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 50);
    CREATE TABLE typed (id bigint PRIMARY KEY, f8 float8, f4 real, n numeric, ts timestamptz, d date,
      iv interval, b bytea, t text, j jsonb, a int[], ta text[], r int4range, u uuid, ip inet, m money, bo boolean);
    INSERT INTO typed SELECT g, (ARRAY['NaN', 'Infinity', '-Infinity', '-0', '0.1', '1e300'])[1 + g % 6]::float8 * 1,
      g / 7.0, (ARRAY['NaN', '12345678901234567890.123456789'])[1 + g % 2]::numeric,
      (ARRAY['infinity', '-infinity', '2026-12-01 12:34:56.789012+05'])[1 + g % 3]::timestamptz,
      (ARRAY['infinity', '1999-12-31'])[1 + g % 2]::date, make_interval(days => g, secs => g / 3.0),
      (SELECT string_agg(set_byte('\x00'::bytea, 0, (g + k) % 256), '') FROM generate_series(0, 255) k),
      E'tab\there, newline\nthere, backslash \\, ünïcödé ' || g, jsonb_build_object('k', g, 'nested', jsonb_build_array(g, 'x')),
      ARRAY[g, NULL, -g], ARRAY['a"b', NULL, 'c,d'], int4range(g, g + 10), md5(g::text)::uuid, '10.0.0.1'::inet + g,
      g * 1.25, g % 2 = 0
      FROM generate_series(1, 3000) g;
    INSERT INTO typed (id) VALUES (0);
    CREATE TABLE labelled (id int PRIMARY KEY, feeling mood, feelings mood[], rel regclass, note short_text);
    INSERT INTO labelled SELECT g, 'happy', ARRAY['sad', 'ok']::mood[], 'typed', 'n' || g FROM generate_series(1, 50) g;
  )");
  std::string doc = f.doc("clone-types", "clone_types", "  split_tables_larger_than: 64kB\n", nullptr, "live_types");
  auto plan = f.w.pgrecover({"plan", doc, "--json"});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  const auto planned = nlohmann::json::parse(plan.out);
  auto reason_of = [&](const std::string& step) {
    for (const auto& s : planned.at("plans").at(0).at("steps"))
      if (s.at("id") == step) return s.at("reason").get<std::string>();
    return std::string("(no step " + step + ")");
  };
  CHECK(reason_of("table-data:public.typed").find("rows in COPY's binary format") != std::string::npos);
  CHECK(reason_of("table-data:public.typed").find("heap pages by ctid") != std::string::npos);  // split, binary ranges
  // An enum, an enum array, a domain and a regclass (an oid in binary) go as text.
  CHECK(reason_of("table-data:public.labelled").find("binary") == std::string::npos);
  auto apply = f.w.pgrecover({"--json", "apply", doc, "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(apply.out.find("ranges of") != std::string::npos);
  CHECK(apply.out.find("rows in COPY's binary format") != std::string::npos);
  CHECK(data_of(f.target, "clone_types") == data_of(server(), "live_types"));
  CHECK(query(f.target, "clone_types", "SELECT count(*), count(DISTINCT f8::text), sum(length(b)) FROM typed") ==
        query(server(), "live_types", "SELECT count(*), count(DISTINCT f8::text), sum(length(b)) FROM typed"));
  CHECK(query(f.target, "clone_types", "SELECT rel::text, feeling, feelings::text FROM labelled WHERE id = 1") ==
        "typed|happy|{sad,ok}\n");
}

TEST_CASE("a load that does not put every row sent into the target fails uncommitted", "[live]") {
  auto& f = fx();
  psql("postgres", "CREATE DATABASE live_counted");
  psql("live_counted", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g");
  // The target already has the table, with a trigger that drops every other row and one row the
  // load replaces (existing: truncate): the COPY loads 50 of the 100 rows sent.
  query(f.target, "postgres", "CREATE DATABASE counted");
  query(f.target, "counted", R"(
    CREATE TABLE t (id int PRIMARY KEY, v text);
    INSERT INTO t VALUES (0, 'kept');
    CREATE FUNCTION drop_even() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id % 2 = 0 THEN RETURN NULL; END IF; RETURN NEW; END $$;
    CREATE TRIGGER drop_even BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION drop_even();
  )");
  std::string doc = f.w.write("counted.yaml", fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: counted}}
spec:
  from: {{live: {{conninfo: "{}", database: live_counted}}}}
  to: {{conninfo: "{}", database: counted}}
  existing: truncate
)",
                                                          test::server_conninfo(), test::instance_conninfo(f.target)))
                        .string();
  auto apply = f.w.pgrecover({"apply", doc, "--auto-approve"});
  INFO(apply.out << apply.err);
  CHECK(apply.exit_code == 1);
  CHECK(apply.err.find("public.t: the target's COPY loaded 50 rows, but 100 were sent") != std::string::npos);
  CHECK(apply.err.find("a trigger or rule on the target") != std::string::npos);
  // The TRUNCATE and the COPY were one transaction: the table is as it was.
  CHECK(query(f.target, "counted", "SELECT string_agg(id || ':' || v, ',') FROM t") == "0:kept\n");
}

TEST_CASE("a clone onto its own source is refused", "[live]") {
  auto& f = fx();
  std::string doc = f.doc("onto-itself", f.source, "  existing: skip\n", &server());
  auto r = f.w.pgrecover({"plan", doc});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("is the live source itself") != std::string::npos);
}

TEST_CASE("a killed clone resumes from a new snapshot and ends equal to the source (consistent: strict)", "[live]") {
  auto& f = fx();
  std::string doc = f.doc("clone-killed", "clone_killed", "  split_tables_larger_than: 512kB\n");
  auto killed = f.w.pgrecover({"apply", doc, "--auto-approve"}, {"PGRECOVER_TEST_KILL_AFTER_PARTS=2"});
  INFO(killed.out << killed.err);
  REQUIRE(killed.term_signal == SIGKILL);
  // The source moves on before the resume: the resumed clone is the source at its new snapshot.
  psql(f.source, kWrites);
  auto plan = f.w.pgrecover({"plan", doc});
  INFO(plan.out << plan.err);
  CHECK(plan.out.find("consistent: strict") != std::string::npos);
  auto resumed = f.w.pgrecover({"apply", doc, "--auto-approve"});
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(schema_of(f.target, "clone_killed") == schema_of(server(), f.source));
  CHECK(data_of(f.target, "clone_killed") == data_of(server(), f.source));
  CHECK(large_objects_of(f.target, "clone_killed") == large_objects_of(server(), f.source));
  CHECK(large_object_rights_of(f.target, "clone_killed") == large_object_rights_of(server(), f.source));
  CHECK(sequences_of(f.target, "clone_killed") == sequences_of(server(), f.source));
}

namespace {
std::map<std::string, std::string> by_table(const std::string& data) {
  std::map<std::string, std::string> out;
  std::istringstream in(data);
  for (std::string line; std::getline(in, line);) out[line.substr(0, line.rfind(' '))] = line.substr(line.rfind(' ') + 1);
  return out;
}
}  // namespace

TEST_CASE("a killed clone with consistent: allow-mixed keeps finished tables and reloads the others", "[live]") {
  auto& f = fx();
  std::string doc = f.w.write("clone-mixed.yaml", fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: clone-mixed}}
spec:
  from: {{live: {{conninfo: "{}", database: {}, consistent: allow-mixed}}}}
  to: {{conninfo: "{}", database: clone_mixed, create: true}}
  jobs: 2
  split_tables_larger_than: 512kB
)",
                                                              test::server_conninfo(), f.source, test::instance_conninfo(f.target)))
                        .string();
  auto before = by_table(data_of(server(), f.source));
  auto killed = f.w.pgrecover({"apply", doc, "--auto-approve"}, {"PGRECOVER_TEST_KILL_AFTER_PARTS=2"});
  INFO(killed.out << killed.err);
  REQUIRE(killed.term_signal == SIGKILL);
  psql(f.source, kWrites);
  psql(f.source, "UPDATE secret SET body = body || ' v2'; UPDATE ONLY animal SET name = name || ' v2'");
  auto after = by_table(data_of(server(), f.source));
  REQUIRE(before.at("big") != after.at("big"));
  auto resumed = f.w.pgrecover({"apply", doc, "--auto-approve"});
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("consistent: allow-mixed") != std::string::npos);
  auto clone = by_table(data_of(f.target, "clone_mixed"));
  // The split table was cut off in the middle: loaded again, whole, from the new snapshot (none
  // of the old snapshot's chunks kept). Every other table is the source at one of the two moments.
  CHECK(clone.at("big") == after.at("big"));
  REQUIRE(clone.size() == after.size());
  for (const auto& [table, sum] : clone) {
    INFO(table);
    CHECK((sum == before.at(table) || sum == after.at(table)));
  }
  bool mixed = false;
  for (const auto& [table, sum] : clone) mixed = mixed || (sum != after.at(table));
  if (mixed) CHECK(resumed.err.find("mixes two moments") != std::string::npos);

}

TEST_CASE("every session a clone opens on its source is read-only", "[live]") {
  auto& f = fx();
  std::string conninfo = test::server_conninfo(f.source);
  auto refuses_writes = [](pg::Connection& c, const std::string& which) {
    INFO(which);
    try {
      c.exec("CREATE TABLE written_by_the_clone (id int)");
      FAIL("a write went through the " + which);
    } catch (const pg::DbError& e) {
      CHECK(e.sqlstate() == "25006");  // read_only_sql_transaction
    }
  };
  // Planning (the source's tables, counts, large object roles) and the apply's coordinating
  // session, its workers (rows and large objects) and its row counts all come from these.
  auto plain = executor::open_source_session(conninfo, "read-only test");
  refuses_writes(plain, "planning session");
  auto snapshot = executor::SourceSnapshot::open(conninfo, "read-only test");
  executor::SnapshotRows rows(conninfo, snapshot.id(), "read-only test");
  auto worker = rows.session();
  refuses_writes(worker, "worker session");
  refuses_writes(snapshot.session(), "coordinating session");
  CHECK(query(server(), f.source, "SELECT count(*) FROM pg_class WHERE relname = 'written_by_the_clone'") == "0\n");
}

namespace {
// Every file under `dir` whose contents hold `needle`.
std::vector<std::string> files_holding(const std::filesystem::path& dir, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    if (read_file(e.path()).find(needle) != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}
}  // namespace

TEST_CASE("roles: all brings every role of the source server, its password hash read at apply only", "[live]") {
  auto& f = fx();
  psql("postgres", "CREATE ROLE pw_user LOGIN PASSWORD 'correct horse battery' VALID UNTIL '2100-01-01'");
  std::string doc = f.doc("clone-all", "clone_all", "  roles: all\n");
  auto plan = f.w.pgrecover({"plan", doc});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  CHECK(plan.out.find("role             pw_user") != std::string::npos);
  CHECK(plan.out.find("with its password") != std::string::npos);
  auto apply = f.w.pgrecover({"apply", doc, "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  const std::string hash_sql = "SELECT rolpassword || ' ' || rolvaliduntil FROM pg_authid WHERE rolname = 'pw_user'";
  std::string hash = query(server(), "postgres", hash_sql);
  REQUIRE(hash.rfind("SCRAM-SHA-256$", 0) == 0);
  CHECK(query(f.target, "postgres", hash_sql) == hash);
  // The hash is in no plan, journal, log or report, nor in what the commands printed.
  std::string secret = hash.substr(0, hash.find(' '));
  CHECK(files_holding(f.w.base.path(), secret).empty());
  CHECK((plan.out + plan.err + apply.out + apply.err).find(secret) == std::string::npos);
}

TEST_CASE("pg_dump's session and the session that reads role passwords are read-only too", "[live]") {
  auto& f = fx();
  psql("postgres", "CREATE DATABASE live_ro");
  psql("postgres", "CREATE ROLE ro_probe LOGIN PASSWORD 'probe password'");
  psql("live_ro", "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
  // pg_dump comes from [instance] bin_dir: there, a pg_dump that first asks a session opened with
  // its own environment (so the PGOPTIONS it was given) whether it is read-only, then runs the real one.
  fs::path real = instance::find_bin_dir();
  fs::path bin = f.w.folder("wrapped-bin");
  for (const auto& e : fs::directory_iterator(real))
    if (e.path().filename() != "pg_dump") fs::create_symlink(e.path(), bin / e.path().filename());
  fs::path said = f.w.base.path() / "pg_dump-read-only";
  write_file_atomic(bin / "pg_dump",
                    fmt::format("#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in --dbname=*) db=\"${{a#--dbname=}}\";; esac; done\n"
                                "'{0}/psql' -X -At -c 'SHOW default_transaction_read_only' \"$db\" >> '{1}' 2>&1\n"
                                "exec '{0}/pg_dump' \"$@\"\n",
                                real.string(), said.string()),
                    0755);
  fs::path config = f.w.write("wrapped.toml", read_file(f.w.config) + fmt::format("[instance]\nbin_dir = \"{}\"\n", bin.string()));
  // Every statement of the source database is logged, with the session's application name.
  fs::path log = server().data_dir().parent_path() / "postgresql.log";
  psql("postgres", "ALTER SYSTEM SET log_line_prefix = '%m [%p] %a: '");
  psql("postgres", "SELECT pg_reload_conf()");
  psql("postgres", "ALTER DATABASE live_ro SET log_statement = 'all'");
  auto log_from = fs::file_size(log);

  std::string doc = f.doc("clone-ro", "clone_ro", "  roles: all\n", nullptr, "live_ro");
  auto apply = test::run_pgrecover({"--config", config.string(), "apply", doc, "--auto-approve"});
  psql("postgres", "ALTER DATABASE live_ro RESET log_statement");
  psql("postgres", "ALTER SYSTEM RESET log_line_prefix");
  psql("postgres", "SELECT pg_reload_conf()");
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(query(f.target, "postgres", "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'ro_probe'") == "t\n");
  // pg_dump ran twice (plan, apply), each time in a read-only session.
  CHECK(read_file(said) == "on\non\n");
  // The session that read the password hashes made itself read-only before anything else.
  std::string logged = read_file(log).substr(log_from);
  std::vector<std::string> statements;
  std::istringstream lines(logged);
  for (std::string line; std::getline(lines, line);) {
    auto at = line.find(" roles: LOG:  statement: ");
    if (at != std::string::npos && line.find("pgrecover apply r-") != std::string::npos) statements.push_back(line.substr(at + 25));
  }
  INFO(logged);
  REQUIRE_FALSE(statements.empty());
  CHECK(statements.front() == "SET default_transaction_read_only = on");
}
