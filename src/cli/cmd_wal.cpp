#include "cli/context.hpp"

namespace pgr::cli {

void add_wal(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("wal", "the WAL archive: push (archive_command) and fetch (restore_command)");
  cmd->require_subcommand(1);
  auto* push = cmd->add_subcommand("push", "archive one WAL file");
  auto path = std::make_shared<std::string>();
  push->add_option("PATH", *path)->required();
  push->callback([&ctx, path] { ctx.action = [] () -> int { not_implemented("wal push"); }; });
  auto* fetch = cmd->add_subcommand("fetch", "restore one WAL file");
  auto name = std::make_shared<std::string>();
  auto dest = std::make_shared<std::string>();
  fetch->add_option("NAME", *name)->required();
  fetch->add_option("DEST", *dest)->required();
  fetch->callback([&ctx, name, dest] { ctx.action = [] () -> int { not_implemented("wal fetch"); }; });
}

}  // namespace pgr::cli
