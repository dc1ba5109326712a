// Settings (pgrecover.toml): finding the file, errors with their lines, passwords.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "config/documents.hpp"
#include "config/settings.hpp"
#include "util/fs.hpp"

using namespace pgr;
using namespace pgr::config;

namespace {

// Sets (or unsets, for nullptr) an environment variable for the scope of a test.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~EnvVar() {
    if (had_) ::setenv(name_.c_str(), old_.c_str(), 1);
    else ::unsetenv(name_.c_str());
  }

 private:
  std::string name_, old_;
  bool had_ = false;
};

const char* kSettings = R"(state_dir = "state"

[connections.prod]
conninfo = "host=db.example.com user=backup dbname=postgres"
password_env = "PGR_TEST_PROD_PASSWORD"

[connections.uri]
conninfo = "postgresql://backup@db.example.com/postgres?sslmode=require"
password_env = "PGR_TEST_PROD_PASSWORD"

[connections.drill]
conninfo = "host=drill"
passfile = "secrets/drill.pgpass"

[repositories.local]
path = "repo"

[defaults]
jobs = 4
compression = "zstd:3"

[instance]
bin_dir = "/usr/lib/postgresql/15/bin"
run_as = "postgres"
)";

std::vector<Problem> problems_of(const std::string& toml) {
  try {
    parse_settings(toml, "/etc/pgr/pgrecover.toml");
  } catch (const ValidationFailed& e) {
    return e.problems();
  }
  return {};
}

}  // namespace

TEST_CASE("config: settings are parsed, with paths relative to the file", "[config]") {
  Settings s = parse_settings(kSettings, "/etc/pgr/pgrecover.toml");
  CHECK(s.file == "/etc/pgr/pgrecover.toml");
  CHECK(s.state_dir == "/etc/pgr/state");
  REQUIRE(s.find_connection("prod") != nullptr);
  CHECK(s.find_connection("prod")->password_env == "PGR_TEST_PROD_PASSWORD");
  CHECK(s.find_connection("drill")->passfile == "/etc/pgr/secrets/drill.pgpass");
  REQUIRE(s.find_repository("local") != nullptr);
  CHECK(s.find_repository("local")->path == "/etc/pgr/repo");
  CHECK(s.find_repository("nope") == nullptr);
  CHECK(s.defaults.jobs == 4);
  CHECK(s.defaults.compression == "zstd:3");
  CHECK(s.instance.bin_dir == "/usr/lib/postgresql/15/bin");
  CHECK(s.instance.run_as == "postgres");
}

TEST_CASE("config: bad TOML is reported with its line", "[config]") {
  auto p = problems_of("state_dir = \"x\"\n[connections.prod]\nconninfo = \"host=db\n");
  REQUIRE(p.size() == 1);
  CHECK(p[0].where.file == "/etc/pgr/pgrecover.toml");
  CHECK(p[0].where.line == 3);
  CHECK_THAT(p[0].message, Catch::StartsWith("TOML syntax error"));
}

TEST_CASE("config: settings keys, types and values are checked, all at once", "[config]") {
  auto p = problems_of("stat_dir = \"x\"\n[defaults]\njobs = 100\ncompression = \"gzip:11\"\nlog_format = \"xml\"\n"
                       "[repositories.r]\npaht = \"x\"\n[connections.c]\nconninfo = 5\n");
  REQUIRE(p.size() == 7);
  CHECK(p[0].str() == "/etc/pgr/pgrecover.toml:1:1: unknown key \"stat_dir\" (did you mean \"state_dir\"?)");
  CHECK(p[1].where.line == 3);
  CHECK_THAT(p[1].message, Catch::Contains("out of range (1 to 64)"));
  CHECK(p[2].where.line == 4);
  CHECK(p[3].where.line == 5);
  CHECK_THAT(p[4].message + p[5].message + p[6].message, Catch::Contains("\"paht\" in [repositories.r] (did you mean \"path\"?)") &&
                                                             Catch::Contains("missing required key \"path\"") &&
                                                             Catch::Contains("connections.c.conninfo must be a string"));
  auto pw = problems_of("[connections.c]\nconninfo = \"host=db password=secret\"\n");
  REQUIRE(pw.size() == 1);
  CHECK_THAT(pw[0].message, Catch::Contains("contains a password"));
  CHECK(pw[0].message.find("secret") == std::string::npos);
}

TEST_CASE("config: the settings file is found by --config, $PGRECOVER_CONFIG, ./pgrecover.toml", "[config]") {
  TempDir dir;
  write_file_atomic(dir.path() / "a.toml", "[repositories.a]\npath = \"/a\"\n");
  write_file_atomic(dir.path() / "b.toml", "[repositories.b]\npath = \"/b\"\n");
  EnvVar env("PGRECOVER_CONFIG", (dir.path() / "b.toml").c_str());
  CHECK(load_settings((dir.path() / "a.toml").string()).find_repository("a") != nullptr);
  CHECK(load_settings("").find_repository("b") != nullptr);
  // a missing file given explicitly is an error, never silently ignored
  try {
    load_settings((dir.path() / "missing.toml").string());
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::input);
    CHECK_THAT(e.what(), Catch::Contains("missing.toml") && Catch::Contains("--config") &&
                             Catch::Contains("does not exist"));
  }
  EnvVar missing("PGRECOVER_CONFIG", (dir.path() / "gone.toml").c_str());
  CHECK_THROWS_WITH(load_settings(""), Catch::Contains("$PGRECOVER_CONFIG"));
  EnvVar none("PGRECOVER_CONFIG", nullptr);
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  Settings defaults = load_settings("");  // no ./pgrecover.toml here
  write_file_atomic(dir.path() / "pgrecover.toml", "[repositories.here]\npath = \"r\"\n");
  Settings found = load_settings("");
  std::filesystem::current_path(cwd);
  CHECK(defaults.file.empty());
  CHECK(defaults.connections.empty());
  CHECK(defaults.state_dir == ".pgrecover");
  REQUIRE(found.find_repository("here") != nullptr);
  CHECK(found.find_repository("here")->path == dir.path() / "r");
}

TEST_CASE("config: connect_string adds the password, display_string never shows one", "[config]") {
  const Settings s = parse_settings(kSettings, "/etc/pgr/pgrecover.toml");
  {
    EnvVar pw("PGR_TEST_PROD_PASSWORD", "s3 cr'et");
    CHECK(s.connect_string({"prod", ""}) ==
          "host=db.example.com user=backup dbname=postgres password='s3 cr\\'et'");
    CHECK(s.connect_string({"uri", ""}) ==
          "postgresql://backup@db.example.com/postgres?sslmode=require&password=s3%20cr%27et");
    for (const char* name : {"prod", "uri", "drill"}) {
      const std::string shown = s.display_string({name, ""});
      CHECK(shown.find("s3") == std::string::npos);
      CHECK(shown.find("password") == std::string::npos);
    }
    CHECK(s.display_string({"", "host=x password=hunter2"}).find("hunter2") == std::string::npos);
  }
  CHECK(s.connect_string({"drill", ""}) == "host=drill passfile='/etc/pgr/secrets/drill.pgpass'");
  CHECK(s.connect_string({"", "dbname=postgres"}) == "dbname=postgres");
  {
    EnvVar unset("PGR_TEST_PROD_PASSWORD", nullptr);
    try {
      (void)s.connect_string({"prod", ""});
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::input);
      CHECK_THAT(e.what(), Catch::Contains("$PGR_TEST_PROD_PASSWORD") && Catch::Contains("not set"));
    }
  }
  CHECK_THROWS_WITH(s.connect_string({"prdo", ""}), Catch::Contains("unknown connection \"prdo\" (did you mean \"prod\"?)"));
  CHECK_THROWS_WITH(s.display_string({"nope", ""}), Catch::Contains("unknown connection"));
}
