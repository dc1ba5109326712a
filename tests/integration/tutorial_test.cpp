// docs/tutorial.md, run: every ```sh block, in order, in one bash, as a reader would paste them.
#include <catch2/catch.hpp>

#include <sstream>

#include "support/doc_script.hpp"

using namespace pgr;

TEST_CASE("every command of docs/tutorial.md runs, in order", "[tutorial][docs]") {
  auto r = test::run_doc_script(test::doc_shell_script("tutorial.md", "", 10), "tutorial");
  REQUIRE(r.exit_code == 0);
  // Two whole lines say 5000: the row count of production once the lost rows are back, and the
  // rows of the recovered copy that still have the dropped column's data.
  std::istringstream lines(r.out);
  int count_lines = 0;
  for (std::string line; std::getline(lines, line);) count_lines += line == "5000" ? 1 : 0;
  CHECK(count_lines == 2);
  CHECK(r.out.find("Plan: 0 to create, 0 to change, 0 to delete.") != std::string::npos);
}
