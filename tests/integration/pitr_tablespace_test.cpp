// Physical backups of a cluster with a tablespace, recovered with to.tablespace_mapping: the
// tablespace's tar goes into the mapped folder, pg_tblspc/<oid> points there, every row comes
// back; an unmapped tablespace whose original folder is in use is refused at plan time. A
// physical drill maps the tablespace into its throwaway folder by itself.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "repository/physical.hpp"
#include "repository/repository.hpp"
#include "support/archiving_source.hpp"
#include "support/harness.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

using namespace pgr;

namespace {

using test::server_user;
using test::stop_server;

fs::path reachable_dir(const fs::path& p) {
  fs::create_directories(p);
  fs::permissions(p, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::replace);
  return p;
}

struct Source : test::ArchivingSource {
  fs::path repo, tablespace;

  Source()
      : ArchivingSource("pgrecover-pitr-ts-test-", test::posix_repository, "local", "ts") {
    repo = base.path() / "repo";
    tablespace = base.path() / "ts-live";
    fs::create_directory(tablespace);
    fs::permissions(tablespace, fs::perms::owner_all, fs::perm_options::replace);
    test::give_to_server_user(tablespace);
  }
  std::string policy() const {
    return fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: ts-physical}}
spec:
  source: {{conninfo: "{}"}}
  method: physical
  compression: gzip
  repository: local
  cluster: ts
  schedule: {{every: 24h}}
  verify: {{drill: {{every: 1h, sql: ["SELECT count(*) = 3 FROM fast_orders"]}}}}
)",
                       conninfo());
  }
};

Source& src() {
  static Source s;
  static bool prepared = false;
  if (prepared) return s;
  prepared = true;
  s.sql(fmt::format("CREATE TABLESPACE fast LOCATION '{}'", s.tablespace.string()));
  s.sql("CREATE TABLE fast_orders (id int PRIMARY KEY) TABLESPACE fast; INSERT INTO fast_orders VALUES (1), (2), (3)");
  fs::path policy = s.write("policy.yaml", s.policy());
  auto applied = s.pgrecover({"apply", "--auto-approve", policy.string()});
  INFO(applied.out << applied.err);
  REQUIRE(applied.exit_code == 0);
  // Rows after the base backup, in the archive.
  s.sql("INSERT INTO fast_orders VALUES (4), (5)");
  s.archive_current_segment();
  return s;
}

std::string recovery_doc(const fs::path& dd, const std::string& to_extra) {
  return src().policy() + fmt::format(R"(---
apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {{name: ts-recovery}}
spec:
  from: {{policy: ts-physical}}
  target: {{latest: true}}
  action: promote
  to: {{data_directory: "{}"{}}}
  timeout: 2m
)",
                                      dd.string(), to_extra);
}

}  // namespace

TEST_CASE("a physical backup records its tablespace: oid, name, original location and size", "[pitr]") {
  auto backups = repository::Repository::open(src().repo).list("ts-physical");
  REQUIRE(backups.size() == 1);
  auto repo = repository::Repository::open(src().repo);
  auto info = repository::physical_info(repo.read_manifest(backups.front()));
  REQUIRE(info.tablespaces.size() == 1);
  const auto& t = info.tablespaces.front();
  CHECK(t.oid == src().sql("SELECT oid FROM pg_tablespace WHERE spcname = 'fast'"));
  CHECK(t.name == "fast");
  CHECK(t.location == src().tablespace.string());
  CHECK(t.bytes >= 8192);
  auto show = src().pgrecover({"backups", "show", "ts-physical/" + backups.front().id, "--repository", "local"});
  INFO(show.out << show.err);
  CHECK(show.out.find(src().tablespace.string()) != std::string::npos);
  CHECK(fs::exists(src().repo / "backups" / "ts-physical" / backups.front().id / t.file));
}

TEST_CASE("an unmapped tablespace whose original folder is in use is refused at plan time", "[pitr]") {
  fs::path dd = reachable_dir(src().base.path() / "refused") / "data";
  fs::path doc = src().write("refused.yaml", recovery_doc(dd, ""));
  auto plan = src().pgrecover({"plan", doc.string(), "--only", "ts-recovery"});
  INFO(plan.out << plan.err);
  CHECK(plan.exit_code == 1);
  CHECK(plan.err.find("tablespace \"fast\"") != std::string::npos);
  CHECK(plan.err.find(src().tablespace.string()) != std::string::npos);
  CHECK(plan.err.find("tablespace_mapping") != std::string::npos);
  CHECK_FALSE(fs::exists(dd));
  // A mapping that names no tablespace of the backup is refused too.
  fs::path typo = src().write("typo.yaml", recovery_doc(dd, ", tablespace_mapping: {\"/no/such/ts\": \"/tmp/x\"}"));
  auto p2 = src().pgrecover({"plan", typo.string(), "--only", "ts-recovery"});
  CHECK(p2.exit_code == 1);
  CHECK(p2.err.find("/no/such/ts") != std::string::npos);
  // Relative paths fail validation with the field's position.
  fs::path rel = src().write("relative.yaml", recovery_doc(dd, ", tablespace_mapping: {\"/a\": \"relative/b\"}"));
  auto v = src().pgrecover({"validate", rel.string()});
  INFO(v.out << v.err);
  CHECK(v.exit_code == 1);
  CHECK((v.out + v.err).find("tablespace_mapping") != std::string::npos);
}

TEST_CASE("recovery with tablespace_mapping puts the tablespace in the new folder with every row", "[pitr]") {
  fs::path parent = reachable_dir(src().base.path() / "mapped");
  fs::path dd = parent / "data", ts = parent / "ts" / "fast";  // parent/ts does not exist yet
  struct Stop {
    fs::path d;
    ~Stop() { stop_server(d); }
  } stop{dd};
  fs::path doc = src().write("mapped.yaml", recovery_doc(dd, fmt::format(", tablespace_mapping: {{\"{}\": \"{}\"}}",
                                                                           src().tablespace.string(), ts.string())));
  auto plan = src().pgrecover({"plan", doc.string(), "--only", "ts-recovery"});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  CHECK(plan.out.find("tablespace-") != std::string::npos);
  CHECK(plan.out.find(ts.string()) != std::string::npos);
  auto apply = src().pgrecover({"apply", doc.string(), "--only", "ts-recovery", "--auto-approve"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  std::string oid = src().sql("SELECT oid FROM pg_tablespace WHERE spcname = 'fast'");
  CHECK(fs::read_symlink(dd / "pg_tblspc" / oid) == ts);
  struct stat st {};
  REQUIRE(::stat(ts.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  if (auto u = server_user()) CHECK(st.st_uid == u->uid);
  instance::PostmasterInfo pm;
  REQUIRE(instance::read_postmaster_pid(dd, pm));
  auto c = pg::Connection::open(fmt::format("host={} port={} user=postgres dbname=postgres", pm.socket_dir, pm.port));
  CHECK(c.exec("SELECT string_agg(id::text, ',' ORDER BY id) FROM fast_orders").str(0, 0) == "1,2,3,4,5");
  CHECK(c.exec("SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'fast'").str(0, 0) == ts.string());
  // The live tablespace folder was not touched: the source still reads its table.
  CHECK(src().sql("SELECT count(*) FROM fast_orders") == "5");
}

TEST_CASE("a physical drill maps the tablespace into its throwaway folder", "[pitr]") {
  // The policy's drill ran with the backup (in src()): its check reads the table in the tablespace.
  auto backups = repository::Repository::open(src().repo).list("ts-physical");
  REQUIRE(backups.size() == 1);
  CHECK_FALSE(backups.front().verified_at.empty());
  CHECK(src().sql("SELECT count(*) FROM fast_orders") == "5");
}

// Last: it replaces the shared source in place.
TEST_CASE("in place, the crashed source's tablespace folder moves aside with its data directory", "[pitr][in-place]") {
  auto& s = src();
  fs::path dd = s.server->data_dir();
  std::string oid = s.sql("SELECT oid FROM pg_tablespace WHERE spcname = 'fast'");
  stop_server(dd);  // the crash
  struct Stop {
    fs::path d;
    ~Stop() { stop_server(d); }
  } stop{dd};
  fs::path doc = s.write("in-place.yaml", recovery_doc(dd, ", move_aside_existing: true"));
  fs::path saved = s.base.path() / "in-place.plan";
  auto plan = s.pgrecover({"plan", doc.string(), "--only", "ts-recovery", "--out", saved.string()});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  auto params = nlohmann::json::parse(read_file(saved)).at("params");
  std::string dd_aside = params.at("moved_aside_to");
  std::string ts_aside = nlohmann::json::parse(params.at("tablespaces").get<std::string>())[0].at("moved_aside_to");
  CHECK(ts_aside.rfind(s.tablespace.string() + ".pgrecover-", 0) == 0);
  CHECK(plan.out.find(s.tablespace.string() + " is renamed to " + ts_aside) != std::string::npos);
  CHECK(plan.out.find("pg_tblspc/" + oid + " is pointed at it") != std::string::npos);

  auto apply = s.pgrecover({"apply", saved.string()});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  // The old cluster is whole beside the new one: its tablespace renamed, its link following it.
  CHECK(fs::exists(fs::path(dd_aside) / "PG_VERSION"));
  CHECK(fs::read_symlink(fs::path(dd_aside) / "pg_tblspc" / oid) == fs::path(ts_aside));
  bool old_files = false;
  for (const auto& e : fs::directory_iterator(ts_aside)) old_files = old_files || e.path().filename().string().rfind("PG_", 0) == 0;
  CHECK(old_files);
  // The recovered cluster uses the original location again, with every archived row.
  CHECK(fs::read_symlink(dd / "pg_tblspc" / oid) == s.tablespace);
  instance::PostmasterInfo pm;
  REQUIRE(instance::read_postmaster_pid(dd, pm));
  auto c = pg::Connection::open(fmt::format("host={} port={} user=postgres dbname=postgres", pm.socket_dir, pm.port));
  CHECK(c.exec("SELECT string_agg(id::text, ',' ORDER BY id) FROM fast_orders").str(0, 0) == "1,2,3,4,5");
}
