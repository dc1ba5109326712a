// Pieces of physical backups and PITR that need no server: extracting pg_basebackup's tar files
// (hostile member names refused), reading pg_basebackup's manifest, and explaining from a server
// log where recovery stopped.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>

#include <fmt/format.h>

#include "executor/pitr_runner.hpp"
#include "repository/file_writer.hpp"
#include "repository/physical.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

using namespace pgr;

namespace {

// One ustar member as PostgreSQL's tarCreateHeader writes it.
std::string tar_member(const std::string& name, const std::string& content, char type = '0',
                       const std::string& link = "") {
  std::string h(512, '\0');
  std::memcpy(&h[0], name.data(), std::min<std::size_t>(name.size(), 100));
  std::memcpy(&h[100], "0000600", 7);
  std::memcpy(&h[108], "0000000", 7);
  std::memcpy(&h[116], "0000000", 7);
  std::string size = fmt::format("{:011o}", content.size());
  std::memcpy(&h[124], size.data(), 11);
  std::memcpy(&h[136], "00000000000", 11);
  h[156] = type;
  std::memcpy(&h[157], link.data(), std::min<std::size_t>(link.size(), 100));
  std::memcpy(&h[257], "ustar\0" "00", 8);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::string chk = fmt::format("{:06o}", sum);
  std::memcpy(&h[148], chk.data(), 6);
  h[154] = '\0';
  std::string body = content;
  body.resize((content.size() + 511) / 512 * 512, '\0');
  return h + body;
}

std::string tar_end() { return std::string(1024, '\0'); }

std::string gzip(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

TEST_CASE("pitr: a base.tar.gz extracts into a private data directory", "[pitr]") {
  TempDir dir;
  std::string big(70000, 'x');
  write_file_atomic(dir.path() / "base.tar.gz",
                    gzip(tar_member("PG_VERSION", "15\n") + tar_member("base/", "", '5') + tar_member("base/1/", "", '5') +
                         tar_member("base/1/1259", big) + tar_member("backup_label", "START WAL LOCATION: 0/2000028\n") +
                         tar_end()));
  CHECK(repository::find_tar(dir.path(), "base") == "base.tar.gz");
  CHECK(repository::find_tar(dir.path(), "pg_wal").empty());
  auto stats = repository::extract_tar(dir.path() / "base.tar.gz", dir.path() / "data");
  CHECK(stats.files == 3);
  CHECK(stats.bytes == big.size() + 3 + 30);
  CHECK(read_file(dir.path() / "data" / "base" / "1" / "1259") == big);
  CHECK((fs::status(dir.path() / "data" / "base").permissions() & fs::perms::all) == fs::perms::owner_all);
  CHECK((fs::status(dir.path() / "data" / "PG_VERSION").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(repository::read_tar_member(dir.path() / "base.tar.gz", "backup_label") == "START WAL LOCATION: 0/2000028\n");
  CHECK_THROWS_AS(repository::read_tar_member(dir.path() / "base.tar.gz", "nope"), Error);
}

TEST_CASE("pitr: tar members that would leave the data directory, links and damage are refused", "[pitr]") {
  TempDir dir;
  for (const auto& [name, tar] : std::vector<std::pair<std::string, std::string>>{
           {"dotdot", tar_member("base/../../escape", "x")},
           {"absolute", tar_member("/tmp/escape", "x")},
           {"symlink", tar_member("pg_tblspc/16384", "", '2', "/elsewhere")},
           {"device", tar_member("dev", "", '3')}}) {
    INFO(name);
    fs::path file = dir.path() / (name + ".tar");
    write_file_atomic(file, tar + tar_end());
    CHECK_THROWS_AS(repository::extract_tar(file, dir.path() / name), Error);
  }
  CHECK_FALSE(fs::exists(dir.path() / "escape"));
  CHECK_FALSE(fs::exists(dir.path().parent_path() / "escape"));
  // a header whose checksum does not match
  std::string bad = tar_member("PG_VERSION", "15\n");
  bad[0] = 'Q';
  write_file_atomic(dir.path() / "bad.tar", bad + tar_end());
  CHECK_THROWS_AS(repository::extract_tar(dir.path() / "bad.tar", dir.path() / "bad"), Error);
  // truncated in the middle of a member
  write_file_atomic(dir.path() / "short.tar", tar_member("f", std::string(5000, 'y')).substr(0, 2000));
  CHECK_THROWS_AS(repository::extract_tar(dir.path() / "short.tar", dir.path() / "short"), Error);
}

TEST_CASE("pitr: extraction checks every file against backup_manifest's SHA-256 while writing it", "[pitr]") {
  TempDir dir;
  // 11 MiB: more than the read-ahead's 8 MiB of buffers, so chunks are handed back and reused
  std::string big(11 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  write_file_atomic(dir.path() / "base.tar.gz", gzip(tar_member("PG_VERSION", "15\n") + tar_member("base/1/", "", '5') +
                                                     tar_member("base/1/1259", big) + tar_end()));
  auto sha = [](const std::string& s) {
    Sha256 h;
    h.update(s);
    return h.hex();
  };
  auto manifest = [&](const std::string& big_sum, bool extra_file) {
    return fmt::format(R"({{"PostgreSQL-Backup-Manifest-Version": 1, "Files": [
        {{"Path": "PG_VERSION", "Size": 3, "Checksum-Algorithm": "SHA256", "Checksum": "{}"}},
        {{"Path": "base/1/1259", "Size": {}, "Checksum-Algorithm": "SHA256", "Checksum": "{}"}}{}],
        "WAL-Ranges": []}})",
                       sha("15\n"), big.size(), big_sum,
                       extra_file ? R"(, {"Path": "global/1262", "Size": 0, "Checksum-Algorithm": "NONE"})" : "");
  };
  {
    auto sums = repository::ManifestChecksums::parse(manifest(sha(big), false));
    repository::ExtractOptions o;
    o.checksums = &sums;
    o.early_writeback = true;
    auto stats = repository::extract_tar(dir.path() / "base.tar.gz", dir.path() / "good", o);
    CHECK(stats.files == 2);
    CHECK(read_file(dir.path() / "good" / "base" / "1" / "1259") == big);
    CHECK(sums.verified == 2);
    CHECK(sums.all_verified());  // pg_verifybackup may skip its own checksum pass
  }
  {
    // a file the manifest lists that the tar does not hold (or holds without a checksum):
    // pg_verifybackup must still check the checksums
    auto sums = repository::ManifestChecksums::parse(manifest(sha(big), true));
    repository::ExtractOptions o;
    o.checksums = &sums;
    repository::extract_tar(dir.path() / "base.tar.gz", dir.path() / "extra", o);
    CHECK(sums.verified == 2);
    CHECK_FALSE(sums.all_verified());
  }
  {
    // one byte of base/1/1259 differs from what pg_basebackup recorded: the extraction fails,
    // naming the file
    std::string other = big;
    other[5 << 20] ^= 1;
    auto sums = repository::ManifestChecksums::parse(manifest(sha(other), false));
    repository::ExtractOptions o;
    o.checksums = &sums;
    try {
      repository::extract_tar(dir.path() / "base.tar.gz", dir.path() / "bad", o);
      FAIL("a file that does not match backup_manifest was extracted without an error");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::archive);
      CHECK_THAT(e.what(), Catch::Contains("\"base/1/1259\" does not match pg_basebackup's backup_manifest"));
    }
  }
  CHECK_THROWS_AS(repository::ManifestChecksums::parse("{\"Files\": 3}"), Error);
}

TEST_CASE("pitr: pg_basebackup's manifest gives the WAL range", "[pitr]") {
  auto ranges = repository::backup_manifest_wal_ranges(
      R"({"PostgreSQL-Backup-Manifest-Version": 1, "Files": [],
          "WAL-Ranges": [{"Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100"}],
          "Manifest-Checksum": "x"})");
  REQUIRE(ranges.size() == 1);
  CHECK(ranges[0].timeline == 1);
  CHECK(ranges[0].start == 0x2000028);
  CHECK(ranges[0].end == 0x2000100);
  CHECK_THROWS_AS(repository::backup_manifest_wal_ranges("{\"WAL-Ranges\": []}"), Error);
  CHECK_THROWS_AS(repository::backup_manifest_wal_ranges("not json"), Error);
}

TEST_CASE("pitr: the server log explains where recovery stopped", "[pitr]") {
  std::string ended = R"(LOG:  starting point-in-time recovery to 2999-01-01 00:00:00+00
LOG:  restored log file "000000010000000000000002" from archive
LOG:  redo starts at 0/2000028
LOG:  restored log file "000000010000000000000003" from archive
pgrecover: 000000010000000000000004 is not in the archive of cluster "src"
LOG:  redo done at 0/300DD28 system usage: CPU: user: 0.00 s
LOG:  last completed transaction was at log time 2026-11-21 03:17:38.887621+00
FATAL:  recovery ended before configured recovery target was reached
)";
  std::string why = executor::diagnose_recovery_log(ended);
  CHECK(why.find("recovery ended before the configured target was reached") != std::string::npos);
  CHECK(why.find("replay stopped at 0/300DD28") != std::string::npos);
  CHECK(why.find("the next segment (000000010000000000000004) was not in the archive") != std::string::npos);
  CHECK(why.find("2026-11-21 03:17:38.887621+00") != std::string::npos);

  std::string reached = R"(LOG:  restored log file "000000010000000000000003" from archive
LOG:  recovery stopping at restore point "before_drop", time 2026-11-21 03:17:38.9+00
LOG:  pausing at the end of recovery
)";
  why = executor::diagnose_recovery_log(reached);
  CHECK(why.find("recovery stopping at restore point \"before_drop\"") != std::string::npos);
  CHECK(why.find("was not in the archive") == std::string::npos);
  CHECK(executor::diagnose_recovery_log("LOG:  database system is ready\n").empty());
  CHECK(executor::diagnose_recovery_log("FATAL:  requested recovery stop point is before consistent recovery point\n")
            .find("inside the base backup") != std::string::npos);
}

TEST_CASE("the extract's writer thread writes chunks in order and reports a write error naming the file", "[pitr]") {
  TempDir dir;
  fs::path good = dir.path() / "good";
  fs::path bad = dir.path() / "bad";
  {
    repository::FileWriter w(/*early_writeback=*/true);
    int fd = ::open(good.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    for (char c : {'a', 'b', 'c'}) {
      auto buf = w.acquire();
      std::memset(buf.data(), c, 10);
      w.write(fd, good, std::move(buf), 10, c == 'c');
    }
    w.finish();
  }
  CHECK(read_file(good) == std::string(10, 'a') + std::string(10, 'b') + std::string(10, 'c'));

  write_file_atomic(bad, "");
  repository::FileWriter w(false);
  int fd = ::open(bad.c_str(), O_RDONLY | O_CLOEXEC);  // writes fail (EBADF)
  REQUIRE(fd >= 0);
  auto buf = w.acquire();
  w.write(fd, bad, std::move(buf), 10, true);
  try {
    w.finish();
    FAIL("a failed write was not reported");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(bad.string()) != std::string::npos);
  }
}
