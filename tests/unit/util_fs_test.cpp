#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/tree_sync.hpp"

using namespace pgr;

TEST_CASE("write_file_atomic creates the file 0600 and leaves no temp file", "[fs]") {
  TempDir dir;
  auto target = dir.path() / "state.json";
  write_file_atomic(target, "{\"a\":1}");
  CHECK(read_file(target) == "{\"a\":1}");
  struct stat st {};
  REQUIRE(::stat(target.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("an AtomicFile that is not committed leaves the old content", "[fs]") {
  TempDir dir;
  auto target = dir.path() / "f";
  write_file_atomic(target, "old");
  {
    AtomicFile f(target);
    f.write("new, half written");
    // destroyed without commit(): as if the process died
  }
  CHECK(read_file(target) == "old");
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("create_private_dirs makes 0700 folders", "[fs]") {
  TempDir dir;
  auto deep = dir.path() / "a" / "b" / "c";
  create_private_dirs(deep);
  struct stat st {};
  REQUIRE(::stat((dir.path() / "a").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat(deep.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("read_file of a missing file names it", "[fs]") {
  try {
    read_file("/nonexistent/pgrecover/file");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("/nonexistent/pgrecover/file") != std::string::npos);
    CHECK(e.kind() == ErrorKind::io);
  }
}

TEST_CASE("sha256 matches known vectors, for strings and files", "[hash]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  TempDir dir;
  write_file_atomic(dir.path() / "x", "abc");
  std::uint64_t bytes = 0;
  CHECK(sha256_file(dir.path() / "x", &bytes) == sha256_hex("abc"));
  CHECK(bytes == 3);
}

TEST_CASE("TempDir removes its folder", "[fs]") {
  fs::path p;
  {
    TempDir d;
    p = d.path();
    write_file_atomic(p / "inner", "x");
    CHECK(fs::exists(p));
  }
  CHECK_FALSE(fs::exists(p));
}

TEST_CASE("TreeSync opened before the tree is written syncs it in one call and names a missing root", "[fs]") {
  TempDir dir;
  TreeSync sync(dir.path());
  create_private_dirs(dir.path() / "base" / "1");
  write_file_atomic(dir.path() / "base" / "1" / "1259", std::string(1 << 16, 'x'));
  CHECK_NOTHROW(sync.sync());
  CHECK(std::string(sync.method()) == (syncfs_reports_errors() ? "syncfs" : "fsync per file"));
  if (syncfs_reports_errors()) {
    try {
      TreeSync missing(dir.path() / "absent");
      FAIL("a TreeSync of a missing folder was opened");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find("absent") != std::string::npos);
    }
  }
}
