// docs/pitr.md, section "The server is gone", run: every ```sh block of that section, in order, in
// one bash, as a reader would paste them (like tutorial_test does for docs/tutorial.md).
#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>
#include <sstream>

#include "support/harness.hpp"
#include "util/fs.hpp"

using namespace pgr;

namespace {

std::string runbook_script() {
  std::ifstream in(std::string(PGRECOVER_SOURCE_DIR) + "/docs/pitr.md");
  REQUIRE(in);
  std::string line, script = "set -euo pipefail\nset -x\n";
  bool in_section = false, in_block = false;
  int blocks = 0;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## The server is gone";
    if (!in_section) continue;
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
  REQUIRE(blocks >= 7);
  return script;
}

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

TEST_CASE("the runbook \"the server is gone\" of docs/pitr.md runs, in order", "[runbook][docs][pitr]") {
  TempDir tmp("pgrecover-runbook-test-");
  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::path script = tmp.path() / "runbook.sh";
  write_file_atomic(script, runbook_script());
  ProcessSpec spec;
  spec.argv = {"/bin/bash", script.string()};
  std::string bin_dir = fs::path(PGRECOVER_BINARY).parent_path().string();
  const char* path = std::getenv("PATH");
  spec.env = {"PATH=" + bin_dir + ":/usr/lib/postgresql/15/bin:" + (path ? path : "/usr/bin:/bin"),
              "TMPDIR=" + tmp.path().string()};
  spec.unset_env = {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGRECOVER_CONFIG", "PGOPTIONS"};
  auto r = run_process(spec);
  stop_leftovers(tmp.path());
  INFO(r.out.substr(r.out.size() > 8000 ? r.out.size() - 8000 : 0));
  INFO(r.err.substr(r.err.size() > 8000 ? r.err.size() - 8000 : 0));
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
}
