#include <unistd.h>

#include <iostream>

#include "app/plan_apply.hpp"
#include "cli/context.hpp"

namespace pgr::cli {

void add_apply(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("apply", "run a saved plan, or plan and run documents with --auto-approve");
  auto o = std::make_shared<app::ApplyCommandOptions>();
  cmd->add_option("PATH", o->paths, "a plan file from plan --out, or YAML files/folders with --auto-approve")->required();
  cmd->add_flag("--auto-approve", o->auto_approve, "plan the documents and apply without a saved plan");
  cmd->add_option("--only", o->only, "with --auto-approve: only the document with this name");
  cmd->add_option("--jobs", o->jobs, "parallel workers (default: the plan's jobs)")->check(CLI::Range(1, 64));
  cmd->callback([&ctx, o] {
    ctx.action = [&ctx, o]() -> int {
      o->config_path = ctx.config_path;
      o->json = ctx.json;
      o->terminal = ::isatty(2) != 0;
      return app::apply_command(*o, std::cout);
    };
  });
}

}  // namespace pgr::cli
