// Plain SQL scripts: what one pass finds in them (COPY row counts, roles, \connect, databases),
// gzip read by content, and the failures a user meets (a pg_dump archive, a truncated script).
#include <catch2/catch.hpp>

#include <zlib.h>

#include "archive/plain_script.hpp"
#include "util/fs.hpp"
#include "support/deflate.hpp"

using namespace pgr;

namespace {

const char* kScript = R"(--
-- PostgreSQL database dump
--
SET client_encoding = 'UTF8';
CREATE TABLE "My Schema".t (a int);
ALTER TABLE "My Schema".t OWNER TO "Owner Role";
COPY "My Schema".t (a) FROM stdin;
1
CREATE ROLE not_a_statement;
3
\.
COPY public.empty (a) FROM stdin;
\.
GRANT SELECT ON TABLE "My Schema".t TO reader;
CREATE POLICY p ON "My Schema".t FOR SELECT TO policy_role USING (true);
)";


}  // namespace

TEST_CASE("plain script: one pass finds row counts, owners, grants, policies, gzip by content", "[archive][sql]") {
  TempDir dir("pgrecover-plain-test-");
  for (bool compressed : {false, true}) {
    auto path = (dir.path() / (compressed ? "dump.bin" : "dump.sql")).string();
    write_file_atomic(path, compressed ? test::deflate_as(kScript, true) : std::string(kScript));
    auto s = archive::scan_plain_script(path);
    CHECK(s.compression == (compressed ? archive::Compression::gzip : archive::Compression::none));
    CHECK(s.encoding == "UTF8");
    CHECK_FALSE(s.cluster_dump);
    CHECK_FALSE(s.connects);
    CHECK(s.row_counts.at({"My Schema", "t"}) == 3);
    CHECK(s.row_counts.at({"public", "empty"}) == 0);
    CHECK(s.roles_created.empty());  // a COPY row is not a statement
    CHECK(s.owners == std::vector<std::string>{"Owner Role"});
    CHECK(s.acl_lines.size() == 1);
    CHECK(s.policy_lines.size() == 1);
    CHECK(s.sha256.size() == 64);
    // the reader gives the text back and counts the file's bytes
    auto r = archive::open_plain_script(path);
    std::string text(1 << 16, '\0');
    text.resize(r->read(text.data(), text.size()));
    CHECK(text == kScript);
  }
}

TEST_CASE("plain script: a pg_dumpall script, a pg_dump archive and a truncated script", "[archive][sql]") {
  TempDir dir("pgrecover-plain-test-");
  auto all = (dir.path() / "all.sql").string();
  write_file_atomic(all, "--\n-- PostgreSQL database cluster dump\n--\nCREATE ROLE app;\nCREATE DATABASE \"Shop\" WITH "
                         "TEMPLATE = template0;\n\\connect \"Shop\"\nCOPY public.t (a) FROM stdin;\n1\n\\.\n");
  auto s = archive::scan_plain_script(all);
  CHECK(s.cluster_dump);
  CHECK(s.connects);
  CHECK(s.roles_created == std::vector<std::string>{"app"});
  CHECK(s.databases_created == std::vector<std::string>{"Shop"});
  CHECK(s.row_counts.empty());  // rows of other databases are not this target's

  auto custom = (dir.path() / "x.dump").string();
  write_file_atomic(custom, std::string("PGDMP\x01\x0e", 7));
  CHECK_THROWS_WITH(archive::scan_plain_script(custom), Catch::Contains("a pg_dump custom-format archive, not a plain SQL script"));
  auto cut = (dir.path() / "cut.sql").string();
  write_file_atomic(cut, "COPY public.t (a) FROM stdin;\n1\n2\n");
  CHECK_THROWS_WITH(archive::scan_plain_script(cut), Catch::Contains("ends inside the COPY data of public.t"));
  CHECK_THROWS_WITH(archive::scan_plain_script((dir.path() / "missing.sql").string()), Catch::Contains("missing.sql"));
}
