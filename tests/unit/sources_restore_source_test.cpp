// Restores from a repository: which backup latest / an id / {before: T} picks, what the restore
// gets from the manifest (archive, row counts, role definitions), and the role SQL itself.
#include <catch2/catch.hpp>

#include "sources/restore_source.hpp"
#include "pg/pg.hpp"
#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace pgr;
using namespace pgr::repository;

namespace {

BackupInfo add(const Repository& repo, const std::string& policy, const std::string& iso, std::int64_t rows) {
  auto t = parse_iso(iso);
  auto pending = repo.begin(policy, t);
  fs::create_directories(pending.dir() / "data");
  write_file_atomic(pending.dir() / "data" / "toc.dat", "not read here");
  Manifest m;
  m.database = "shop";
  m.started_at = format_iso(t);
  m.finished_at = format_iso(t + std::chrono::seconds(5));
  m.format = "directory";
  m.data = "data";
  m.row_counts = {{"public.orders", rows}};
  Globals g;
  Role owner;
  owner.name = "shop owner";  // needs quoting
  owner.login = true;
  owner.password = "SCRAM-SHA-256$4096:secret-hash";
  owner.member_of = {{"readers", "postgres", false}};
  owner.settings = {{"", "search_path=app, public"}, {"shop", "work_mem=64MB"}};
  Role readers;
  readers.name = "readers";
  g.roles = {owner, readers};
  m.globals = g;
  return pending.commit(m);
}

config::Restore restore_of(const std::string& policy, config::BackupRef ref) {
  config::Restore r;
  r.metadata.name = "r";
  r.spec.repository = "local";
  r.spec.policy = policy;
  r.spec.backup = ref;
  return r;
}

}  // namespace

TEST_CASE("backup restore source: latest, an id and {before: T} choose the right backup", "[repository][backup]") {
  TempDir dir;
  config::Settings settings;
  settings.repositories["local"] = config::RepositorySettings{.name = "local", .path = dir.path()};
  auto repo = Repository::open(dir.path(), "local");
  auto a = add(repo, "shop", "2025-01-01T02:00:00Z", 10);
  auto b = add(repo, "shop", "2025-01-02T02:00:00Z", 20);
  add(repo, "other", "2025-01-03T02:00:00Z", 30);

  auto latest = sources::resolve_restore_source(restore_of("shop", {}), settings);
  CHECK(latest.backup_id == b.id);
  CHECK(latest.archive == b.location + "/data");
  CHECK(latest.repository == "local");
  CHECK(latest.backup_ref == "shop/" + b.id);
  CHECK(latest.expected_rows.at("public.orders") == 20);

  auto by_id = sources::resolve_restore_source(restore_of("shop", {config::BackupRef::Kind::id, a.id, ""}), settings);
  CHECK(by_id.backup_id == a.id);
  CHECK(by_id.expected_rows.at("public.orders") == 10);

  auto before = sources::resolve_restore_source(
      restore_of("shop", {config::BackupRef::Kind::before, "", "2025-01-02T03:00:00+02:00"}), settings);
  CHECK(before.backup_id == a.id);  // 01:00Z: the second backup started after that

  CHECK_THROWS_AS(sources::resolve_restore_source(restore_of("shop", {config::BackupRef::Kind::before, "", "2024-12-31T00:00:00Z"}), settings),
                  Error);
  CHECK_THROWS_AS(sources::resolve_restore_source(restore_of("shop", {config::BackupRef::Kind::id, "../../x", ""}), settings), Error);
  CHECK_THROWS_AS(sources::resolve_restore_source(restore_of("nothing", {}), settings), Error);
}

TEST_CASE("backup restore source: role definitions recreate attributes and memberships, never passwords", "[repository][backup]") {
  TempDir dir;
  config::Settings settings;
  settings.repositories["local"] = config::RepositorySettings{.name = "local", .path = dir.path()};
  auto repo = Repository::open(dir.path(), "local");
  add(repo, "shop", "2025-01-01T02:00:00Z", 1);
  auto src = sources::resolve_restore_source(restore_of("shop", {}), settings);
  REQUIRE(src.role_definitions.count("shop owner"));
  const std::string& sql = src.role_definitions.at("shop owner");
  CHECK(sql.find("CREATE ROLE \"shop owner\" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN") == 0);
  CHECK(sql.find("secret-hash") == std::string::npos);
  CHECK(sql.find("PASSWORD") == std::string::npos);
  CHECK(sql.find("ALTER ROLE \"shop owner\" SET \"search_path\" = 'app', 'public';") != std::string::npos);
  CHECK(sql.find("work_mem") == std::string::npos);  // per-database settings need that database first
  CHECK(sql.find("GRANT \"readers\" TO \"shop owner\"") != std::string::npos);
  // The membership is also added from the other side, whichever role is created last.
  CHECK(src.role_definitions.at("readers").find("GRANT \"readers\" TO \"shop owner\"") != std::string::npos);
}

TEST_CASE("backup conninfo split: the password goes to the environment, never to argv", "[backup]") {
  auto s = pg::split_password("host=db port=5432 user=backup password='s3 cret' dbname=shop");
  CHECK(s.password == "s3 cret");
  CHECK(s.conninfo.find("s3") == std::string::npos);
  CHECK(s.conninfo.find("host='db'") != std::string::npos);
  CHECK(s.conninfo.find("dbname='shop'") != std::string::npos);
  auto u = pg::split_password("postgresql://backup:pw@db:5433/shop");
  CHECK(u.password == "pw");
  CHECK(u.conninfo.find("pw") == std::string::npos);
  CHECK(u.conninfo.find("port='5433'") != std::string::npos);
}
