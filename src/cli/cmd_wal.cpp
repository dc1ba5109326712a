// pgrecover wal push|fetch: the archive_command and restore_command of a cluster.
//   archive_command = 'pgrecover --config /etc/pgrecover.toml wal push %p --repository R --cluster C'
//   restore_command = 'pgrecover --config /etc/pgrecover.toml wal fetch %f %p --repository R --cluster C'
// Both run as the server's OS user: it must be able to read the settings file and write (push) or
// read (fetch) the repository folder. Exit 0 on success, 1 otherwise (PostgreSQL retries a failed
// push, and treats a failed fetch as "no such file").
#include <iostream>

#include <fmt/format.h>

#include "cli/context.hpp"
#include "repository/wal_archive.hpp"
#include "spec/settings.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::cli {

namespace {

struct WalArgs {
  std::string path, name, dest, repository, cluster, compress = "none";
};

repository::WalArchive open_archive(const Context& ctx, const WalArgs& a) {
  spec::Settings settings = spec::load_settings(ctx.config_path);
  const auto* repo = settings.find_repository(a.repository);
  if (!repo) {
    fail(ErrorKind::usage, fmt::format("no repository named \"{}\" in the settings", a.repository),
         settings.file.empty() ? "no settings file was found: give --config FILE (archive_command and "
                                 "restore_command run with the server's environment)"
                               : fmt::format("add [repositories.{}] to {}", a.repository, settings.file.string()));
  }
  return repository::WalArchive(repo->path, a.cluster);
}

void add_common(CLI::App* cmd, WalArgs& a) {
  cmd->add_option("--repository", a.repository, "the repository: a name from the settings")->required();
  cmd->add_option("--cluster", a.cluster, "the WAL stream (a physical BackupPolicy's spec.cluster)")->required();
}

}  // namespace

void add_wal(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("wal", "the WAL archive: push (archive_command) and fetch (restore_command)");
  cmd->require_subcommand(1);
  auto a = std::make_shared<WalArgs>();

  auto* push = cmd->add_subcommand("push", "archive one WAL file (archive_command: ... wal push %p ...)");
  push->add_option("PATH", a->path, "the file to archive (%p)")->required();
  add_common(push, *a);
  push->add_option("--compress", a->compress, "none, gzip or zstd")
      ->check(CLI::IsMember({"none", "gzip", "zstd"}));
  push->callback([&ctx, a] {
    ctx.action = [&ctx, a]() -> int {
      auto archive = open_archive(ctx, *a);
      archive.push(a->path, repository::parse_wal_compression(a->compress));
      return kExitOk;
    };
  });

  auto* fetch = cmd->add_subcommand("fetch", "restore one WAL file (restore_command: ... wal fetch %f %p ...)");
  fetch->add_option("NAME", a->name, "the file wanted (%f)")->required();
  fetch->add_option("DEST", a->dest, "where to write it (%p)")->required();
  add_common(fetch, *a);
  fetch->callback([&ctx, a] {
    ctx.action = [&ctx, a]() -> int {
      auto archive = open_archive(ctx, *a);
      if (!archive.fetch(a->name, a->dest)) {
        // Normal during recovery (PostgreSQL probes for files that do not exist): one short line.
        std::cerr << fmt::format("pgrecover: {} is not in the archive of cluster \"{}\"\n", a->name, a->cluster);
        return kExitError;
      }
      return kExitOk;
    };
  });
}

}  // namespace pgr::cli
