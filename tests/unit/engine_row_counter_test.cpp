// engine/dump_row_counter: rows counted while the dump is written equal rows counted afterwards,
// and a data file that cannot be read is still reported with its table's name.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "archive/archive.hpp"
#include "engine/dump_row_counter.hpp"
#include "engine/logical.hpp"
#include "support/archive_writer.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace pgr;
using archive::Compression;
namespace fs = std::filesystem;
namespace w = pgr::test::writer;

namespace {

// Copies the files of `from` into `to` the way pg_dump -Fd writes them: data files first, each
// written and closed once, toc.dat last.
void write_like_pg_dump(const fs::path& from, const fs::path& to) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(from)) files.push_back(e.path());
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    return (a.filename() == "toc.dat") < (b.filename() == "toc.dat");
  });
  for (const auto& f : files) fs::copy_file(f, to / f.filename());
}

void wait_for(const engine::DumpRowCounter& c, int files) {
  for (int i = 0; i < 200 && c.counted_early() < files; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace

TEST_CASE("row counts during the dump equal the counts after it", "[engine][backup]") {
  TempDir tmp;
  for (auto c : {Compression::none, Compression::gzip, Compression::zstd}) {
    DYNAMIC_SECTION(archive::to_string(c)) {
      w::Options o;
      o.compression = c;
      std::string rows;
      for (int i = 0; i < 5000; ++i) rows += std::to_string(i) + "\trow " + std::to_string(i) + "\n";
      auto entries = w::sample_entries(rows);
      const auto src = tmp.path() / (std::string("src-") + archive::to_string(c)), dst = tmp.path() / (std::string("dst-") + archive::to_string(c));
      w::directory_archive(src, entries, o);
      fs::create_directory(dst);

      engine::DumpRowCounter counter(dst, nullptr);
      write_like_pg_dump(src, dst);
      wait_for(counter, 1);
      CHECK(counter.counted_early() == 1);  // the table's data file, not the large objects' files
      auto during = counter.finish(*archive::Archive::open(dst));
      auto after = engine::count_archive_rows(src);
      CHECK(during == after);
      CHECK(during.at("public.orders") == 5000);
    }
  }
}

TEST_CASE("row counts: files written before the watch are counted at the end", "[engine][backup]") {
  TempDir tmp;
  w::directory_archive(tmp.path() / "a", w::sample_entries(), w::Options{});
  engine::DumpRowCounter counter(tmp.path() / "a", nullptr);
  auto rows = counter.finish(*archive::Archive::open(tmp.path() / "a"));
  CHECK(counter.counted_early() == 0);
  CHECK(rows.at("public.orders") == 3);
}

TEST_CASE("row counts: a data file that does not decompress names its table", "[engine][backup]") {
  TempDir tmp;
  w::Options o;
  o.compression = Compression::gzip;
  const auto src = tmp.path() / "src", dst = tmp.path() / "dst";
  w::directory_archive(src, w::sample_entries(), o);
  w::write_file(src / "3340.dat.gz", std::string("\x1f\x8b not gzip at all", 19));
  fs::create_directory(dst);
  engine::DumpRowCounter counter(dst, nullptr);
  write_like_pg_dump(src, dst);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(counter.counted_early() == 0);
  try {
    counter.finish(*archive::Archive::open(dst));
    FAIL("a corrupt data file was counted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("orders") != std::string::npos);
  }
}
