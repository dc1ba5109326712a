#include "sources/repositories.hpp"

#include <cstdlib>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "storage/crypto/crypto.hpp"
#include "util/error.hpp"

namespace pgr::sources {

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

// The repository's keys, read now (never kept in the settings); errors name the settings field.
storage::crypto::Keyring keyring(const config::RepositorySettings& r) {
  namespace crypto = storage::crypto;
  auto from_file = [&](const std::filesystem::path& f, const char* field) {
    return crypto::read_key_file(f, fmt::format("{} \"{}\" ({})", field, f.string(), r.origin));
  };
  crypto::Keyring keys{r.encryption_key_file.empty()
                           ? crypto::read_key_env(r.encryption_key_env, fmt::format("encryption_key_env ({})", r.origin))
                           : from_file(r.encryption_key_file, "encryption_key_file"),
                       {}, fmt::format("{} in {}", r.encryption_key_file.empty() ? "encryption_key_env" : "encryption_key_file", r.origin)};
  for (const auto& f : r.decryption_key_files) {
    auto k = from_file(f, "decryption_key_files entry");
    if (!keys.find(k.id())) keys.previous.push_back(std::move(k));
  }
  return keys;
}

}  // namespace

repository::Repository open_repository(const config::RepositorySettings& r, bool create) {
  storage::Location where;
  where.type = r.type;
  where.path = r.path;
  where.origin = r.origin;
  where.staging_dir = r.staging_dir;
  if (r.type == "s3") {
    where.endpoint = r.endpoint;
    where.bucket = r.bucket;
    where.prefix = r.prefix;
    where.region = r.region;
    where.uri_style = r.uri_style;
    where.tls_verify = r.tls_verify;
    where.ca_file = r.ca_file;
    where.access_key = secret_from_env(r, r.access_key_env, "access_key_env");
    where.secret_key = secret_from_env(r, r.secret_key_env, "secret_key_env");
  }
  // Keys first: a bad key is refused before anything is created.
  std::optional<storage::crypto::Keyring> keys;
  if (r.encrypted()) keys = keyring(r);
  auto driver = storage::open(where, r.name, create);
  if (!keys) return repository::Repository(storage::crypto::refuse_encrypted(driver, r.name, r.origin), r.name);
  return repository::Repository(storage::crypto::encrypted(driver, std::move(*keys), r.name, r.staging_dir), r.name);
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

}  // namespace pgr::sources
