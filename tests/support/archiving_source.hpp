// A source cluster for the physical-backup and PITR tests: a test folder (0711) with its settings
// file, and a PostgreSQL (wal_level replica) whose archive_command is `pgrecover wal push` into a
// repository of those settings. Each test says what else its settings and server need.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "instance/instance.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

namespace pgr::test {

struct ArchivingSource {
  // `settings(base)` is the pgrecover.toml text after state_dir (its repositories); written, given
  // to the server user, before the server starts. A posix repository: posix_repository(base). archive_command pushes into `repository` as
  // WAL cluster `cluster`; `extra` server settings come after those.
  ArchivingSource(const std::string& prefix, const std::function<std::string(const std::filesystem::path&)>& settings,
                  const std::string& repository, const std::string& cluster,
                  std::vector<std::pair<std::string, std::string>> extra = {});
  TempDir base;
  std::filesystem::path config;
  std::unique_ptr<instance::Instance> server;

  // psql -At -c as the superuser; FAILs the test with psql's output on an error.
  std::string sql(const std::string& q) const;
  std::filesystem::path write(const std::string& name, const std::string& text) const;
  // host, port, user postgres, dbname postgres: what the tests' policies write.
  std::string conninfo() const;
  // pgrecover --config CONFIG ARGS...
  ProcessResult pgrecover(std::vector<std::string> args, std::vector<std::string> env = {}) const;
  // Switches to a new segment and waits until the archiver pushed the old one; returns its name.
  std::string archive_current_segment() const;
};

// Makes base/repo (0700, the server user's, so archive_command can write) and returns the
// settings text of [repositories.local] there.
std::string posix_repository(const std::filesystem::path& base);

// pg_ctl stop -m immediate of whatever server runs in data_dir (as the server user); nothing when none.
void stop_server(const std::filesystem::path& data_dir);

}  // namespace pgr::test
