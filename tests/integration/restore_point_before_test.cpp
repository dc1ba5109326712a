// before: {restore_point: NAME} end to end, on a real source that archives through `pgrecover wal
// push`: a risky Restore (existing: replace into the source itself) marks the moment first, and a
// PointInTimeRecovery to that name gets the state before the change back; a name already recorded
// is refused with nothing touched; an apply killed right after the restore point was made resumes
// without making it twice (counted in the source's WAL with pg_walinspect); a copy of the policy
// that cannot be written to is warned about while the step and the other copies go on.
#include <catch2/catch.hpp>

#include <csignal>

#include <fmt/format.h>

#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "repository/restore_points.hpp"
#include "support/harness.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

using namespace pgr;

namespace {

// The policy has a copy, "offsite" (<base>/offsite, added to the settings by source()): the
// restore point is recorded there too.
test::Workspace& world() {
  static test::Workspace w("pgrecover-rp-before-test");
  return w;
}

fs::path offsite() { return world().base.path() / "offsite"; }

std::string sql(const std::string& conninfo, const std::string& q) {
  auto c = pg::Connection::open(conninfo);
  auto r = c.exec(q);
  return r.rows() && r.cols() ? r.str(0, 0) : "";
}

struct Source {
  std::unique_ptr<instance::Instance> server;
  std::string conninfo;  // dbname=postgres, as the policy and the Restores both write it
  fs::path archive;      // pg_dump -Fc of shop with orders 1..10

  std::string shop(const std::string& q) const { return sql(pg::with_dbname(conninfo, "shop"), q); }
  // RESTORE_POINT records named `name` in the source's WAL since `from`.
  int in_wal(const std::string& name, const std::string& from) const {
    return std::stoi(sql(conninfo, fmt::format("SELECT CASE WHEN '{0}'::pg_lsn >= pg_current_wal_lsn() THEN 0 ELSE "
                                               "(SELECT count(*) FROM pg_get_wal_records_info_till_end_of_wal('{0}') "
                                               "WHERE record_type = 'RESTORE_POINT' AND description = '{1}') END",
                                               from, name)));
  }
  std::string policy() const {
    return fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: rp-physical}}
spec:
  source: {{conninfo: "{}"}}
  method: physical
  repositories: [local, offsite]
  cluster: rp
  schedule: {{every: 24h}}
)", conninfo);
  }
  // The backup of shop restored into `database` on `to`, after spec.before (a YAML mapping).
  std::string copy_restore(const std::string& name, const std::string& to, const std::string& database,
                           const std::string& before) const {
    return fmt::format(R"(---
apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: {}}}
spec:
  from: {{archive: "{}"}}
  to: {{conninfo: "{}", database: {}}}
  before: {}
)", name, archive.string(), to, database, before);
  }
  // A risky change: the backup of shop put back over the live database.
  std::string risky_restore(const std::string& name, const std::string& point) const {
    return policy() + fmt::format(R"(---
apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: {}, annotations: {{ticket: CHG-1}}}}
spec:
  from: {{archive: "{}"}}
  to: {{conninfo: "{}", database: shop}}
  existing: replace
  before: {{restore_point: {}}}
)", name, archive.string(), conninfo, point);
  }
};

Source& source() {
  static Source s;
  if (s.server) return s;
  auto& w = world();
  fs::create_directory(offsite());
  fs::permissions(offsite(), fs::perms::owner_all, fs::perm_options::replace);
  test::give_to_server_user(offsite());
  write_file_atomic(w.config, read_file(w.config) + fmt::format("[repositories.offsite]\npath = \"{}\"\n", offsite().string()),
                    0644);
  test::give_to_server_user(w.config);
  instance::Options o;
  o.settings = {{"wal_level", "replica"},
                {"checkpoint_timeout", "1h"},  // the WAL pg_walinspect reads stays in pg_wal
                {"archive_mode", "on"},
                {"archive_command", fmt::format("'{} --config {} wal push %p --repository local,offsite --cluster rp'",
                                                PGRECOVER_BINARY, w.config.string())}};
  s.server = std::make_unique<instance::Instance>(o);
  s.conninfo = fmt::format("host={} port={} user=postgres dbname=postgres", s.server->socket_dir().string(), s.server->port());
  sql(s.conninfo, "CREATE DATABASE shop");
  sql(s.conninfo, "CREATE EXTENSION pg_walinspect");
  s.shop("CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, 'good' FROM generate_series(1, 10) g");
  s.archive = w.base.path() / "shop.dump";
  ProcessSpec dump;
  dump.argv = {instance::tool_path("pg_dump", "").string(), "-Fc", "-f", s.archive.string(), "-d",
               pg::with_dbname(s.conninfo, "shop")};
  test::must(run_process(dump), "pg_dump");
  fs::path policy = w.write("policy.yaml", s.policy());
  test::must(w.pgrecover({"apply", "--auto-approve", policy.string()}), "the physical base backup");
  return s;
}

}  // namespace

TEST_CASE("a Restore with before.restore_point marks the moment first, and the name is not taken twice", "[restore-point][before]") {
  auto& w = world();
  auto& s = source();
  s.shop("INSERT INTO orders SELECT g, 'after the dump' FROM generate_series(11, 20) g");  // the state to get back
  std::string from = sql(s.conninfo, "SELECT pg_current_wal_lsn()::text");
  fs::path chg1 = w.write("chg-1.yaml", s.risky_restore("chg-1", "before_chg_1"));

  auto plan = w.pgrecover({"plan", chg1.string()});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  auto first = plan.out.find("restore point \"before_chg_1\"");
  CHECK(first != std::string::npos);
  CHECK(plan.out.find("cluster \"rp\" in repository \"local\"") != std::string::npos);
  CHECK(plan.out.find("(and in the policy's copy \"offsite\")") != std::string::npos);
  CHECK(first < plan.out.find("orders"));  // shown first
  CHECK_FALSE(repository::find_restore_point(w.repo, "rp", "before_chg_1"));
  CHECK(s.in_wal("before_chg_1", from) == 0);

  auto apply = w.pgrecover({"apply", "--auto-approve", chg1.string()});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(s.shop("SELECT count(*) FROM orders") == "10");  // the change happened
  auto point = repository::find_restore_point(w.repo, "rp", "before_chg_1");
  REQUIRE(point);
  CHECK(point->policy == "rp-physical");
  CHECK_FALSE(point->lsn.empty());
  CHECK(point->created_at.size() >= 20);
  CHECK(s.in_wal("before_chg_1", from) == 1);
  // ... and in the policy's copy, so that a recovery reading from "offsite" finds the name
  auto copied = repository::find_restore_point(offsite(), "rp", "before_chg_1");
  REQUIRE(copied);
  CHECK(copied->lsn == point->lsn);

  // The same name in another ticket: refused at plan and at apply, nothing touched.
  s.shop("INSERT INTO orders VALUES (99, 'must survive')");
  fs::path chg2 = w.write("chg-2.yaml", s.risky_restore("chg-2", "before_chg_1"));
  auto again = w.pgrecover({"plan", chg2.string()});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("restore point \"before_chg_1\" is already recorded for cluster \"rp\"") != std::string::npos);
  auto refused = w.pgrecover({"apply", "--auto-approve", chg2.string()});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 1);
  CHECK(s.shop("SELECT count(*) FROM orders") == "11");
  CHECK(s.in_wal("before_chg_1", from) == 1);
  CHECK(repository::list_restore_points(w.repo, "rp").size() == 1);
}

TEST_CASE("a recovery with before.restore_point killed right after making it resumes without making it twice, and "
          "recovers the state before the change", "[restore-point][before][pitr]") {
  auto& w = world();
  auto& s = source();
  REQUIRE(repository::find_restore_point(w.repo, "rp", "before_chg_1"));  // the case above ran first
  std::string from = sql(s.conninfo, "SELECT pg_current_wal_lsn()::text");
  fs::path dd = w.folder("recovered") / "data";
  fs::path doc = w.write("undo.yaml", s.policy() + fmt::format(R"(---
apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {{name: undo-chg-1}}
spec:
  from: {{policy: rp-physical}}
  target: {{name: before_chg_1}}
  action: promote
  to: {{data_directory: "{}"}}
  timeout: 3m
  before: {{restore_point: before_undo_1}}
)", dd.string()));
  struct StopAtEnd {
    fs::path dir;
    ~StopAtEnd() {
      if (!fs::exists(dir / "postmaster.pid")) return;
      ProcessSpec ps;
      ps.argv = {(instance::find_bin_dir() / "pg_ctl").string(), "stop", "-D", dir.string(), "-m", "immediate", "-w"};
      ps.run_as = test::server_user();
      ps.cwd = "/";
      run_process(ps);
    }
  } stop{dd};

  auto killed = w.pgrecover({"apply", "--auto-approve", doc.string()}, {"PGRECOVER_TEST_KILL_AFTER_RESTORE_POINT=1"});
  INFO(killed.out << killed.err);
  REQUIRE(killed.term_signal == SIGKILL);
  CHECK(s.in_wal("before_undo_1", from) == 1);
  CHECK_FALSE(repository::find_restore_point(w.repo, "rp", "before_undo_1"));  // made, not yet archived and recorded
  CHECK_FALSE(fs::exists(dd));  // the first step: nothing else ran

  auto resumed = w.pgrecover({"apply", "--auto-approve", doc.string()});
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(s.in_wal("before_undo_1", from) == 1);
  auto point = repository::find_restore_point(w.repo, "rp", "before_undo_1");
  REQUIRE(point);
  // Recovered to before_chg_1: the 20 rows before the risky restore, not its 10 nor row 99.
  instance::PostmasterInfo pm;
  REQUIRE(instance::read_postmaster_pid(dd, pm));
  auto c = pg::Connection::open(fmt::format("host={} port={} user=postgres dbname=shop", pm.socket_dir, pm.port));
  CHECK(c.exec("SELECT count(*) FROM orders").str(0, 0) == "20");
  CHECK(c.exec("SELECT count(*) FROM orders WHERE note = 'after the dump'").str(0, 0) == "10");
}

TEST_CASE("a Restore into a server no physical policy backs up makes the restore point there, recorded nowhere, and "
          "says so", "[restore-point][before]") {
  auto& w = world();
  auto& s = source();  // for the archive
  test::psql("postgres", "CREATE EXTENSION IF NOT EXISTS pg_walinspect");
  std::string other = test::server_conninfo();
  std::string from = sql(other, "SELECT pg_current_wal_lsn()::text");
  fs::path doc =
      w.write("side.yaml", s.policy() + s.copy_restore("side-copy", other, "side_copy", "{restore_point: before_side_copy}"));
  auto plan = w.pgrecover({"plan", doc.string()});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  CHECK((plan.out + plan.err).find("restore point \"before_side_copy\" is made on the target server but recorded nowhere") !=
        std::string::npos);
  auto apply = w.pgrecover({"apply", "--auto-approve", doc.string()});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(sql(other, fmt::format("SELECT count(*) FROM pg_get_wal_records_info_till_end_of_wal('{}') WHERE record_type = "
                               "'RESTORE_POINT' AND description = 'before_side_copy'", from)) == "1");
  CHECK(sql(pg::with_dbname(other, "side_copy"), "SELECT count(*) FROM orders") == "10");
  CHECK_FALSE(repository::find_restore_point(w.repo, "rp", "before_side_copy"));
}

TEST_CASE("a copy of the policy that cannot be written to is warned about, the step still succeeds and the other copies "
          "get the record", "[restore-point][before]") {
  auto& w = world();
  auto& s = source();
  // "gone": its folder is a file (the repository does not open); "blocked": it opens, but its
  // restore_points folder is a file (the record cannot be written). Root ignores permissions.
  fs::path gone = w.base.path() / "gone";
  fs::path blocked = w.base.path() / "blocked";
  write_file_atomic(gone, "not a folder", 0600);
  fs::create_directory(blocked);
  write_file_atomic(blocked / "restore_points", "not a folder", 0600);
  write_file_atomic(w.config,
                    read_file(w.config) + fmt::format("[repositories.gone]\npath = \"{}\"\n[repositories.blocked]\npath = \"{}\"\n",
                                                      gone.string(), blocked.string()),
                    0644);
  test::give_to_server_user(w.config);
  std::string policy = s.policy();
  policy.replace(policy.find("rp-physical"), 11, "rp-copies");
  policy.replace(policy.find("[local, offsite]"), 16, "[local, gone, offsite, blocked]");
  fs::path doc = w.write("copies.yaml", policy + s.copy_restore("shop-copy", s.conninfo, "shop_copy",
                                                                "{restore_point: before_shop_copy, policy: rp-copies}"));
  auto plan = w.pgrecover({"plan", "--only", "shop-copy", doc.string()});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  CHECK(plan.out.find("(and in the policy's copies \"gone\", \"offsite\", \"blocked\")") != std::string::npos);

  auto apply = w.pgrecover({"apply", "--auto-approve", "--only", "shop-copy", doc.string()});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(sql(pg::with_dbname(s.conninfo, "shop_copy"), "SELECT count(*) FROM orders") == "10");  // the plan went on
  auto point = repository::find_restore_point(w.repo, "rp", "before_shop_copy");
  REQUIRE(point);
  auto copied = repository::find_restore_point(offsite(), "rp", "before_shop_copy");
  REQUIRE(copied);
  CHECK(copied->lsn == point->lsn);
  std::string all = apply.out + apply.err;
  for (const char* copy : {"gone", "blocked"}) {
    INFO(copy);
    CHECK(all.find(fmt::format("restore point \"before_shop_copy\" is recorded in repository \"local\" but not in its copy "
                               "\"{}\"",
                               copy)) != std::string::npos);
  }
  CHECK(fs::is_regular_file(gone));
  CHECK(fs::is_regular_file(blocked / "restore_points"));
}
