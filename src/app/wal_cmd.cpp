#include "app/wal_cmd.hpp"

#include <optional>
#include <vector>

#include <fmt/format.h>

#include "config/settings.hpp"
#include "repository/wal_archive.hpp"
#include "sources/repositories.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::app {

namespace {

std::vector<std::string> repository_names(const WalOptions& o) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (;;) {
    auto comma = o.repository.find(',', pos);
    std::string name = o.repository.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (name.empty()) fail(ErrorKind::input, fmt::format("--repository \"{}\": an empty repository name", o.repository),
                           "give NAME or NAME,NAME,... (names from the settings)");
    out.push_back(std::move(name));
    if (comma == std::string::npos) return out;
    pos = comma + 1;
  }
}

repository::WalArchive open_archive(const config::Settings& settings, const WalOptions& o, const std::string& name, const char* who) {
  return repository::WalArchive(sources::open_repository(settings, name, who).storage_ptr(), o.cluster);
}

}  // namespace

int wal_push_command(const WalOptions& o) {
  config::Settings settings = config::load_settings(o.config_path);
  auto names = repository_names(o);
  for (const auto& n : names) settings.repository(n, "wal push");  // every name checked before anything is written
  std::string failed;
  std::optional<Error> first;
  for (const auto& n : names) {
    try {
      open_archive(settings, o, n, "wal push").push(o.path, repository::parse_wal_compression(o.compress));
    } catch (const Error& e) {
      if (names.size() == 1) throw;
      log::warn("wal push of {} to repository \"{}\" failed: {}", o.path, n, e.what());
      failed += (failed.empty() ? "" : ", ") + n;
      if (!first) first = e;
    }
  }
  if (first) {
    fail(first->kind(), fmt::format("wal push of {} failed for repository {}: {}", o.path, failed, first->what()),
         "PostgreSQL retries the push; the repositories that have it keep it");
  }
  return kExitOk;
}

int wal_fetch_command(const WalOptions& o, std::ostream& err) {
  config::Settings settings = config::load_settings(o.config_path);
  auto names = repository_names(o);
  for (size_t i = 0; i < names.size(); ++i) {
    try {
      if (open_archive(settings, o, names[i], "wal fetch").fetch(o.name, o.dest)) return kExitOk;
    } catch (const Error& e) {
      if (names.size() == 1 || e.kind() != ErrorKind::io) throw;
      log::warn("repository \"{}\" unreachable ({}){}", names[i], e.what(),
                i + 1 < names.size() ? fmt::format(": fetching {} from \"{}\"", o.name, names[i + 1]) : "");
    }
  }
  // Normal during recovery (PostgreSQL probes for files that do not exist): one short line.
  err << fmt::format("pgrecover: {} is not in the archive of cluster \"{}\"\n", o.name, o.cluster);
  return kExitError;
}

}  // namespace pgr::app
