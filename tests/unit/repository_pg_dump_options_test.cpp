// What a BackupPolicy turns into on pg_dump's command line (and in the manifest).
#include <catch2/catch.hpp>

#include "app/backup_take.hpp"
#include "util/error.hpp"

using namespace pgr;

TEST_CASE("backup pg_dump options: format, jobs, compression by pg_dump version, selection", "[backup]") {
  spec::BackupPolicySpec s;
  s.jobs = 4;
  s.compression = spec::parse_compression("gzip:5");
  s.select.schemas = {"public", "sales"};
  s.select.exclude_tables = {"public.logs", "audit.*"};
  CHECK(app::pg_dump_options(s, 15) ==
        std::vector<std::string>{"--format=directory", "--jobs=4", "--compress=5", "--schema=public", "--schema=sales",
                                 "--exclude-table=public.logs", "--exclude-table=audit.*"});
  s.select = {};
  s.compression = spec::parse_compression("zstd:3");
  CHECK_THROWS_AS(app::pg_dump_options(s, 15), Error);  // pg_dump 15 writes gzip only
  CHECK(app::pg_dump_options(s, 16) == std::vector<std::string>{"--format=directory", "--jobs=4", "--compress=zstd:3"});
  s.format = spec::DumpFormat::custom;  // -j only for the directory format
  s.compression = spec::parse_compression("none");
  CHECK(app::pg_dump_options(s, 15) == std::vector<std::string>{"--format=custom", "--compress=0"});
  s.format = spec::DumpFormat::tar;
  s.compression = spec::parse_compression("gzip");
  CHECK_THROWS_AS(app::pg_dump_options(s, 15), Error);
  CHECK(app::archive_name(spec::DumpFormat::directory) == "data");
  CHECK(app::archive_name(spec::DumpFormat::custom) == "data.dump");
}
