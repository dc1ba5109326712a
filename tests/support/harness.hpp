// The test harness: a real PostgreSQL started by the tests themselves (initdb in a temporary
// folder, own port, Unix socket only; as root the server runs as "postgres"). Never a mock.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

namespace pgr::test {

// One server per test process, started on first use and stopped at exit.
instance::Instance& server();

// Creates a database with a fresh unique name on server() and returns its name.
std::string fresh_database(const std::string& prefix = "t");

// Runs the pgrecover binary built with this tree; stdin is /dev/null.
ProcessResult run_pgrecover(std::vector<std::string> args, std::vector<std::string> env = {});

// psql -X -v ON_ERROR_STOP=1 -d DB -c SQL against server(); throws with psql's output on failure.
std::string psql(const std::string& db, const std::string& sql);

std::string test_data(const std::string& relative);

// FAILs the test with the command's output when it did not exit 0.
void must(const ProcessResult& r, const std::string& what);

// SQL text without comment lines, empty lines and pg_dump's \restrict/\unrestrict lines (a random
// key per run since 15.14), so two dumps of equal schemas compare equal.
std::string without_comments(const std::string& sql);
// `pg_dump -s` of a database of `inst` (default: server()), through without_comments.
std::string schema_of(const instance::Instance& inst, const std::string& db);
std::string schema_of(const std::string& db);

// conninfo of server() for settings and documents (host, port, user postgres, dbname).
std::string server_conninfo(const std::string& db = "postgres");
// A Restore document: ARCHIVE into a new database DB of server() with jobs 2, named after DB
// ('_' becomes '-'), with `extra` lines appended to its spec (each "  key: value\n").
std::string restore_yaml(const std::string& archive, const std::string& db, const std::string& extra = "");
// The same for any instance of the tests (dbname postgres).
std::string instance_conninfo(const instance::Instance& inst);
// Every row of every user table and materialized view of a database, as "relation count:md5"
// lines in a stable order (FROM ONLY: a parent's rows apart from its children's). Fails the test
// when there is nothing to compare, which would make every equality vacuous.
std::string data_of(const instance::Instance& inst, const std::string& db);

// The OS user the servers run as when the tests run as root (postgres); nullopt otherwise.
std::optional<UserIdentity> server_user();
// As root, gives a file or folder to the OS user the servers run as (postgres); else nothing.
void give_to_server_user(const std::filesystem::path& p);

// A test's own folder: <tmp>/PREFIX-XXXXXX (0711) with a repository folder repo/ (0700, the
// server user's, so archive_command can write), a settings file pgrecover.toml (state_dir and
// [repositories.local] plus `extra_settings`) and helpers to write documents and run the CLI.
struct Workspace {
  explicit Workspace(const std::string& prefix, const std::string& extra_settings = "");
  TempDir base;
  std::filesystem::path repo, config;
  // Writes a file under base (0600).
  std::filesystem::path write(const std::string& name, const std::string& text) const;
  // Makes a folder under base that the server user can enter (0711).
  std::filesystem::path folder(const std::string& name) const;
  // pgrecover --config CONFIG ARGS...
  ProcessResult pgrecover(std::vector<std::string> args, std::vector<std::string> env = {}) const;
};

}  // namespace pgr::test
