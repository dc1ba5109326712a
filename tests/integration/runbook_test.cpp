// docs/pitr.md, section "The server is gone", run: every ```sh block of that section, in order, in
// one bash, as a reader would paste them (like tutorial_test does for docs/tutorial.md).
#include <catch2/catch.hpp>

#include <sstream>

#include "support/doc_script.hpp"

using namespace pgr;

TEST_CASE("the runbook \"the server is gone\" of docs/pitr.md runs, in order", "[runbook][docs][pitr]") {
  auto r = test::run_doc_script(test::doc_shell_script("pitr.md", "The server is gone", 7), "runbook");
  REQUIRE(r.exit_code == 0);
  std::istringstream lines(r.out);
  std::vector<std::string> counts;
  for (std::string line; std::getline(lines, line);) {
    if (line == "1500" || line == "2000") counts.push_back(line);
  }
  // every archived row of the lost server, then rows of both timelines after losing the new one
  CHECK(counts == std::vector<std::string>{"1500", "2000"});
  CHECK(r.out.find("pgrecover check exited with 5") != std::string::npos);
  CHECK(r.out.find("data-loss window") != std::string::npos);
  CHECK(r.err.find("the last transaction replayed committed at") != std::string::npos);
  CHECK(r.out.find("the source writes on timeline 2") != std::string::npos);
  CHECK(r.out.find("restore point \"after_failover\" at ") != std::string::npos);
  CHECK(r.out.find("(timeline 2, ") != std::string::npos);
}
