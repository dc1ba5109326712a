// The repository folder: manifests round-trip, listing ignores partial folders, completion is
// atomic, permissions are private, verify names the damaged file, hostile manifests are refused.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace pgr;
using namespace pgr::repository;

namespace {

Manifest sample() {
  Manifest m;
  m.server_version = "15.6";
  m.server_version_num = 150006;
  m.system_identifier = "7301234567890123456";
  m.database = "shop";
  m.started_at = "2025-01-31T12:00:00Z";
  m.finished_at = "2025-01-31T12:00:05Z";
  m.tool = "pg_dump (PostgreSQL) 15.6";
  m.pg_dump_options = {"--format=directory", "--jobs=2"};
  m.format = "directory";
  m.data = "data";
  m.row_counts = {{"public.orders", 3}, {"sales.\"Mixed\"", 0}};
  Globals g;
  Role r;
  r.name = "app";
  r.login = true;
  r.password = "SCRAM-SHA-256$4096:abc";
  r.member_of = {{"readers", "postgres", true}};
  r.settings = {{"", "search_path=app, public"}};
  g.roles = {r};
  g.tablespaces = {{"fast", "postgres", "/srv/fast", {"random_page_cost=1"}}};
  g.passwords_included = true;
  g.sql_file = "globals.sql";
  m.globals = g;
  return m;
}

BackupInfo make_backup(const Repository& repo, const std::string& policy, TimePoint t, const std::string& content) {
  auto pending = repo.begin(policy, t);
  fs::create_directories(pending.dir() / "data");
  write_file_atomic(pending.dir() / "data" / "toc.dat", content);
  write_file_atomic(pending.dir() / "globals.sql", "CREATE ROLE app;\n");
  Manifest m = sample();
  m.started_at = format_iso(t);
  return pending.commit(m);
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("repository manifest: JSON round trip keeps every field", "[repository]") {
  Manifest m = sample();
  m.id = "20250131T120000Z";
  m.policy = "shop";
  m.files = {{"data/toc.dat", 10, std::string(64, 'a')}};
  m.extra = {{"start_lsn", "0/2000028"}, {"timeline", 1}};
  Manifest back = manifest_from_json(nlohmann::json::parse(to_json(m).dump()));
  CHECK(back == m);
  CHECK(to_json(m)["bytes"] == 10);
}

TEST_CASE("repository manifest: hostile paths and ids are refused", "[repository]") {
  Manifest m = sample();
  m.id = "20250131T120000Z";
  m.policy = "shop";
  m.files = {{"../../etc/passwd", 1, std::string(64, 'a')}};
  CHECK_THROWS_AS(manifest_from_json(to_json(m)), Error);
  m.files = {{"/etc/passwd", 1, std::string(64, 'a')}};
  CHECK_THROWS_AS(manifest_from_json(to_json(m)), Error);
  m.files.clear();
  m.id = "../x";
  CHECK_THROWS_AS(manifest_from_json(to_json(m)), Error);
  CHECK_THROWS_AS(manifest_from_json(nlohmann::json::parse(R"({"format_version": 99})")), Error);
}

TEST_CASE("repository backups: commit makes a private, listed backup with per-file checksums", "[repository]") {
  TempDir dir;
  auto repo = Repository::open(dir.path() / "repo", "local");
  auto t = parse_iso("2025-01-31T12:00:00Z");
  auto b = make_backup(repo, "shop", t, "toc bytes");
  CHECK(b.id == "20250131T120000Z");
  fs::path bdir = b.location;  // the POSIX driver: a folder
  CHECK(bdir == dir.path() / "repo" / "backups" / "shop" / "20250131T120000Z");
  CHECK(mode_of(bdir) == 0700);
  CHECK(mode_of(bdir / "data") == 0700);
  CHECK(mode_of(bdir / "data" / "toc.dat") == 0600);
  CHECK(mode_of(bdir / "manifest.json") == 0600);
  auto m = repo.read_manifest(b);
  REQUIRE(m.files.size() == 2);
  CHECK(m.files[0].path == "data/toc.dat");
  CHECK(m.files[0].size == 9);
  CHECK(m.files[1].path == "globals.sql");
  CHECK(m.id == b.id);
  CHECK(m.policy == "shop");
  auto listed = repo.list();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].bytes == m.bytes());
  CHECK(repo.find("20250131T120000Z").location == b.location);
  CHECK(repo.find("shop/20250131T120000Z").location == b.location);
  CHECK_THROWS_AS(repo.find("20250131T120001Z"), Error);
  CHECK_THROWS_AS(repo.find("../../etc"), Error);
}

TEST_CASE("repository backups: a half-written backup is never listed and is removed when abandoned", "[repository]") {
  TempDir dir;
  auto repo = Repository::open(dir.path(), "local");
  auto t = parse_iso("2025-01-31T12:00:00Z");
  fs::path partial;
  {
    auto pending = repo.begin("shop", t);
    partial = pending.dir();
    write_file_atomic(pending.dir() / "half", "x");
    CHECK(partial.filename().string().rfind(".partial-", 0) == 0);
    CHECK(repo.list().empty());
    CHECK(repo.unfinished("shop") == std::vector<std::string>{partial.string()});
  }  // destroyed without commit
  CHECK_FALSE(fs::exists(partial));
  // What a crash leaves (files but no manifest, or a staging folder) is not a backup either,
  // and the next backup removes it.
  create_private_dirs(dir.path() / "backups" / "shop" / "20250131T130000Z");
  write_file_atomic(dir.path() / "backups" / "shop" / "20250131T130000Z" / "data.dump", "half");
  fs::create_directories(dir.path() / "backups" / "shop" / ".partial-20250131T140000Z");
  CHECK(repo.list().empty());
  CHECK(repo.unfinished("shop").size() == 2);
  repo.remove_unfinished("shop");
  CHECK(repo.unfinished("shop").empty());
  CHECK_FALSE(fs::exists(dir.path() / "backups" / "shop" / "20250131T130000Z"));
}

TEST_CASE("repository backups: ids in the same second get suffixes, and listing is oldest first", "[repository]") {
  TempDir dir;
  auto repo = Repository::open(dir.path(), "local");
  auto t = parse_iso("2025-01-31T12:00:00Z");
  auto a = make_backup(repo, "shop", t, "a");
  auto b = make_backup(repo, "shop", t, "b");
  auto c = make_backup(repo, "other", t - std::chrono::hours(1), "c");
  CHECK(a.id == "20250131T120000Z");
  CHECK(b.id == "20250131T120000Z-01");
  auto all = repo.list();
  REQUIRE(all.size() == 3);
  CHECK(all[0].id == c.id);
  CHECK(repo.list("shop").size() == 2);
  CHECK(repo.find("20250131T110000Z").policy == "other");
  auto d = make_backup(repo, "other", t, "d");  // ids are unique in the repository, not per policy
  CHECK(d.id == "20250131T120000Z-02");
  CHECK(repo.find("20250131T120000Z").policy == "shop");
  CHECK(repo.find("other/20250131T120000Z-02").id == d.id);
  CHECK_THROWS_AS(repo.find("other/20250131T120000Z"), Error);
}

TEST_CASE("repository backups: verify names the damaged, missing and extra files", "[repository]") {
  TempDir dir;
  auto repo = Repository::open(dir.path(), "local");
  auto b = make_backup(repo, "shop", parse_iso("2025-01-31T12:00:00Z"), "0123456789");
  CHECK(repo.verify_files(b).empty());
  std::string fp = repo.fingerprint("shop");
  {
    std::fstream f(fs::path(b.location) / "data" / "toc.dat", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4);
    f.put('X');
  }
  auto p = repo.verify_files(b);
  REQUIRE(p.size() == 1);
  CHECK(p[0].file == "data/toc.dat");
  CHECK(p[0].message.find("SHA-256") != std::string::npos);
  fs::remove(fs::path(b.location) / "globals.sql");
  write_file_atomic(fs::path(b.location) / "data" / "extra.dat", "?");
  p = repo.verify_files(b);
  REQUIRE(p.size() == 3);
  CHECK(p[1].file == "globals.sql");
  CHECK(p[1].message == "missing");
  CHECK(p[2].file == "data/extra.dat");
  CHECK(repo.fingerprint("shop") == fp);  // files are not part of the fingerprint; the manifest is
}

TEST_CASE("repository backups: verification is recorded and changes the fingerprint, and remove unlists", "[repository]") {
  TempDir dir;
  auto repo = Repository::open(dir.path(), "local");
  auto b = make_backup(repo, "shop", parse_iso("2025-01-31T12:00:00Z"), "x");
  std::string before = repo.fingerprint("shop");
  Verification v;
  v.verified_at = "2025-02-01T00:00:00Z";
  v.drill_run = "b-123";
  repo.write_verification(b, v);
  CHECK(repo.read_verification(b) == v);
  CHECK(repo.list()[0].verified_at == "2025-02-01T00:00:00Z");
  CHECK(repo.fingerprint("shop") != before);
  CHECK(repo.verify_files(b).empty());  // verification.json is not a backup file
  repo.remove(b);
  CHECK(repo.list().empty());
  CHECK_FALSE(fs::exists(b.location));
  CHECK(repo.unfinished("shop").empty());
  CHECK_FALSE(fs::exists(dir.path() / "backups" / "shop" / "20250131T120000Z"));
}

TEST_CASE("repository layout: policies cannot reach wal/ or leave the repository", "[repository]") {
  TempDir dir;
  auto repo = Repository::open(dir.path(), "local");
  CHECK(Repository::backup_prefix("wal", "20250131T120000Z") == "backups/wal/20250131T120000Z/");
  CHECK_THROWS_AS(Repository::backup_prefix("../wal", "20250131T120000Z"), Error);
  CHECK_THROWS_AS(Repository::backup_prefix("shop", "../../x"), Error);
  CHECK_THROWS_AS(Repository::open("relative/path"), Error);
}
