// The command line as users meet it: --version and --help, and flags that are wrong. Each bad-flag
// case runs against input that is valid on its own (a control run proves it), so only the flag
// can be what fails.
#include <catch2/catch.hpp>

#include "support/harness.hpp"

using pgr::test::run_pgrecover;

namespace {
const std::string kSource = PGRECOVER_SOURCE_DIR;
const std::string kConfig = kSource + "/plans/pgrecover.toml";
const std::string kDocs = kSource + "/plans";
}  // namespace

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
  auto control = run_pgrecover({"--config", kConfig, "validate", kDocs});
  INFO(control.out << control.err);
  REQUIRE(control.exit_code == 0);
  auto r = run_pgrecover({"--no-such-flag", "--config", kConfig, "validate", kDocs});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("--no-such-flag") != std::string::npos);
  CHECK(r.out.find("documents valid") == std::string::npos);  // nothing ran
  auto none = run_pgrecover({});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("--help") != std::string::npos);
}

TEST_CASE("a bad --log-level is rejected", "[cli]") {
  auto control = run_pgrecover({"--log-level", "debug", "--config", kConfig, "validate", kDocs});
  REQUIRE(control.exit_code == 0);
  auto r = run_pgrecover({"--log-level", "loud", "--config", kConfig, "validate", kDocs});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("loud") != std::string::npos);
  CHECK(r.out.find("documents valid") == std::string::npos);
}

TEST_CASE("json errors are one JSON object on stderr", "[cli]") {
  auto r = run_pgrecover({"--json", "runs", "show", "nope"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("\"event\":\"error\"") != std::string::npos);
  CHECK(r.err.find("\"kind\":\"input\"") != std::string::npos);
}
