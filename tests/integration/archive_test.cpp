// The archive reader against real pg_dump 15 archives of tests/data/awkward.sql, in every format
// this machine's pg_dump writes: directory (gzip and -Z0), custom (gzip, -Z0, and written to a
// pipe, so without data offsets) and tar. Each is compared with pg_restore itself:
//   - the entries equal `pg_restore -l` line for line (id, catalog ids, desc, schema, tag, owner);
//   - `pgrecover inspect --json` lists exactly the ids of `pg_restore -l`;
//   - each table's streamed COPY data equals the COPY block of `pg_restore -a -f -`;
//   - large objects equal lo_get() on the source database.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "archive/archive.hpp"
#include "support/harness.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace pgr;
using test::must;
using test::server;

namespace {

struct Fixture {
  std::string db;
  std::unique_ptr<TempDir> tmp;
  std::map<std::string, std::filesystem::path> archives;  // label -> path
};

Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    x.db = test::fresh_database("awk");
    must(server().run_client({"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", x.db, "-f", test::test_data("awkward.sql")}),
         "psql -f awkward.sql");
    x.tmp = std::make_unique<TempDir>("pgrecover-archive-it-");
    auto p = [&](const std::string& name) { return (x.tmp->path() / name).string(); };
    must(server().run_client({"pg_dump", "-Fd", "-f", p("dir"), "-d", x.db}), "pg_dump -Fd");
    must(server().run_client({"pg_dump", "-Fd", "-Z0", "-f", p("dir0"), "-d", x.db}), "pg_dump -Fd -Z0");
    must(server().run_client({"pg_dump", "-Fc", "-f", p("custom.dump"), "-d", x.db}), "pg_dump -Fc");
    must(server().run_client({"pg_dump", "-Fc", "-Z0", "-f", p("custom0.dump"), "-d", x.db}), "pg_dump -Fc -Z0");
    must(server().run_client({"pg_dump", "-Ft", "-f", p("archive.tar"), "-d", x.db}), "pg_dump -Ft");
    // Written to a pipe: pg_dump cannot seek back, so the TOC carries no data offsets.
    ProcessResult piped = server().run_client({"pg_dump", "-Fc", "-d", x.db});
    must(piped, "pg_dump -Fc > pipe");
    write_file_atomic(p("piped.dump"), piped.out);
    for (const char* label : {"dir", "dir0", "custom.dump", "custom0.dump", "archive.tar", "piped.dump"}) {
      x.archives[label] = x.tmp->path() / label;
    }
    return x;
  }();
  return f;
}

// pg_restore's sanitize_line(): newlines become spaces; an empty schema prints as "-".
std::string sanitize(std::string s, bool hyphen) {
  if (s.empty() && hyphen) return "-";
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

std::vector<std::string> pg_restore_list(const std::filesystem::path& archive) {
  ProcessResult r = server().run_client({"pg_restore", "-l", archive.string()});
  must(r, "pg_restore -l");
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < r.out.size()) {
    std::size_t nl = r.out.find('\n', start);
    if (nl == std::string::npos) nl = r.out.size();
    std::string line = r.out.substr(start, nl - start);
    start = nl + 1;
    if (!line.empty() && line[0] != ';') lines.push_back(line);
  }
  return lines;
}

// COPY blocks of `pg_restore -a -f -`, keyed by the COPY statement, data up to the "\." line.
std::map<std::string, std::string> pg_restore_copy_blocks(const std::filesystem::path& archive) {
  ProcessResult r = server().run_client({"pg_restore", "-a", "-f", "-", archive.string()});
  must(r, "pg_restore -a");
  std::map<std::string, std::string> blocks;
  const std::string& s = r.out;
  std::size_t pos = 0;
  while ((pos = s.find("\nCOPY ", pos)) != std::string::npos) {
    std::size_t stmt_start = pos + 1;
    std::size_t stmt_end = s.find(" FROM stdin;\n", stmt_start);
    REQUIRE(stmt_end != std::string::npos);
    stmt_end += std::string(" FROM stdin;\n").size();
    std::string stmt = s.substr(stmt_start, stmt_end - stmt_start);
    std::size_t data_end = s.compare(stmt_end, 3, "\\.\n") == 0 ? stmt_end : s.find("\n\\.\n", stmt_end);
    REQUIRE(data_end != std::string::npos);
    if (data_end != stmt_end) data_end += 1;  // keep the last row's newline
    blocks[stmt] = s.substr(stmt_end, data_end - stmt_end);
    pos = data_end;
  }
  return blocks;
}

std::string stream_all(const archive::Archive& a, const archive::TocEntry& e, std::size_t step) {
  auto r = a.open_data(e);
  std::string out, buf(step, '\0');
  for (std::size_t n; (n = r->read(buf.data(), buf.size())) > 0;) out.append(buf.data(), n);
  return out;
}

}  // namespace

TEST_CASE("archive: entries equal pg_restore -l in every format", "[archive]") {
  auto& f = fixture();
  for (const auto& [label, path] : f.archives) {
    DYNAMIC_SECTION(label) {
      auto a = archive::Archive::open(path);
      std::vector<std::string> mine;
      for (const auto& e : a->toc().entries) {
        if (!archive::listed_by_pg_restore(e)) continue;
        mine.push_back(fmt::format("{}; {} {} {} {} {} {}", e.id, e.table_oid, e.oid, e.desc, sanitize(e.namespace_, true),
                                   sanitize(e.tag, false), sanitize(e.owner, false)));
      }
      auto theirs = pg_restore_list(path);
      CHECK(mine == theirs);
      CHECK(theirs.size() > 80);
      CHECK(a->toc().header.database == f.db);
      CHECK(a->toc().header.server_version.rfind("15.", 0) == 0);
      CHECK(a->toc().header.version_minor == 14);
      // The kinds awkward.sql is meant to produce are all there.
      std::set<std::string> kinds;
      for (const auto& e : a->toc().entries) kinds.insert(e.desc);
      for (const char* k : {"TABLE", "TABLE DATA", "SEQUENCE", "SEQUENCE SET", "FK CONSTRAINT", "POLICY", "ROW SECURITY",
                            "MATERIALIZED VIEW", "MATERIALIZED VIEW DATA", "BLOB", "BLOBS", "COMMENT", "ACL",
                            "DEFAULT ACL", "EXTENSION", "DOMAIN", "TYPE", "INDEX", "TRIGGER", "FUNCTION", "VIEW",
                            "TABLE ATTACH", "INDEX ATTACH", "SCHEMA"}) {
        INFO(k);
        CHECK(kinds.count(k) == 1);
      }
    }
  }
}

TEST_CASE("archive: inspect --json lists exactly the ids of pg_restore -l", "[archive][inspect]") {
  auto& f = fixture();
  for (const auto& [label, path] : f.archives) {
    DYNAMIC_SECTION(label) {
      auto r = test::run_pgrecover({"--json", "inspect", path.string()});
      REQUIRE(r.exit_code == 0);
      auto j = nlohmann::json::parse(r.out);
      std::vector<int> ids;
      for (const auto& e : j["entries"]) {
        ids.push_back(e["id"].get<int>());
        CHECK(e.contains("desc"));
        CHECK(e.contains("section"));
        CHECK(e.contains("namespace"));
        CHECK(e.contains("tag"));
        CHECK(e.contains("owner"));
        CHECK(e["dependencies"].is_array());
        if (e["desc"] == "TABLE DATA") {
          CHECK((e["data"].contains("file") || e["data"].contains("offset")));
          CHECK(e["data"]["bytes"].get<std::int64_t>() > 0);
        }
      }
      std::vector<int> theirs;
      for (const auto& line : pg_restore_list(path)) theirs.push_back(std::stoi(line));
      CHECK(ids == theirs);
      CHECK(j["format"] == (label == "archive.tar" ? "tar" : label.rfind("dir", 0) == 0 ? "directory" : "custom"));
      CHECK(j["archive_version"] == "1.14.0");
      CHECK(j["database"] == f.db);
      auto text = test::run_pgrecover({"inspect", path.string()});
      CHECK(text.exit_code == 0);
      CHECK(text.out.find("Order Items") != std::string::npos);
      CHECK(text.out.find("TABLE DATA") != std::string::npos);
    }
  }
}

TEST_CASE("archive: streamed rows equal what pg_restore would load, in every format", "[archive]") {
  auto& f = fixture();
  for (const auto& [label, path] : f.archives) {
    DYNAMIC_SECTION(label) {
      auto a = archive::Archive::open(path);
      auto blocks = pg_restore_copy_blocks(path);
      int tables = 0;
      for (const auto& e : a->toc().entries) {
        if (e.desc != "TABLE DATA") continue;
        ++tables;
        INFO(e.namespace_ << "." << e.tag);
        auto it = blocks.find(e.copy_stmt);
        REQUIRE(it != blocks.end());
        CHECK(stream_all(*a, e, 1 << 20) == it->second);
        CHECK(stream_all(*a, e, 37) == it->second);
        std::string rows, row;
        auto rr = a->open_data(e);
        while (rr->next_row(row)) {
          CHECK(row.back() == '\n');
          rows += row;
        }
        CHECK(rows == it->second);
      }
      CHECK(tables == static_cast<int>(blocks.size()));
      CHECK(tables == 14);  // the tables of awkward.sql that hold rows (partitions, not their parent)
      // Spot checks against the source: the awkward text table and the big table's row count.
      auto awk = std::find_if(a->toc().entries.begin(), a->toc().entries.end(), [](const auto& e) {
        return e.desc == "TABLE DATA" && e.tag == "blobs_and_text";
      });
      REQUIRE(awk != a->toc().entries.end());
      std::string data = stream_all(*a, *awk, 4096);
      CHECK(data.find("6\t\\\\.\t\\N") != std::string::npos);
      CHECK(data.find("5\t.\t") != std::string::npos);
      auto big = std::find_if(a->toc().entries.begin(), a->toc().entries.end(),
                                     [](const auto& e) { return e.desc == "TABLE DATA" && e.tag == "big"; });
      REQUIRE(big != a->toc().entries.end());
      std::size_t n = 0;
      std::string row;
      auto rr = a->open_data(*big);
      while (rr->next_row(row)) ++n;
      CHECK(std::to_string(n) + "\n" == test::psql(f.db, "select count(*) from shop.big"));
    }
  }
}

TEST_CASE("archive: large objects equal lo_get on the source", "[archive]") {
  auto& f = fixture();
  std::string expected = test::psql(f.db, "select string_agg(oid::text || ':' || encode(lo_get(oid), 'hex'), ',' order by oid) "
                                          "from pg_largeobject_metadata");
  for (const auto& [label, path] : f.archives) {
    DYNAMIC_SECTION(label) {
      auto a = archive::Archive::open(path);
      std::vector<std::string> parts;
      for (const auto& e : a->toc().entries) {
        if (e.desc != "BLOBS") continue;
        a->for_each_blob(e, [&](std::uint32_t oid, archive::BlobStream& s) {
          std::string bytes;
          char buf[1000];
          for (std::size_t n; (n = s.read(buf, sizeof buf)) > 0;) bytes.append(buf, n);
          std::string hex;
          for (unsigned char c : bytes) hex += fmt::format("{:02x}", c);
          parts.push_back(std::to_string(oid) + ":" + hex);
        });
      }
      std::sort(parts.begin(), parts.end(), [](const std::string& x, const std::string& y) {
        return std::stoul(x) < std::stoul(y);
      });
      std::string got;
      for (const auto& p : parts) got += (got.empty() ? "" : ",") + p;
      CHECK(parts.size() == 3);
      CHECK(got + "\n" == expected);
    }
  }
}

TEST_CASE("archive: damaged real archives are refused with exit 1", "[archive][hostile]") {
  auto& f = fixture();
  std::string full = pgr::read_file(f.archives["custom.dump"]);
  TempDir tmp;
  for (std::size_t len : {std::size_t{3}, std::size_t{40}, full.size() / 10, full.size() / 2, full.size() - 10}) {
    auto p = tmp.path() / "cut.dump";
    write_file_atomic(p, full.substr(0, len));
    bool failed = false;
    try {
      auto a = archive::Archive::open(p);
      for (const auto& e : a->toc().entries) {
        if (e.desc == "BLOBS") {
          a->for_each_blob(e, [](std::uint32_t, archive::BlobStream& s) {
            char buf[4096];
            while (s.read(buf, sizeof buf) > 0) {
            }
          });
        }
        if (e.desc != "TABLE DATA") continue;
        std::string row;
        auto r = a->open_data(e);
        while (r->next_row(row)) {
        }
      }
    } catch (const Error& e) {
      failed = e.kind() == ErrorKind::archive;
      CHECK(std::string(e.what()).find("byte") != std::string::npos);
    }
    INFO("truncated to " << len);
    CHECK(failed);
  }
  auto cut = tmp.path() / "cut2.dump";
  write_file_atomic(cut, full.substr(0, full.size() / 20));
  auto r = test::run_pgrecover({"inspect", cut.string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("pgrecover: error:") != std::string::npos);

  // A directory archive whose data file was deleted: inspect still works, reading that entry fails.
  std::filesystem::copy(f.archives["dir"], tmp.path() / "dir", std::filesystem::copy_options::recursive);
  auto a = archive::Archive::open(tmp.path() / "dir");
  const archive::TocEntry* victim = nullptr;
  for (const auto& e : a->toc().entries) {
    if (e.desc == "TABLE DATA" && e.tag == "orders") victim = &e;
  }
  REQUIRE(victim != nullptr);
  std::filesystem::remove(tmp.path() / "dir" / victim->data.file);
  auto b = archive::Archive::open(tmp.path() / "dir");
  CHECK(b->find(victim->id)->data.bytes == -1);
  try {
    b->open_data(*b->find(victim->id));
    FAIL("no error for a missing data file");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("missing") != std::string::npos);
    CHECK(std::string(e.what()).find(fmt::format("entry {}", victim->id)) != std::string::npos);
  }
  CHECK(test::run_pgrecover({"inspect", (tmp.path() / "dir").string()}).exit_code == 0);
}
