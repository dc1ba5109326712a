#include <iostream>

#include "app/backups_cmd.hpp"
#include "cli/context.hpp"

namespace pgr::cli {

void add_backups(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("backups", "list, show and verify the backups in a repository");
  cmd->require_subcommand(1);
  auto o = std::make_shared<app::BackupsOptions>();
  auto wire = [&ctx, o](CLI::App* sub, int (*fn)(const app::BackupsOptions&, std::ostream&)) {
    sub->add_option("--repository", o->repository, "a [repositories.NAME] from the settings (default: the only one)");
    sub->add_flag("--json", o->json, "machine-readable output");
    sub->callback([&ctx, o, fn] {
      ctx.action = [&ctx, o, fn]() -> int {
        o->config_path = ctx.config_path;
        o->json = o->json || ctx.json;
        return fn(*o, std::cout);
      };
    });
  };
  wire(cmd->add_subcommand("list", "list the complete backups, oldest first"), &app::backups_list_command);
  auto* show = cmd->add_subcommand("show", "show one backup's manifest");
  show->add_option("ID", o->id, "a backup id, or POLICY/ID")->required();
  wire(show, &app::backups_show_command);
  auto* verify = cmd->add_subcommand("verify", "check a backup's files against its manifest and read its archive");
  verify->add_option("ID", o->id, "a backup id, or POLICY/ID")->required();
  wire(verify, &app::backups_verify_command);
}

}  // namespace pgr::cli
