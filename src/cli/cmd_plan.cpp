#include <iostream>

#include "app/plan_apply.hpp"
#include "cli/context.hpp"

namespace pgr::cli {

void add_plan(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("plan", "compare documents with reality and print what apply would do");
  auto o = std::make_shared<app::PlanOptions>();
  cmd->add_option("PATH", o->paths, "YAML files or folders")->required();
  cmd->add_option("--only", o->only, "plan only the document with this name");
  cmd->add_option("--out", o->out, "write the plan as JSON to this file (always, even with no changes)");
  cmd->add_option("--out-dir", o->out_dir, "write one plan per document into this folder as KIND-NAME.json");
  cmd->add_flag("--detailed-exitcode", o->detailed_exitcode, "exit 0 when nothing changes, 2 when something would");
  cmd->add_flag("--show-unchanged", o->show_unchanged, "list no-op steps too");
  cmd->callback([&ctx, o] {
    ctx.action = [&ctx, o]() -> int {
      o->config_path = ctx.config_path;
      o->json = ctx.json;
      return app::plan_command(*o, std::cout);
    };
  });
}

}  // namespace pgr::cli
