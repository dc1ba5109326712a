// Damaged and hostile archives: traversal names, truncations, absurd lengths, unknown versions,
// flipped bytes, missing files, and the fuzzer's regression corpus. Each must end in a
// pgr::Error(archive) with a message, never a crash, a hang or a huge allocation.
#include <catch2/catch.hpp>

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "archive/archive.hpp"
#include "support/archive_writer.hpp"
#include "support/harness.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace pgr;
using archive::Compression;
namespace w = pgr::test::writer;

namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

// Opens the archive and reads every data stream; returns the error message ("" if it all worked).
std::string open_and_read_all(const std::filesystem::path& p) {
  return error_of([&] {
    auto a = archive::Archive::open(p);
    for (const auto& e : a->toc().entries) {
      if (e.data.kind == archive::DataLocation::Kind::none) continue;
      if (e.desc == "BLOBS") {
        a->for_each_blob(e, [](std::uint32_t, archive::BlobStream& s) {
          char buf[4096];
          while (s.read(buf, sizeof buf) > 0) {
          }
        });
      } else {
        std::string row;
        auto r = a->open_data(e);
        while (r->next_row(row)) {
        }
      }
    }
  });
}

std::string toc_only(const w::Options& o, int fmt) {
  return w::header(o, fmt) + w::toc(w::sample_entries(), o, [&](const w::Entry& e) {
           return w::str_bytes(e.data ? std::to_string(e.id) + ".dat" : std::string(), o.int_size);
         });
}

}  // namespace

TEST_CASE("archive: data file names outside the archive folder are refused", "[archive][hostile]") {
  TempDir tmp;
  for (const std::string& bad : std::vector<std::string>{"../../etc/passwd", "/etc/passwd", "sub/../../x", "..", "a/b.dat",
                                                        std::string("x\0y", 3)}) {
    auto entries = w::sample_entries();
    entries[2].file = bad;
    auto dir = tmp.path() / "d";
    std::filesystem::remove_all(dir);
    w::directory_archive(dir, entries, w::Options{});
    std::string msg = error_of([&] { archive::Archive::open(dir); });
    INFO(msg);
    CHECK(msg.find("entry 3340 (TABLE DATA public.orders)") != std::string::npos);
    CHECK(msg.find("outside the archive folder") != std::string::npos);
    CHECK(msg.find("byte ") != std::string::npos);
  }
}

TEST_CASE("archive: large-object lists naming files outside the folder are refused", "[archive][hostile]") {
  TempDir tmp;
  auto dir = tmp.path() / "d";
  w::directory_archive(dir, w::sample_entries(), w::Options{});
  w::write_file(dir / "blobs_3341.toc", "16400 ../../../etc/passwd\n");
  std::string msg = error_of([&] { archive::Archive::open(dir); });
  CHECK(msg.find("outside the archive folder") != std::string::npos);
  CHECK(msg.find("entry 3341") != std::string::npos);
  w::write_file(dir / "blobs_3341.toc", "not a line\n");
  CHECK(error_of([&] { archive::Archive::open(dir); }).find("line 1") != std::string::npos);
}

TEST_CASE("archive: a symlinked data file is refused", "[archive][hostile]") {
  TempDir tmp;
  auto dir = tmp.path() / "d";
  w::directory_archive(dir, w::sample_entries(), w::Options{});
  std::filesystem::remove(dir / "3340.dat");
  std::filesystem::create_symlink("/etc/hostname", dir / "3340.dat");
  CHECK(error_of([&] { archive::Archive::open(dir); }).find("symlinks are refused") != std::string::npos);
}

TEST_CASE("archive: a missing data file is reported when the entry is read", "[archive][hostile]") {
  TempDir tmp;
  auto dir = tmp.path() / "d";
  w::directory_archive(dir, w::sample_entries(), w::Options{});
  std::filesystem::remove(dir / "3340.dat");
  auto a = archive::Archive::open(dir);
  CHECK(a->find(3340)->data.bytes == -1);
  std::string msg = error_of([&] { a->open_data(*a->find(3340)); });
  CHECK(msg.find("entry 3340") != std::string::npos);
  CHECK(msg.find("missing") != std::string::npos);
}

TEST_CASE("archive: unknown versions are refused with the byte offset", "[archive][hostile]") {
  for (auto [maj, min] : std::vector<std::pair<int, int>>{{1, 11}, {1, 17}, {2, 14}, {0, 14}}) {
    w::Options o;
    std::string bytes = toc_only(o, 5);
    bytes[5] = static_cast<char>(maj);
    bytes[6] = static_cast<char>(min);
    std::string msg = error_of([&] { archive::parse_toc(bytes, archive::Format::directory, "toc.dat"); });
    INFO(msg);
    CHECK(msg.find("unsupported archive version") != std::string::npos);
    CHECK(msg.find("at byte 5") != std::string::npos);
  }
  std::string wrong_format = toc_only(w::Options{}, 1);
  CHECK(error_of([&] { archive::parse_toc(wrong_format, archive::Format::directory, "toc.dat"); }).find("format byte") !=
        std::string::npos);
}

TEST_CASE("archive: every truncation of a TOC is an error, never a crash", "[archive][hostile]") {
  for (int minor : {12, 14, 16}) {
    w::Options o;
    o.minor = minor;
    std::string bytes = toc_only(o, 5);
    REQUIRE_NOTHROW(archive::parse_toc(bytes, archive::Format::directory, "toc.dat"));
    for (std::size_t len = 0; len < bytes.size(); ++len) {
      std::string msg = error_of([&] { archive::parse_toc(bytes.substr(0, len), archive::Format::directory, "toc.dat"); });
      INFO("length " << len);
      REQUIRE(msg.find("toc.dat: ") == 0);
      REQUIRE(msg.find("at byte ") != std::string::npos);
    }
  }
}

TEST_CASE("archive: truncated and corrupted custom files fail cleanly", "[archive][hostile]") {
  TempDir tmp;
  for (auto c : {Compression::none, Compression::gzip, Compression::zstd, Compression::lz4}) {
    for (bool offsets : {true, false}) {
      w::Options o;
      o.compression = c;
      o.offsets = offsets;
      o.chunk = 50;
      std::string full = w::custom_archive(w::sample_entries(), o);
      auto p = tmp.path() / "t.dump";
      w::write_file(p, full);
      REQUIRE(open_and_read_all(p).empty());
      int errors = 0;
      // Every length through the TOC, then a stride through the data.
      for (std::size_t len = 0; len < full.size(); len += (len < 700 ? 1 : 97)) {
        w::write_file(p, full.substr(0, len));
        std::string msg = open_and_read_all(p);
        INFO(archive::to_string(c) << " length " << len << ": " << msg);
        CHECK(!msg.empty());
        errors += !msg.empty();
      }
      CHECK(errors > 0);
    }
  }
}

TEST_CASE("archive: flipped bytes give an error or a valid parse, never a crash", "[archive][hostile]") {
  w::Options o;
  o.compression = Compression::gzip;
  std::string full = w::custom_archive(w::sample_entries(), o);
  TempDir tmp;
  auto p = tmp.path() / "f.dump";
  int failures = 0;
  for (std::size_t i = 0; i < full.size(); i += (i < 800 ? 1 : 31)) {
    for (unsigned char mask : {0x01, 0x80, 0xff}) {
      std::string bad = full;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      w::write_file(p, bad);
      failures += !open_and_read_all(p).empty();  // must not crash; errors are fine
    }
  }
  CHECK(failures > 0);
}

TEST_CASE("archive: absurd lengths and counts are refused before allocating", "[archive][hostile]") {
  w::Options o;
  std::string bytes = toc_only(o, 5);
  std::string head = w::header(o, 5);
  // The entry count right after the header.
  std::string huge_count = bytes;
  huge_count.replace(head.size(), 5, w::int_bytes(0x7fffffff, 4));
  std::string msg = error_of([&] { archive::parse_toc(huge_count, archive::Format::directory, "toc.dat"); });
  CHECK(msg.find("cannot fit") != std::string::npos);
  CHECK(msg.find("at byte " + std::to_string(head.size())) != std::string::npos);
  // The first entry's table-oid string length (after count, id and had-dumper).
  std::string huge_str = bytes;
  std::size_t at = head.size() + 15;
  huge_str.replace(at, 5, w::int_bytes(0x7ffffff0, 4));
  msg = error_of([&] { archive::parse_toc(huge_str, archive::Format::directory, "toc.dat"); });
  CHECK(msg.find("exceeds") != std::string::npos);
  CHECK(msg.find("at byte " + std::to_string(at)) != std::string::npos);
  // A negative string length other than -1, an integer size of 200, a custom chunk of 2 GB.
  std::string neg = bytes;
  neg.replace(at, 5, w::int_bytes(-5, 4));
  CHECK(error_of([&] { archive::parse_toc(neg, archive::Format::directory, "toc.dat"); }).find("negative") != std::string::npos);
  std::string big_int = bytes;
  big_int[8] = static_cast<char>(200);
  CHECK(error_of([&] { archive::parse_toc(big_int, archive::Format::directory, "toc.dat"); }).find("integer size") !=
        std::string::npos);
}

TEST_CASE("archive: a custom data block with an absurd chunk length fails with its offset", "[archive][hostile]") {
  auto entries = w::sample_entries();
  w::Options o;
  std::string full = w::custom_archive(entries, o);
  TempDir tmp;
  auto p = tmp.path() / "c.dump";
  w::write_file(p, full);
  auto off = archive::Archive::open(p)->find(3340)->data.offset;
  std::string bad = full;
  bad.replace(static_cast<std::size_t>(off) + 6, 5, w::int_bytes(0x7fffffff, 4));
  w::write_file(p, bad);
  auto a = archive::Archive::open(p);
  std::string msg = error_of([&] {
    std::string row;
    a->open_data(*a->find(3340))->next_row(row);
  });
  CHECK(msg.find("chunk length 2147483647 exceeds") != std::string::npos);
  CHECK(msg.find("at byte " + std::to_string(off + 6)) != std::string::npos);
  CHECK(msg.find("entry 3340") != std::string::npos);
}

TEST_CASE("archive: tar headers with bad checksums or sizes are refused", "[archive][hostile]") {
  TempDir tmp;
  std::string toc = toc_only(w::Options{}, 3);
  auto tar_member = [](const std::string& name, const std::string& data, std::int64_t claimed) {
    std::string h(512, '\0');
    h.replace(0, name.size(), name);
    h.replace(100, 7, "0000600");
    std::string size = fmt::format("{:011o}", claimed);
    h.replace(124, 11, size);
    h[156] = '0';
    h.replace(257, 6, std::string("ustar\0", 6));
    h.replace(263, 2, "00");
    h.replace(148, 8, "        ");
    unsigned sum = 0;
    for (unsigned char ch : h) sum += ch;
    h.replace(148, 7, fmt::format("{:06o}", sum) + std::string(1, '\0'));
    std::string body = data + std::string((512 - data.size() % 512) % 512, '\0');
    return h + body;
  };
  auto p = tmp.path() / "a.tar";
  w::write_file(p, tar_member("toc.dat", toc, static_cast<std::int64_t>(toc.size())) + std::string(1024, '\0'));
  auto a = archive::Archive::open(p);
  CHECK(a->toc().header.format == archive::Format::tar);
  CHECK(a->find(3340)->data.bytes == -1);  // its member is missing
  CHECK(error_of([&] { a->open_data(*a->find(3340)); }).find("missing") != std::string::npos);

  std::string bad = tar_member("toc.dat", toc, static_cast<std::int64_t>(toc.size()));
  bad[0] = 'X';
  w::write_file(p, bad);
  CHECK(error_of([&] { archive::Archive::open(p); }).find("checksum mismatch") != std::string::npos);
  w::write_file(p, tar_member("toc.dat", toc, 1LL << 40));
  CHECK(error_of([&] { archive::Archive::open(p); }).find("extends past the end") != std::string::npos);
}

TEST_CASE("archive: not an archive at all", "[archive][hostile]") {
  TempDir tmp;
  w::write_file(tmp.path() / "plain.sql", "-- PostgreSQL database dump\n");
  CHECK(error_of([&] { archive::Archive::open(tmp.path() / "plain.sql"); }).find("not a pg_dump archive") !=
        std::string::npos);
  CHECK(error_of([&] { archive::Archive::open(tmp.path() / "nope"); }).find("no such archive") != std::string::npos);
  CHECK(error_of([&] { archive::Archive::open(tmp.path()); }).find("without toc.dat") != std::string::npos);
}

TEST_CASE("archive: inspect exits 1 with a message on a damaged archive", "[archive][inspect]") {
  TempDir tmp;
  std::string full = w::custom_archive(w::sample_entries(), w::Options{});
  w::write_file(tmp.path() / "t.dump", full.substr(0, 60));
  auto r = test::run_pgrecover({"inspect", (tmp.path() / "t.dump").string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("pgrecover: error:") != std::string::npos);
  CHECK(r.err.find("at byte") != std::string::npos);
  w::write_file(tmp.path() / "ok.dump", full);
  auto ok = test::run_pgrecover({"--json", "inspect", (tmp.path() / "ok.dump").string()});
  CHECK(ok.exit_code == 0);
  auto j = nlohmann::json::parse(ok.out);
  CHECK(j["format"] == "custom");
  CHECK(j["entries"].size() == 4);
}

TEST_CASE("archive: the fuzzer's regression corpus parses or fails cleanly", "[archive][fuzz]") {
  auto dir = std::filesystem::path(test::test_data("fuzz-regressions"));
  REQUIRE(std::filesystem::is_directory(dir));
  int files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (!f.is_regular_file()) continue;
    ++files;
    std::string bytes = pgr::read_file(f.path());
    for (auto fmt : {archive::Format::directory, archive::Format::custom, archive::Format::tar}) {
      try {
        archive::parse_toc(bytes, fmt, f.path().filename().string());
      } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::archive);
      }
    }
  }
  CHECK(files > 0);
}
