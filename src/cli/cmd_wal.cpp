#include <iostream>

#include "app/wal_cmd.hpp"
#include "cli/context.hpp"

namespace pgr::cli {

namespace {

void add_common(CLI::App* cmd, app::WalOptions& o) {
  cmd->add_option("--repository", o.repository, "the repository: a name from the settings, or several comma-separated (a policy's copies: push stores in all, fetch reads the first that has the file)")->required();
  cmd->add_option("--cluster", o.cluster, "the WAL stream (a physical BackupPolicy's spec.cluster)")->required();
}

}  // namespace

void add_wal(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("wal", "the WAL archive: push (archive_command) and fetch (restore_command)");
  cmd->require_subcommand(1);
  auto o = std::make_shared<app::WalOptions>();

  auto* push = cmd->add_subcommand("push", "archive one WAL file (archive_command: ... wal push %p ...)");
  push->add_option("PATH", o->path, "the file to archive (%p)")->required();
  add_common(push, *o);
  push->add_option("--compress", o->compress, "none, gzip or zstd")->check(CLI::IsMember({"none", "gzip", "zstd"}));
  push->callback([&ctx, o] {
    ctx.action = [&ctx, o]() -> int {
      o->config_path = ctx.config_path;
      return app::wal_push_command(*o);
    };
  });

  auto* fetch = cmd->add_subcommand("fetch", "restore one WAL file (restore_command: ... wal fetch %f %p ...)");
  fetch->add_option("NAME", o->name, "the file wanted (%f)")->required();
  fetch->add_option("DEST", o->dest, "where to write it (%p)")->required();
  add_common(fetch, *o);
  fetch->callback([&ctx, o] {
    ctx.action = [&ctx, o]() -> int {
      o->config_path = ctx.config_path;
      return app::wal_fetch_command(*o, std::cerr);
    };
  });
}

}  // namespace pgr::cli
