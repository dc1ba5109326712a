#include "cli/context.hpp"

namespace pgr::cli {

void add_backups(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("backups", "list, show and verify the backups in a repository");
  cmd->require_subcommand(1);
  auto* list = cmd->add_subcommand("list", "list backups");
  list->callback([&ctx] { ctx.action = [] () -> int { not_implemented("backups list"); }; });
  auto id = std::make_shared<std::string>();
  auto* show = cmd->add_subcommand("show", "show one backup's manifest");
  show->add_option("ID", *id)->required();
  show->callback([&ctx, id] { ctx.action = [] () -> int { not_implemented("backups show"); }; });
  auto* verify = cmd->add_subcommand("verify", "check a backup's files against its manifest");
  verify->add_option("ID", *id)->required();
  verify->callback([&ctx, id] { ctx.action = [] () -> int { not_implemented("backups verify"); }; });
}

}  // namespace pgr::cli
