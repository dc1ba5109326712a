#include "support/doc_script.hpp"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "util/fs.hpp"

namespace pgr::test {

namespace fs = std::filesystem;

namespace {

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

std::string tail(const std::string& s, std::size_t n) { return s.substr(s.size() > n ? s.size() - n : 0); }

}  // namespace

std::string doc_shell_script(const std::string& page, const std::string& section, int min_blocks) {
  std::ifstream in(std::string(PGRECOVER_SOURCE_DIR) + "/docs/" + page);
  REQUIRE(in);
  std::string line, script = "set -euo pipefail\nset -x\n";
  bool in_section = section.empty(), in_block = false;
  int blocks = 0;
  while (std::getline(in, line)) {
    if (!section.empty() && line.rfind("## ", 0) == 0) in_section = line == "## " + section;
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
  REQUIRE(blocks >= min_blocks);
  return script;
}

ProcessResult run_doc_script(const std::string& script, const std::string& name) {
  TempDir tmp("pgrecover-" + name + "-test-");
  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::path file = tmp.path() / (name + ".sh");
  write_file_atomic(file, script);
  ProcessSpec spec;
  spec.argv = {"/bin/bash", file.string()};
  std::string bin_dir = fs::path(PGRECOVER_BINARY).parent_path().string();
  const char* path = std::getenv("PATH");
  spec.env = {"PATH=" + bin_dir + ":/usr/lib/postgresql/15/bin:" + (path ? path : "/usr/bin:/bin"),
              "TMPDIR=" + tmp.path().string()};
  spec.unset_env = {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGRECOVER_CONFIG", "PGOPTIONS"};
  auto r = run_process(spec);
  stop_leftovers(tmp.path());
  UNSCOPED_INFO(tail(r.out, 8000));
  UNSCOPED_INFO(tail(r.err, 8000));
  return r;
}

}  // namespace pgr::test
