#include <catch2/catch.hpp>

#include "support/harness.hpp"

using pgr::test::run_pgrecover;

TEST_CASE("pgrecover --version and --help exit 0", "[cli]") {
  auto v = run_pgrecover({"--version"});
  CHECK(v.exit_code == 0);
  CHECK(v.out.find("pgrecover 0.") != std::string::npos);
  auto h = run_pgrecover({"--help"});
  CHECK(h.exit_code == 0);
  for (const char* cmd : {"validate", "plan", "apply", "show", "inspect", "backups", "runs", "wal", "instance"}) {
    CHECK(h.out.find(cmd) != std::string::npos);
  }
}

TEST_CASE("unknown flags and missing subcommands exit 1 with a hint", "[cli]") {
  auto r = run_pgrecover({"--no-such-flag", "validate", "x"});
  CHECK(r.exit_code == 1);
  auto none = run_pgrecover({});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("--help") != std::string::npos);
}

TEST_CASE("a bad --log-level is rejected", "[cli]") {
  auto r = run_pgrecover({"--log-level", "loud", "inspect", "x"});
  CHECK(r.exit_code == 1);
}

TEST_CASE("json errors are one JSON object on stderr", "[cli]") {
  auto r = run_pgrecover({"--json", "runs", "show", "nope"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("\"event\":\"error\"") != std::string::npos);
}
