#include <iostream>

#include "app/restore_point_cmd.hpp"
#include "cli/context.hpp"

namespace pgr::cli {

void add_restore_point(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("restore-point",
                                 "create a named restore point on a physical policy's source, archive it and record it");
  auto o = std::make_shared<app::RestorePointOptions>();
  cmd->add_option("NAME", o->name, "the restore point's name (letters, digits, '.', '_', '-')")->required();
  cmd->add_option("--policy", o->policy, "a physical BackupPolicy among the documents")->required();
  cmd->add_option("PATH", o->paths, "documents: files or folders (default: the current folder)");
  cmd->add_option("--timeout", o->timeout, "how long to wait for the segment to be archived (default 5m)");
  cmd->add_flag("--json", o->json, "machine-readable output");
  cmd->callback([&ctx, o] {
    ctx.action = [&ctx, o]() -> int {
      o->config_path = ctx.config_path;
      o->json = o->json || ctx.json;
      return app::restore_point_command(*o, std::cout);
    };
  });
}

}  // namespace pgr::cli
