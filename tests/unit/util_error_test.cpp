#include <catch2/catch.hpp>

#include "util/error.hpp"
#include "util/log.hpp"

using namespace pgr;

TEST_CASE("error kinds map to the documented exit codes", "[error]") {
  CHECK(exit_code_for(ErrorKind::input) == 1);
  CHECK(exit_code_for(ErrorKind::usage) == 1);
  CHECK(exit_code_for(ErrorKind::database) == 1);
  CHECK(exit_code_for(ErrorKind::stale_plan) == 3);
  CHECK(exit_code_for(ErrorKind::locked) == 4);
}

TEST_CASE("errors carry a hint", "[error]") {
  try {
    fail(ErrorKind::input, "bad thing", "do this");
    FAIL("fail() returned");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "bad thing");
    CHECK(e.hint() == "do this");
    CHECK(e.kind() == ErrorKind::input);
  }
}

TEST_CASE("log levels parse and reject unknown names", "[log]") {
  CHECK(log::parse_level("debug") == log::Level::debug);
  CHECK(log::parse_level("warning") == log::Level::warn);
  CHECK_THROWS_AS(log::parse_level("loud"), Error);
}
