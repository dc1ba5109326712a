// The ephemeral instance against the real server binaries.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "support/harness.hpp"
#include "util/fs.hpp"

#include <nlohmann/json.hpp>

using namespace pgr;

TEST_CASE("an instance starts, answers queries and is removed with its folder", "[instance]") {
  fs::path folder;
  {
    instance::Options o;
    instance::Instance inst(o);
    folder = inst.folder();
    REQUIRE(fs::exists(inst.data_dir() / "PG_VERSION"));
    auto c = pg::Connection::open(inst.conninfo());
    CHECK(c.exec("select 40 + 2").str(0, 0) == "42");
    // only a Unix socket: no TCP listener
    CHECK(c.exec("show listen_addresses").str(0, 0).empty());
    CHECK(c.exec("show unix_socket_directories").str(0, 0) == inst.socket_dir().string());
    if (running_as_root()) {
      // PostgreSQL refuses root: the server runs as "postgres"
      struct stat st {};
      REQUIRE(::stat(inst.data_dir().c_str(), &st) == 0);
      CHECK(st.st_uid == lookup_user("postgres").uid);
      CHECK(inst.server_user().has_value());
    }
  }
  CHECK_FALSE(fs::exists(folder));
}

TEST_CASE("missing server binaries are a clear error and leave nothing behind", "[instance]") {
  TempDir base;
  fs::permissions(base.path(), fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
  instance::Options o;
  o.bin_dir = base.path() / "no-such-bin";
  o.base_dir = base.path();
  CHECK_THROWS_WITH(instance::Instance(o), Catch::Contains("no PostgreSQL server binaries") &&
                                               Catch::Contains("no-such-bin"));
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(base.path())) ++entries;
  CHECK(entries == 0);
}

TEST_CASE("a TCP port in use is refused with a message naming it", "[instance]") {
  instance::Options first;
  first.listen_tcp = true;
  instance::Instance a(first);
  TempDir base;
  fs::permissions(base.path(), fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
  instance::Options second;
  second.listen_tcp = true;
  second.port = a.port();
  second.base_dir = base.path();
  CHECK_THROWS_WITH(instance::Instance(second), Catch::Contains(std::to_string(a.port())) &&
                                                    Catch::Contains("in use"));
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(base.path())) ++entries;
  CHECK(entries == 0);
}

TEST_CASE("a failing server start reports the server log and cleans up", "[instance]") {
  TempDir base;
  fs::permissions(base.path(), fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
  instance::Options o;
  o.base_dir = base.path();
  o.settings = {{"shared_buffers", "'not-a-size'"}};
  CHECK_THROWS_WITH(instance::Instance(o), Catch::Contains("pg_ctl start") && Catch::Contains("shared_buffers"));
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(base.path())) ++entries;
  CHECK(entries == 0);
}

TEST_CASE("pgrecover instance start/stop leaves a running server, then removes it", "[instance][cli]") {
  TempDir base;
  fs::permissions(base.path(), fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
  auto r = test::run_pgrecover({"--json", "instance", "start", "--base-dir", base.path().string()});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  std::string folder = j["folder"];
  {
    auto c = pg::Connection::open(j["conninfo"].get<std::string>());
    CHECK(c.exec("select current_user").str(0, 0) == "postgres");
  }
  // stop refuses a folder that is not an instance folder
  auto bad = test::run_pgrecover({"instance", "stop", base.path().string()});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("not a pgrecover instance folder") != std::string::npos);
  auto s = test::run_pgrecover({"instance", "stop", folder});
  CHECK(s.exit_code == 0);
  CHECK_FALSE(fs::exists(folder));
}

TEST_CASE("as root, a folder the server user cannot reach is refused up front", "[instance]") {
  if (!running_as_root()) return;  // the check only applies when dropping privileges
  TempDir base;  // 0700 root: "postgres" cannot traverse it
  instance::Options o;
  o.base_dir = base.path();
  CHECK_THROWS_WITH(instance::Instance(o), Catch::Contains("cannot reach") && Catch::Contains("no search permission"));
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(base.path())) ++entries;
  CHECK(entries == 0);
}
