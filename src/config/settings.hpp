// Settings: pgrecover.toml (TOML, toml++). Named connections and repositories, the state
// directory, defaults for documents, and how to run the embedded PostgreSQL. Optional: without a
// file everything has a default and documents use inline conninfo / archive paths.
// Reference: docs/settings.md.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pgr::config {

struct ConnectionRef;

struct ConnectionSettings {
  std::string name;
  std::string conninfo;      // libpq key=value or postgresql:// URI, without a password
  std::string password_env;  // name of an environment variable holding the password
  std::string passfile;      // a libpq password file (absolute after loading)
};

struct RepositorySettings {
  std::string name;
  std::string type = "posix";  // posix (a folder) | s3 (an S3-compatible bucket)
  std::filesystem::path path;  // posix: absolute after loading
  // s3 (docs/settings.md): credentials are read from the environment variables named here, at
  // the moment the repository is opened; the settings never hold them.
  std::string endpoint, bucket, prefix, region, uri_style = "host", access_key_env, secret_key_env;
  bool tls_verify = true;
  std::filesystem::path ca_file;
  std::filesystem::path staging_dir;  // s3, encrypted: where backups are staged before upload; empty: $TMPDIR
  // Client-side encryption (any type, docs/backups.md#encryption): a key file, or an environment
  // variable holding the key; older keys that still decrypt (after a rotation). Paths only: the
  // keys are read when the repository is opened, never kept in the settings.
  std::filesystem::path encryption_key_file;
  std::string encryption_key_env;
  std::vector<std::filesystem::path> decryption_key_files;
  bool encrypted() const { return !encryption_key_file.empty() || !encryption_key_env.empty(); }
  // For messages and plans: the folder, or s3://bucket[/prefix].
  std::string where() const;
  std::string origin;  // for messages: "FILE [repositories.NAME]"
};

struct InstanceSettings {
  std::filesystem::path bin_dir;  // folder with initdb, pg_ctl, postgres; empty: PATH / pg_config
  std::string run_as;             // unprivileged user for the server when run as root
};

struct Defaults {
  int jobs = 0;             // 0: not set (documents then default to 1)
  std::string compression;  // empty: not set; else a compression spec such as "zstd:3"
};

struct Settings {
  std::filesystem::path file;  // the file these came from; empty when none
  std::filesystem::path state_dir = ".pgrecover";
  std::map<std::string, ConnectionSettings> connections;
  std::map<std::string, RepositorySettings> repositories;
  InstanceSettings instance;
  Defaults defaults;

  // The conninfo to connect with: the named connection's or the inline one; a password from
  // password_env (error naming the variable when unset) or passfile is added here and ONLY
  // here — never store the result in plans or logs. Throws pgr::Error(input) for an unknown
  // connection name.
  std::string connect_string(const ConnectionRef& ref) const;
  // The same without any password, for plans, logs and reports.
  std::string display_string(const ConnectionRef& ref) const;

  const ConnectionSettings* find_connection(std::string_view name) const;
  const RepositorySettings* find_repository(std::string_view name) const;
  // The repository called `name`, needed by `who` (e.g. "BackupPolicy \"nightly\"", "--repository"):
  // the one lookup every command uses. An empty name means the only configured repository.
  // Throws Error(input) naming the settings file and what to add to it.
  const RepositorySettings& repository(std::string_view name, const std::string& who) const;
};

// explicit_path from --config (error if missing); else $PGRECOVER_CONFIG (error if missing);
// else ./pgrecover.toml if it exists; else defaults. Relative paths in the file resolve against
// the file's folder. Errors (pgr::Error, kind input) read "FILE:LINE:COL: message".
Settings load_settings(const std::string& explicit_path);

// Parses settings from text (tests, and load_settings itself). `file` names the source in
// messages and is the base for relative paths.
Settings parse_settings(std::string_view toml_text, const std::filesystem::path& file);

}  // namespace pgr::config
