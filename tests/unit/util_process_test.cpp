#include <catch2/catch.hpp>

#include "util/error.hpp"
#include "util/process.hpp"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "util/fs.hpp"

using namespace pgr;

TEST_CASE("run_process captures stdout, stderr and the exit code", "[process]") {
  ProcessSpec s;
  s.argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"};
  auto r = run_process(s);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
}

TEST_CASE("run_process drains large outputs on both pipes without deadlock", "[process]") {
  ProcessSpec s;
  s.argv = {"/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; head -c 300000 /dev/zero | tr '\\0' b >&2"};
  auto r = run_process(s);
  CHECK(r.ok());
  CHECK(r.out.size() == 300000);
  CHECK(r.err.size() == 300000);
}

TEST_CASE("run_process passes extra environment and a missing program fails with 127", "[process]") {
  ProcessSpec s;
  s.argv = {"/bin/sh", "-c", "printf %s \"$PGR_TEST_VAR\""};
  s.env = {"PGR_TEST_VAR=hello"};
  CHECK(run_process(s).out == "hello");
  ProcessSpec missing;
  missing.argv = {"/nonexistent/program"};
  auto r = run_process(missing);
  CHECK(r.exit_code == 127);
  CHECK(r.err.find("/nonexistent/program") != std::string::npos);
}

TEST_CASE("describe_failure redacts and keeps the tail", "[process]") {
  ProcessResult r;
  r.exit_code = 2;
  r.err = "line1\nconnection to password=abc failed\n";
  std::string d = describe_failure("pg_dump", r);
  CHECK(d.find("pg_dump exited with code 2") != std::string::npos);
  CHECK(d.find("abc") == std::string::npos);
}

TEST_CASE("lookup_user of an unknown user is a clear error", "[process]") {
  CHECK_THROWS_WITH(lookup_user("no_such_user_pgrecover"), Catch::Contains("no_such_user_pgrecover"));
}

TEST_CASE("run_process stops a cancelled child and its process group", "[process]") {
  // A shell that starts a second sleeper in its group (as pg_dump -j forks workers) and waits.
  TempDir dir;
  auto marker = dir.path() / "child.pid";
  std::atomic<bool> cancel{false};
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 60 & echo $! > " + marker.string() + "; wait"};
  spec.cancel = &cancel;
  spec.new_process_group = true;
  std::thread stopper([&] {
    for (int i = 0; i < 100 && !std::filesystem::exists(marker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cancel = true;
  });
  auto t0 = std::chrono::steady_clock::now();
  ProcessResult r = run_process(spec);
  stopper.join();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.cancelled);
  CHECK_FALSE(r.ok());
  CHECK(took < 10);  // not the 60 s of the sleepers
  // The grandchild went with the group: its pid no longer runs (or is not ours any more).
  REQUIRE(std::filesystem::exists(marker));
  pid_t grandchild = std::stoi(read_file(marker));
  for (int i = 0; i < 100 && ::kill(grandchild, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(::kill(grandchild, 0) != 0);
}

TEST_CASE("run_process without a cancel request runs to the end", "[process]") {
  std::atomic<bool> cancel{false};
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 0.3; echo done"};
  spec.cancel = &cancel;
  ProcessResult r = run_process(spec);
  CHECK(r.ok());
  CHECK_FALSE(r.cancelled);
  CHECK(r.out == "done\n");
}
