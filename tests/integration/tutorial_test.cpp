// docs/tutorial.md, run: every ```sh block, in order, in one bash, as a reader would paste them.
#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>
#include <sstream>

#include "support/harness.hpp"
#include "util/fs.hpp"

using namespace pgr;

namespace {

std::string tutorial_script() {
  std::ifstream in(std::string(PGRECOVER_SOURCE_DIR) + "/docs/tutorial.md");
  REQUIRE(in);
  std::string line, script = "set -euo pipefail\nset -x\n";
  bool in_block = false;
  int blocks = 0;
  while (std::getline(in, line)) {
    if (!in_block && line == "```sh") {
      in_block = true;
      ++blocks;
      continue;
    }
    if (in_block && line == "```") {
      in_block = false;
      continue;
    }
    if (in_block) script += line + "\n";
  }
  REQUIRE(blocks >= 10);
  return script;
}

// Stops any server the script left running below dir (a failed run must not leak processes).
void stop_leftovers(const fs::path& dir) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->path().filename() == "postmaster.pid") {
      std::ifstream pid(it->path());
      long p = 0;
      if (pid >> p && p > 1) ::kill(static_cast<pid_t>(p), SIGQUIT);
    }
  }
}

}  // namespace

TEST_CASE("every command of docs/tutorial.md runs, in order", "[tutorial][docs]") {
  TempDir tmp("pgrecover-tutorial-test-");
  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::path script = tmp.path() / "tutorial.sh";
  write_file_atomic(script, tutorial_script());
  ProcessSpec spec;
  spec.argv = {"/bin/bash", script.string()};
  std::string bin_dir = fs::path(PGRECOVER_BINARY).parent_path().string();
  const char* path = std::getenv("PATH");
  spec.env = {"PATH=" + bin_dir + ":/usr/lib/postgresql/15/bin:" + (path ? path : "/usr/bin:/bin"),
              "TMPDIR=" + tmp.path().string()};
  spec.unset_env = {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGRECOVER_CONFIG", "PGOPTIONS"};
  auto r = run_process(spec);
  stop_leftovers(tmp.path());
  INFO(r.out.substr(r.out.size() > 6000 ? r.out.size() - 6000 : 0));
  INFO(r.err.substr(r.err.size() > 6000 ? r.err.size() - 6000 : 0));
  REQUIRE(r.exit_code == 0);
  // Two whole lines say 5000: the row count of production once the lost rows are back, and the
  // rows of the recovered copy that still have the dropped column's data.
  std::istringstream lines(r.out);
  int count_lines = 0;
  for (std::string line; std::getline(lines, line);) count_lines += line == "5000" ? 1 : 0;
  CHECK(count_lines == 2);
  CHECK(r.out.find("Plan: 0 to create, 0 to change, 0 to delete.") != std::string::npos);
}
