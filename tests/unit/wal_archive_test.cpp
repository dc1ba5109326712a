#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fmt/format.h>

#include "repository/wal_archive.hpp"
#include "repository/wal_view.hpp"
#include "support/harness.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace pgr;
using namespace pgr::repository;

namespace {

constexpr std::uint64_t kSeg = 16ULL << 20;

// A fake segment: deterministic, partly compressible content (16 MiB like a real one).
std::string segment_content(int seed, std::size_t size = kSeg) {
  std::string s(size, '\0');
  std::uint32_t x = 2463534242u + static_cast<std::uint32_t>(seed);
  for (std::size_t i = 0; i < size; i += 64) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    std::memcpy(&s[i], &x, sizeof x);
  }
  return s;
}

fs::path write_source(const TempDir& d, const std::string& name, const std::string& content) {
  auto p = d.path() / "pg_wal" / name;
  fs::create_directories(p.parent_path());
  write_file_atomic(p, content);
  return p;
}

int files_in(const fs::path& dir) {
  int n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("WAL file names: only the shapes PostgreSQL archives are accepted", "[wal]") {
  CHECK(classify_wal_name("000000010000000000000003") == WalFileKind::segment);
  CHECK(classify_wal_name("00000002.history") == WalFileKind::history);
  CHECK(classify_wal_name("000000010000000000000002.00000028.backup") == WalFileKind::backup_label);
  CHECK(classify_wal_name("000000010000000000000005.partial") == WalFileKind::partial);
  for (const char* bad : {"", "00000001000000000000000", "0000000100000000000000003", "00000001000000000000000g",
                          "000000010000000000000003/..", "../000000010000000000000003", "0000000100000000000000a3",
                          "00000002.History", "2.history", "000000010000000000000005.partial.gz", ".", "..",
                          "/etc/passwd", "000000010000000000000002.28.backup"}) {
    INFO(bad);
    CHECK_FALSE(classify_wal_name(bad).has_value());
  }
}

TEST_CASE("LSNs and segment names convert like PostgreSQL's", "[wal]") {
  CHECK(parse_lsn("0/3000060") == 0x3000060ULL);
  CHECK(parse_lsn("1A/FF000028") == 0x1AFF000028ULL);
  CHECK(format_lsn(0x1AFF000028ULL) == "1A/FF000028");
  CHECK_THROWS_AS(parse_lsn("3000060"), Error);
  CHECK_THROWS_AS(parse_lsn("0/xyz"), Error);
  CHECK(segment_name(1, segment_number(0x3000060, kSeg), kSeg) == "000000010000000000000003");
  CHECK(segment_name(2, segment_number(0x1AFF000028ULL, kSeg), kSeg) == "000000020000001A000000FF");
  std::uint32_t tli = 0;
  std::uint64_t segno = 0;
  REQUIRE(parse_segment_name("000000020000001A000000FF", kSeg, tli, segno));
  CHECK(tli == 2);
  CHECK(segno == segment_number(0x1AFF000028ULL, kSeg));
  // 64 MiB segments: 64 per "xlogid"
  CHECK(segment_name(1, 65, 64ULL << 20) == "000000010000000100000001");
}

TEST_CASE("wal push stores a segment privately, and again succeeds for the same content", "[wal]") {
  TempDir repo, src;
  WalArchive archive(repo.path(), "main");
  auto seg = write_source(src, "000000010000000000000001", segment_content(1));
  CHECK(archive.push(seg) == WalArchive::PushResult::stored);
  auto stored = (repo.path() / "wal" / "main") / "000000010000000000000001";
  CHECK(read_file(stored) == segment_content(1));
  struct stat st {};
  REQUIRE(::stat(stored.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((repo.path() / "wal" / "main").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(archive.push(seg) == WalArchive::PushResult::already_present);
  CHECK(files_in((repo.path() / "wal" / "main")) == 1);  // no temporary files left behind
}

TEST_CASE("wal push refuses to overwrite a segment with different content", "[wal]") {
  TempDir repo, src, other;
  WalArchive archive(repo.path(), "main");
  archive.push(write_source(src, "000000010000000000000001", segment_content(1)));
  auto different = write_source(other, "000000010000000000000001", segment_content(2));
  try {
    archive.push(different);
    FAIL("a conflicting push succeeded");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("different content") != std::string::npos);
  }
  CHECK(read_file((repo.path() / "wal" / "main") / "000000010000000000000001") == segment_content(1));
  // also when the first copy was stored compressed
  WalArchive zarchive(repo.path(), "zmain");
  zarchive.push(write_source(src, "000000010000000000000002", segment_content(3)), WalCompression::zstd);
  CHECK_THROWS_AS(zarchive.push(write_source(other, "000000010000000000000002", segment_content(4))), Error);
  CHECK(zarchive.push(write_source(other, "000000010000000000000002", segment_content(3))) ==
        WalArchive::PushResult::already_present);
}

TEST_CASE("wal push rejects names that are not WAL files and cluster names that are paths", "[wal]") {
  TempDir repo, src;
  WalArchive archive(repo.path(), "main");
  CHECK_THROWS_AS(archive.push(write_source(src, "postgresql.conf", "x")), Error);
  CHECK_THROWS_AS(archive.fetch("../../etc/passwd", src.path() / "out"), Error);
  CHECK_THROWS_AS(WalArchive(repo.path(), "../other"), Error);
  CHECK_THROWS_AS(WalArchive(repo.path(), "a/b"), Error);
  CHECK_THROWS_AS(WalArchive(repo.path(), ".hidden"), Error);
  CHECK_FALSE(fs::exists((repo.path() / "wal" / "main")));
}

TEST_CASE("wal fetch of a missing file says so and compressed files round-trip", "[wal]") {
  TempDir repo, src, dest;
  WalArchive archive(repo.path(), "main");
  CHECK_FALSE(archive.fetch("000000010000000000000009", dest.path() / "RECOVERYXLOG"));
  CHECK_FALSE(fs::exists(dest.path() / "RECOVERYXLOG"));
  std::string content = segment_content(5);
  archive.push(write_source(src, "000000010000000000000004", content), WalCompression::gzip);
  archive.push(write_source(src, "000000010000000000000005", content), WalCompression::zstd);
  archive.push(write_source(src, "00000002.history", "1\t0/5000000\tno recovery target specified\n"),
               WalCompression::gzip);
  CHECK(fs::exists((repo.path() / "wal" / "main") / "000000010000000000000004.gz"));
  CHECK(fs::exists((repo.path() / "wal" / "main") / "000000010000000000000005.zst"));
  CHECK(fs::file_size((repo.path() / "wal" / "main") / "000000010000000000000005.zst") < content.size() / 2);
  for (const char* name : {"000000010000000000000004", "000000010000000000000005"}) {
    REQUIRE(archive.fetch(name, dest.path() / "RECOVERYXLOG"));
    CHECK(read_file(dest.path() / "RECOVERYXLOG") == content);
  }
  REQUIRE(archive.fetch("00000002.history", dest.path() / "RECOVERYHISTORY"));
  CHECK(read_file(dest.path() / "RECOVERYHISTORY") == "1\t0/5000000\tno recovery target specified\n");
  CHECK(files_in(dest.path()) == 2);
  auto entries = archive.list();
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].name == "000000010000000000000004");
  CHECK(entries[0].compression == WalCompression::gzip);
  CHECK(entries[2].kind == WalFileKind::history);
}

TEST_CASE("continuity: missing segments are named, timeline switches are followed", "[wal]") {
  TempDir repo, src;
  WalArchive archive(repo.path(), "main");
  std::string small = "not a real segment";
  for (const char* n : {"000000010000000000000002", "000000010000000000000003", "000000010000000000000005",
                        "000000010000000000000006", "000000020000000000000006", "000000020000000000000007"}) {
    archive.push(write_source(src, n, small + n));
  }
  // to a known end on timeline 1: segment 4 is missing
  auto c = check_continuity(archive, 1, 0x2000028, 0x6000100, "current", kSeg);
  CHECK(c.segments_checked == 5);
  CHECK(c.first_segment == "000000010000000000000002");
  CHECK(c.last_segment == "000000010000000000000006");
  REQUIRE(c.missing == std::vector<std::string>{"000000010000000000000004"});
  // up to segment 3 everything is there
  CHECK(check_continuity(archive, 1, 0x2000028, 0x3FFFFFF, "current", kSeg).ok());
  // timeline 2 without its history file cannot be followed
  auto no_history = check_continuity(archive, 1, 0x2000028, 0x7000000, "2", kSeg);
  CHECK(no_history.missing == std::vector<std::string>{"00000002.history"});
  archive.push(write_source(src, "00000002.history", "1\t0/6800000\tbefore 2024-01-01\n"));
  // latest: timeline 2 from 0/6800000; segment 6 exists on both, 7 only on 2; 4 still missing
  auto latest = check_continuity(archive, 1, 0x5000000, std::nullopt, "latest", kSeg);
  CHECK(latest.target_timeline == 2);
  CHECK(latest.ok());
  CHECK(latest.last_segment == "000000020000000000000007");
  auto gap = check_continuity(archive, 1, 0x2000028, std::nullopt, "latest", kSeg);
  CHECK(gap.missing == std::vector<std::string>{"000000010000000000000004"});
  // to an end past the archive on the new timeline
  auto past = check_continuity(archive, 1, 0x5000000, 0x9000000, "latest", kSeg);
  CHECK(past.missing == std::vector<std::string>{"000000020000000000000008", "000000020000000000000009"});
}

TEST_CASE("unarchived WAL: what pg_wal holds and the archive lacks, without recycled future segments", "[wal]") {
  TempDir repo, src, old;
  WalArchive archive(repo.path(), "main");
  archive.push(write_source(src, "000000010000000000000002", "two"));
  auto pg_wal = old.path() / "pg_wal";
  fs::create_directories(pg_wal / "archive_status");
  // written in this order: 2 (archived), 3 (never archived), 4 (the last written, never archived);
  // 9 is a recycled segment with an older mtime: a future name, not history.
  auto put = [&](const std::string& name, std::time_t mtime) {
    write_file_atomic(pg_wal / name, "x" + name);
    fs::last_write_time(pg_wal / name, fs::file_time_type::clock::now() - std::chrono::seconds(std::time(nullptr) - mtime));
  };
  std::time_t t = std::time(nullptr) - 100;
  put("000000010000000000000009", t);
  put("000000010000000000000002", t + 10);
  put("000000010000000000000003", t + 20);
  put("000000010000000000000004", t + 30);
  put("00000001.history", t + 5);
  put("000000010000000000000004.partial", t + 40);
  CHECK(unarchived_wal(archive, pg_wal) ==
        std::vector<std::string>{"00000001.history", "000000010000000000000003", "000000010000000000000004"});
  CHECK(unarchived_wal(archive, old.path() / "absent").empty());
}

TEST_CASE("remove_before deletes old segments on every timeline and keeps history files", "[wal]") {
  TempDir repo, src;
  WalArchive archive(repo.path(), "main");
  for (const char* n : {"000000010000000000000002", "000000010000000000000003", "000000020000000000000003",
                        "000000010000000000000003.00000028.backup", "000000020000000000000004", "00000002.history"}) {
    archive.push(write_source(src, n, n));
  }
  auto removed = archive.remove_before(4, kSeg);
  CHECK(removed.size() == 4);
  auto left = archive.list();
  REQUIRE(left.size() == 2);
  CHECK(left[0].name == "00000002.history");  // sorted by name: '.' before '0'
  CHECK(left[1].name == "000000020000000000000004");
}

TEST_CASE("the wal commands: push and fetch through the binary, missing fetch exits 1", "[wal][cli]") {
  TempDir dir, src;
  auto config = dir.path() / "pgrecover.toml";
  write_file_atomic(config, fmt::format("[repositories.r]\npath = \"{}\"\n", (dir.path() / "repo").string()));
  auto seg = write_source(src, "000000010000000000000001", segment_content(7, 1 << 20));
  auto push = test::run_pgrecover({"--config", config.string(), "wal", "push", seg.string(), "--repository", "r",
                                   "--cluster", "c1", "--compress", "zstd"});
  REQUIRE(push.exit_code == 0);
  auto again = test::run_pgrecover({"--config", config.string(), "wal", "push", seg.string(), "--repository", "r",
                                    "--cluster", "c1"});
  CHECK(again.exit_code == 0);
  write_file_atomic(seg, segment_content(8, 1 << 20));
  auto conflict = test::run_pgrecover({"--config", config.string(), "wal", "push", seg.string(), "--repository", "r",
                                       "--cluster", "c1"});
  CHECK(conflict.exit_code == 1);
  CHECK(conflict.err.find("different content") != std::string::npos);
  auto fetched = dir.path() / "RECOVERYXLOG";
  auto fetch = test::run_pgrecover({"--config", config.string(), "wal", "fetch", "000000010000000000000001",
                                    fetched.string(), "--repository", "r", "--cluster", "c1"});
  REQUIRE(fetch.exit_code == 0);
  CHECK(read_file(fetched) == segment_content(7, 1 << 20));
  auto missing = test::run_pgrecover({"--config", config.string(), "wal", "fetch", "000000010000000000000002",
                                      (dir.path() / "x").string(), "--repository", "r", "--cluster", "c1"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("000000010000000000000002") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path() / "x"));
  auto unknown = test::run_pgrecover({"--config", config.string(), "wal", "fetch", "000000010000000000000001",
                                      (dir.path() / "y").string(), "--repository", "nope", "--cluster", "c1"});
  CHECK(unknown.exit_code == 1);
}
