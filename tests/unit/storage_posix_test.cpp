// The storage interface on its POSIX driver: nothing is visible before commit, an exclusive
// write never replaces, byte ranges, listing by prefix hides the driver's own files, staging
// folders become objects in one commit or vanish, removal of a folder is all or nothing.
#include <ctime>
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "storage/posix/posix.hpp"
#include "storage/storage.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

using namespace pgr;

namespace {

std::string read_range(const storage::Storage& s, const std::string& key, std::uint64_t off,
                       std::optional<std::uint64_t> len = std::nullopt) {
  auto r = s.open(key, off, len);
  std::string out;
  char buf[3];  // small on purpose: many reads
  for (std::size_t n; (n = r->read(buf, sizeof buf)) > 0;) out.append(buf, n);
  return out;
}

int files_in(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) ++n;
  return n;
}

}  // namespace

TEST_CASE("storage posix: a write is invisible until commit and leaves nothing when dropped", "[storage]") {
  TempDir dir;
  auto s = storage::open({"posix", dir.path() / "repo"}, "local", true);
  {
    auto w = s->create("wal/main/a");
    w->write("hello ");
    CHECK_FALSE(s->stat("wal/main/a"));
    CHECK(s->list("wal/").empty());  // the temporary file is the driver's own
  }  // dropped without commit
  CHECK(files_in(dir.path() / "repo") == 0);
  CHECK(storage::put(*s, "wal/main/a", "hello world"));
  REQUIRE(s->stat("wal/main/a"));
  CHECK(s->stat("wal/main/a")->size == 11);
  struct stat st {};
  REQUIRE(::stat((dir.path() / "repo" / "wal" / "main" / "a").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(*storage::get(*s, "wal/main/a") == "hello world");
  CHECK_FALSE(storage::get(*s, "wal/main/b"));
  CHECK_THROWS_AS(s->open("wal/main/b"), Error);
  std::uint64_t size = 0;
  CHECK(storage::sha256(*s, "wal/main/a", &size) == sha256_hex("hello world"));
  CHECK(size == 11);
}

TEST_CASE("storage posix: exclusive writes never replace, plain writes replace whole", "[storage]") {
  TempDir dir;
  auto s = storage::open({"posix", dir.path()}, "local", true);
  CHECK(storage::put(*s, "k/x", "one", {true}));
  CHECK_FALSE(storage::put(*s, "k/x", "two", {true}));
  CHECK(*storage::get(*s, "k/x") == "one");
  CHECK(storage::put(*s, "k/x", "three"));
  CHECK(*storage::get(*s, "k/x") == "three");
  CHECK(files_in(dir.path()) == 1);
}

TEST_CASE("storage posix: byte ranges and a short object", "[storage]") {
  TempDir dir;
  auto s = storage::open({"posix", dir.path()}, "local", true);
  storage::put(*s, "f", "0123456789");
  CHECK(read_range(*s, "f", 0) == "0123456789");
  CHECK(read_range(*s, "f", 3, 4) == "3456");
  CHECK(read_range(*s, "f", 7) == "789");
  CHECK(read_range(*s, "f", 10) == "");
  CHECK_THROWS_AS(read_range(*s, "f", 8, 5), Error);  // asks for more than there is
  CHECK_THROWS_AS(s->open("f", 11), Error);
}

TEST_CASE("storage posix: list by prefix, sorted, without hidden names, keys cannot leave the root", "[storage]") {
  TempDir dir;
  auto s = storage::open({"posix", dir.path()}, "local", true);
  storage::put(*s, "backups/shop/1/data.dump", "a");
  storage::put(*s, "backups/shop/1/manifest.json", "bb");
  storage::put(*s, "backups/shop2/1/x", "c");
  storage::put(*s, "wal/main/000000010000000000000001", "d");
  fs::create_directories(dir.path() / "backups" / "shop" / ".partial-2");
  write_file_atomic(dir.path() / "backups" / "shop" / ".partial-2" / "half", "x");
  auto l = s->list("backups/shop/");
  REQUIRE(l.size() == 2);
  CHECK(l[0].key == "backups/shop/1/data.dump");
  CHECK(l[0].size == 1);
  CHECK(l[1].key == "backups/shop/1/manifest.json");
  CHECK(l[1].size == 2);
  CHECK(l[1].modified > 1.7e9);  // the file's modification time, seconds since the epoch
  CHECK(s->list("backups/shop").size() == 3);  // a plain prefix, not a folder
  CHECK(s->list("backups/").size() == 3);
  CHECK(s->list("nothing/").empty());
  CHECK(s->stale_staging("backups/shop/").size() == 1);
  s->clean_stale_staging("backups/shop/");
  CHECK(s->stale_staging("backups/shop/").empty());
  for (const char* bad : {"../x", "a/../b", "/etc/passwd", "a//b", ".hidden", "a/.tmp", ""}) {
    INFO(bad);
    CHECK_THROWS_AS(storage::put(*s, bad, "x"), Error);
  }
}

TEST_CASE("storage posix: a staging folder becomes objects in one commit, or vanishes", "[storage]") {
  TempDir dir;
  auto s = storage::open({"posix", dir.path()}, "local", true);
  fs::path staged;
  {
    auto st = s->stage("backups/shop/20250101T000000Z/");
    staged = st->dir();
    create_private_dirs(st->dir() / "data");
    write_file_atomic(st->dir() / "data" / "toc.dat", "toc");
    CHECK(s->list("backups/").empty());
  }
  CHECK_FALSE(fs::exists(staged));
  auto st = s->stage("backups/shop/20250101T000000Z/");
  write_file_atomic(st->dir() / "data.dump", "dump");
  st->commit();
  auto listed = s->list("backups/");
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].key == "backups/shop/20250101T000000Z/data.dump");
  CHECK(listed[0].size == 4);
  // the modification time is the commit's (check and PITR plans read archive times from it)
  auto now = static_cast<double>(std::time(nullptr));
  CHECK(listed[0].modified > now - 60);
  CHECK(listed[0].modified < now + 60);
  CHECK(s->stat(listed[0].key)->modified == listed[0].modified);
  s->remove_all("backups/shop/20250101T000000Z/");
  CHECK(s->list("backups/").empty());
  CHECK_FALSE(fs::exists(dir.path() / "backups" / "shop" / "20250101T000000Z"));
}

TEST_CASE("storage: a copy staging stores every file through the driver's writes", "[storage]") {
  TempDir dir, tmp;
  auto s = storage::open({"posix", dir.path()}, "local", true);
  auto st = storage::copy_staging(*s, "backups/p/1/", tmp.path());
  create_private_dirs(st->dir() / "data");
  write_file_atomic(st->dir() / "data" / "1.dat", "rows");
  write_file_atomic(st->dir() / "globals.sql", "roles");
  st->commit();
  auto l = s->list("backups/p/1/");
  REQUIRE(l.size() == 2);
  CHECK(l[0].key == "backups/p/1/data/1.dat");
  CHECK(*storage::get(*s, "backups/p/1/globals.sql") == "roles");
}
