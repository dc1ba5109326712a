// The archive reader on synthetic archives written by tests/support/archive_writer.hpp: every
// archive version 1.12-1.16, custom and directory formats, every compression.
#include <catch2/catch.hpp>

#include "archive/archive.hpp"
#include "archive/table_rows.hpp"
#include "report/inspect.hpp"
#include "support/archive_writer.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace pgr;
using archive::Compression;
namespace w = pgr::test::writer;

namespace {

std::string read_all(archive::RowReader& r, std::size_t step) {
  std::string out, buf(step, '\0');
  for (;;) {
    std::size_t n = r.read(buf.data(), buf.size());
    if (n == 0) break;
    out.append(buf.data(), n);
  }
  return out;
}

std::vector<std::string> rows_of(archive::RowReader& r) {
  std::vector<std::string> rows;
  std::string row;
  while (r.next_row(row)) rows.push_back(row);
  return rows;
}

std::vector<std::pair<std::uint32_t, std::string>> blobs_of(const archive::Archive& a, int id) {
  std::vector<std::pair<std::uint32_t, std::string>> out;
  a.for_each_blob(*a.find(id), [&](std::uint32_t oid, archive::BlobStream& s) {
    std::string bytes;
    char buf[333];
    for (std::size_t n; (n = s.read(buf, sizeof buf)) > 0;) bytes.append(buf, n);
    out.emplace_back(oid, std::move(bytes));
  });
  return out;
}

void check_sample(const archive::Archive& a, int minor) {
  const auto& toc = a.toc();
  CHECK(toc.header.version_major == 1);
  CHECK(toc.header.version_minor == minor);
  CHECK(toc.header.database == "awkward");
  CHECK(toc.header.server_version == "17.2");
  CHECK(toc.header.created_at == "2024-01-02T03:04:05");
  CHECK(toc.checksum.size() == 64);
  REQUIRE(toc.entries.size() == 5);
  const auto* tbl = a.find(210);
  REQUIRE(tbl != nullptr);
  CHECK(tbl->desc == "TABLE");
  CHECK(tbl->namespace_ == "public");
  CHECK(tbl->table_oid == "1259");
  CHECK(tbl->table_am == (minor >= 14 ? "heap" : ""));
  CHECK(tbl->relkind == (minor >= 16 ? 'r' : 0));
  CHECK(tbl->section == archive::Section::pre_data);
  const auto* idx = a.find(3100);
  REQUIRE(idx != nullptr);
  CHECK(idx->dependencies == std::vector<int>{210, 3340});
  CHECK(idx->section == archive::Section::post_data);
  CHECK(idx->data.kind == archive::DataLocation::Kind::none);
  const auto* data = a.find(3340);
  REQUIRE(data != nullptr);
  CHECK(data->had_dumper);
  CHECK(data->copy_stmt == "COPY public.orders (id, t) FROM stdin;\n");
  CHECK(data->data.bytes > 0);

  // read() in odd-sized steps and next_row() agree, and the "\." terminator is dropped.
  std::string expected = "1\tann\n2\t\\N\n3\ttab\\there\n";
  for (std::size_t step : {1, 2, 3, 5, 4096}) CHECK(read_all(*a.open_data(*data), step) == expected);
  CHECK(rows_of(*a.open_data(*data)) == std::vector<std::string>{"1\tann\n", "2\t\\N\n", "3\ttab\\there\n"});

  auto blobs = blobs_of(a, 3341);
  REQUIRE(blobs.size() == 3);
  CHECK(blobs[0] == std::make_pair(std::uint32_t{16400}, std::string("hello")));
  CHECK(blobs[1].first == 16401);
  CHECK(blobs[1].second == std::string(100000, '\xff'));
  CHECK(blobs[2] == std::make_pair(std::uint32_t{3000000000u}, std::string()));
}

}  // namespace

TEST_CASE("archive: custom format, every version and compression", "[archive]") {
  TempDir tmp;
  for (int minor : {12, 13, 14, 15, 16}) {
    for (auto c : {Compression::none, Compression::gzip, Compression::lz4, Compression::zstd}) {
      if (minor < 15 && (c == Compression::lz4 || c == Compression::zstd)) continue;  // not expressible before 1.15
      for (bool offsets : {true, false}) {
        DYNAMIC_SECTION("1." << minor << " " << archive::to_string(c) << (offsets ? " with offsets" : " piped")) {
          w::Options o;
          o.minor = minor;
          o.compression = c;
          o.offsets = offsets;
          o.chunk = 7;
          auto path = tmp.path() / "a.dump";
          w::write_file(path, w::custom_archive(w::sample_entries(), o));
          auto a = archive::Archive::open(path);
          CHECK(a->toc().header.format == archive::Format::custom);
          CHECK(a->toc().header.compression == c);
          CHECK(a->find(3340)->data.offset > 0);
          check_sample(*a, minor);
        }
      }
    }
  }
}

TEST_CASE("archive: directory format, every version and compression", "[archive]") {
  TempDir tmp;
  for (int minor : {12, 14, 15, 16}) {
    for (auto c : {Compression::none, Compression::gzip, Compression::lz4, Compression::zstd}) {
      if (minor < 15 && (c == Compression::lz4 || c == Compression::zstd)) continue;
      DYNAMIC_SECTION("1." << minor << " " << archive::to_string(c)) {
        w::Options o;
        o.minor = minor;
        o.compression = c;
        auto dir = tmp.path() / ("d" + std::to_string(minor) + archive::to_string(c));
        w::directory_archive(dir, w::sample_entries(), o);
        auto a = archive::Archive::open(dir);
        CHECK(a->toc().header.format == archive::Format::directory);
        CHECK(a->find(3340)->data.file == std::string("3340.dat") + w::suffix(c));
        check_sample(*a, minor);
      }
    }
  }
}

TEST_CASE("archive: a table's rows counted, its columns, and a digest that ignores row order", "[archive]") {
  TempDir tmp;
  w::directory_archive(tmp.path() / "d", w::sample_entries(), w::Options{});
  auto a = archive::Archive::open(tmp.path() / "d");
  const auto& data = *a->find(3340);
  CHECK(archive::count_rows(*a, data) == 3);
  CHECK(archive::copy_columns(data) == std::optional<std::string>("id, t"));
  MultisetDigest same, other;
  for (const char* row : {"3\ttab\\there\n", "1\tann\n", "2\t\\N\n"}) same.add(row);
  for (const char* row : {"1\tann\n", "2\t\\N\n"}) other.add(row);
  CHECK(archive::row_digest(*a, data) == same);
  CHECK_FALSE(archive::row_digest(*a, data) == other);
  archive::TocEntry no_columns;
  no_columns.copy_stmt = "COPY public.t FROM stdin;\n";
  CHECK_FALSE(archive::copy_columns(no_columns).has_value());
}

TEST_CASE("archive: COPY terminator handling keeps rows that only look like it", "[archive]") {
  TempDir tmp;
  struct Case {
    std::string data, expected;
  };
  std::vector<Case> cases = {
      {"\\.\n\n\n", ""},                                   // empty table
      {"", ""},                                            // no terminator at all (pg_dump 18 style)
      {"a\n\\\\.\n.\n\\.\n\n\n", "a\n\\\\.\n.\n"},           // escaped backslash-dot and a lone dot
      {"x\r\n\\.\r\n", "x\r\n"},                           // CRLF terminator
      {"\\N\tb\n\\.", "\\N\tb\n"},                         // row starting with \N; terminator at EOF
      {"last row without newline", "last row without newline"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto entries = w::sample_entries();
    entries[2].data = cases[i].data;
    w::Options o;
    o.compression = Compression::gzip;
    auto path = tmp.path() / ("t" + std::to_string(i));
    w::write_file(path, w::custom_archive(entries, o));
    auto a = archive::Archive::open(path);
    for (std::size_t step : {1, 2, 3, 64}) {
      INFO("case " << i << " step " << step);
      CHECK(read_all(*a->open_data(*a->find(3340)), step) == cases[i].expected);
    }
    std::string joined;
    for (auto& r : rows_of(*a->open_data(*a->find(3340)))) joined += r;
    CHECK(joined == cases[i].expected);
  }
}

TEST_CASE("archive: a big table streams in bounded chunks", "[archive]") {
  TempDir tmp;
  std::string rows;
  for (int i = 0; i < 200000; ++i) rows += std::to_string(i) + "\tsome text " + std::to_string(i * 7) + "\n";
  auto entries = w::sample_entries(rows);
  for (auto c : {Compression::gzip, Compression::zstd, Compression::lz4}) {
    w::Options o;
    o.compression = c;
    o.chunk = 4096;
    auto path = tmp.path() / "big.dump";
    w::write_file(path, w::custom_archive(entries, o));
    auto a = archive::Archive::open(path);
    auto r = a->open_data(*a->find(3340));
    std::string got, buf(1 << 20, '\0');
    for (std::size_t n; (n = r->read(buf.data(), buf.size())) > 0;) {
      CHECK(n <= buf.size());
      got.append(buf.data(), n);
    }
    CHECK(got == rows);
    std::size_t count = 0;
    std::string row;
    auto rr = a->open_data(*a->find(3340));
    while (rr->next_row(row)) ++count;
    CHECK(count == 200000);
  }
}

TEST_CASE("archive: readers on several threads are independent", "[archive]") {
  TempDir tmp;
  w::Options o;
  o.compression = Compression::zstd;
  auto path = tmp.path() / "a.dump";
  w::write_file(path, w::custom_archive(w::sample_entries(), o));
  auto a = archive::Archive::open(path);
  auto r1 = a->open_data(*a->find(3340));
  auto r2 = a->open_data(*a->find(3340));
  std::string x, y;
  CHECK(r1->next_row(x));
  CHECK(r2->next_row(y));
  CHECK(x == y);
  CHECK(r1->next_row(x));
  CHECK(x == "2\t\\N\n");
}

TEST_CASE("archive: inspect JSON has the documented shape", "[archive][inspect]") {
  TempDir tmp;
  w::directory_archive(tmp.path() / "d", w::sample_entries(), w::Options{});
  auto a = archive::Archive::open(tmp.path() / "d");
  auto j = report::inspect_json(*a);
  CHECK(j["format"] == "directory");
  CHECK(j["archive_version"] == "1.16.0");
  CHECK(j["database"] == "awkward");
  CHECK(j["server_version"] == "17.2");
  auto& entries = j["entries"];
  REQUIRE(entries.size() == 4);  // ENCODING is not listed by pg_restore -l
  CHECK(entries[0]["id"] == 210);
  CHECK(entries[1]["id"] == 3340);
  CHECK(entries[1]["desc"] == "TABLE DATA");
  CHECK(entries[1]["section"] == "data");
  CHECK(entries[1]["namespace"] == "public");
  CHECK(entries[1]["tag"] == "orders");
  CHECK(entries[1]["owner"] == "postgres");
  CHECK(entries[1]["dependencies"] == nlohmann::json::array({210}));
  CHECK(entries[1]["data"]["file"] == "3340.dat");
  CHECK(entries[1]["data"]["bytes"] == 28);
  CHECK(entries[3]["data"].is_null());
  CHECK(j["summary"]["entries_per_kind"]["TABLE DATA"] == 1);
  std::string text = report::inspect_text(*a);
  CHECK(text.find("orders_id_idx") != std::string::npos);
  CHECK(text.find("210,3340") != std::string::npos);
}
