// An S3-compatible server for the integration tests: s3rver (npm, installed by scripts/test into
// a cache folder) started on 127.0.0.1 on a free port with its own storage folder (it does not
// reject bad signatures: credentials are not tested here). With PGRECOVER_TEST_S3_ENDPOINT set, the
// same tests run against that endpoint instead (MinIO, AWS; see docs/development.md).
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "storage/storage.hpp"
#include "util/fs.hpp"

namespace pgr::test {

class S3Server {
 public:
  static S3Server& shared();  // started on first use, stopped at exit
  ~S3Server();

  bool external() const { return external_; }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& bucket() const { return bucket_; }
  // s3rver's storage folder (empty for an external endpoint): what the server holds, on disk.
  const std::filesystem::path& storage_dir() const { return storage_dir_; }
  // TOML for [repositories.NAME] of this server under `prefix`; credentials come from the
  // variables in env().
  std::string settings(const std::string& name, const std::string& prefix, const std::string& extra = {}) const;
  // The same as a storage location, for tests that put or read objects through the driver itself.
  storage::Location location(const std::string& prefix) const;
  // TEST_S3_ACCESS_KEY=..., TEST_S3_SECRET_KEY=... for the pgrecover child processes.
  std::vector<std::string> env() const;
  // Sets the same variables in this process, for children started without env() (a PostgreSQL
  // server whose archive_command or restore_command runs pgrecover).
  void export_env() const;

  // What s3rver holds, read from its storage folder (s3rver only; empty for an external endpoint):
  // every key of the bucket that starts with `prefix`, ...
  std::set<std::string> stored_keys(const std::string& prefix) const;
  // ... the content of one object ...
  std::string stored_object(const std::string& key) const;
  // ... and how many multipart uploads were started and neither completed nor aborted.
  std::size_t pending_uploads() const;

  void kill();     // SIGKILL (the "server died mid-upload" case)
  void start();    // (re)start on the same port and folder

 private:
  S3Server();
  bool external_ = false;
  std::string endpoint_, bucket_, region_, uri_style_ = "path", access_key_, secret_key_;
  std::filesystem::path storage_dir_;
  std::unique_ptr<TempDir> dir_;
  int port_ = 0;
  int pid_ = -1;
};

}  // namespace pgr::test
