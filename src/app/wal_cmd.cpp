#include "app/wal_cmd.hpp"

#include <fmt/format.h>

#include "app/repositories.hpp"
#include "config/settings.hpp"
#include "repository/wal_archive.hpp"
#include "util/error.hpp"

namespace pgr::app {

namespace {

repository::WalArchive open_archive(const WalOptions& o, const char* who) {
  config::Settings settings = config::load_settings(o.config_path);
  return repository::WalArchive(open_repository(settings, o.repository, who).storage_ptr(), o.cluster);
}

}  // namespace

int wal_push_command(const WalOptions& o) {
  auto archive = open_archive(o, "wal push");
  archive.push(o.path, repository::parse_wal_compression(o.compress));
  return kExitOk;
}

int wal_fetch_command(const WalOptions& o, std::ostream& err) {
  auto archive = open_archive(o, "wal fetch");
  if (!archive.fetch(o.name, o.dest)) {
    // Normal during recovery (PostgreSQL probes for files that do not exist): one short line.
    err << fmt::format("pgrecover: {} is not in the archive of cluster \"{}\"\n", o.name, o.cluster);
    return kExitError;
  }
  return kExitOk;
}

}  // namespace pgr::app
