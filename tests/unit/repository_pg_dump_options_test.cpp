// What a BackupPolicy turns into on pg_dump's command line (and in the manifest).
#include <catch2/catch.hpp>

#include "engine/logical.hpp"
#include "util/error.hpp"

using namespace pgr;

TEST_CASE("backup pg_dump options: format, jobs, compression by pg_dump version, selection", "[backup]") {
  config::BackupPolicySpec s;
  s.jobs = 4;
  s.compression = config::parse_compression("gzip:5");
  s.select.schemas = {"public", "sales"};
  s.select.exclude_tables = {"public.logs", "audit.*"};
  CHECK(engine::pg_dump_options(s, 15) ==
        std::vector<std::string>{"--format=directory", "--jobs=4", "--compress=5", "--schema=public", "--schema=sales",
                                 "--exclude-table=public.logs", "--exclude-table=audit.*"});
  s.select = {};
  s.compression = config::parse_compression("zstd:3");
  CHECK_THROWS_AS(engine::pg_dump_options(s, 15), Error);  // pg_dump 15 writes gzip only
  CHECK(engine::pg_dump_options(s, 16) == std::vector<std::string>{"--format=directory", "--jobs=4", "--compress=zstd:3"});
  s.format = config::DumpFormat::custom;  // -j only for the directory format
  s.compression = config::parse_compression("none");
  CHECK(engine::pg_dump_options(s, 15) == std::vector<std::string>{"--format=custom", "--compress=0"});
  s.format = config::DumpFormat::tar;
  s.compression = config::parse_compression("gzip");
  CHECK_THROWS_AS(engine::pg_dump_options(s, 15), Error);
  CHECK(engine::archive_name(config::DumpFormat::directory) == "data");
  CHECK(engine::archive_name(config::DumpFormat::custom) == "data.dump");
}
