#include "app/repositories.hpp"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::app {

namespace fs = std::filesystem;

namespace {

// A credential from the environment variable the settings name; never printed.
std::string secret_from_env(const config::RepositorySettings& r, const std::string& var, const char* field) {
  const char* v = std::getenv(var.c_str());
  if (v == nullptr || *v == '\0') {
    fail(ErrorKind::input,
         fmt::format("repository \"{}\": the environment variable {} ({} in {}) is not set", r.name, var, field, r.origin),
         fmt::format("export {}=... before running pgrecover (the settings name the variable, never the secret)", var));
  }
  return v;
}

}  // namespace

repository::Repository open_repository(const config::RepositorySettings& r, bool create) {
  if (!r.encryption_key_file.empty() || !r.encryption_key_env.empty()) {
    // Refused rather than ignored: a repository someone believes encrypted must never be written in clear.
    fail(ErrorKind::input,
         fmt::format("repository \"{}\": client-side encryption (encryption_key_file / encryption_key_env in {}) is not "
                     "implemented in this version", r.name, r.origin),
         "remove the key setting, or use a version of pgrecover that encrypts");
  }
  storage::Location where;
  where.type = r.type;
  where.path = r.path;
  where.origin = r.origin;
  if (r.type == "s3") {
    where.endpoint = r.endpoint;
    where.bucket = r.bucket;
    where.prefix = r.prefix;
    where.region = r.region;
    where.uri_style = r.uri_style;
    where.tls_verify = r.tls_verify;
    where.ca_file = r.ca_file;
    where.staging_dir = r.staging_dir;
    where.access_key = secret_from_env(r, r.access_key_env, "access_key_env");
    where.secret_key = secret_from_env(r, r.secret_key_env, "secret_key_env");
  }
  return repository::Repository(storage::open(where, r.name, create), r.name);
}

repository::Repository open_repository(const config::Settings& settings, std::string_view name, const std::string& who,
                                       bool create) {
  return open_repository(settings.repository(name, who), create);
}

repository::Repository open_reachable_repository(const config::RepositorySettings& r) {
  if (r.type == "posix") {
    std::error_code ec;
    if (!fs::is_directory(r.path, ec)) {
      fail(ErrorKind::io, fmt::format("repository \"{}\": its folder \"{}\" does not exist (settings {})", r.name,
                                      r.path.string(), r.origin),
           "mount or restore the folder, or read from another copy");
    }
  }
  return open_repository(r);
}

}  // namespace pgr::app
