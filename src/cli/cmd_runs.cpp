#include <iostream>

#include "app/runs.hpp"
#include "cli/context.hpp"

namespace pgr::cli {

void add_runs(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("runs", "what earlier applies did, for change tickets");
  cmd->require_subcommand(1);
  auto* list = cmd->add_subcommand("list", "list runs in the state directory");
  list->callback([&ctx] { ctx.action = [&ctx]() -> int { return app::runs_list_command(ctx.config_path, ctx.json, std::cout); }; });
  auto run = std::make_shared<std::string>();
  auto markdown = std::make_shared<bool>(false);
  auto* show = cmd->add_subcommand("show", "show one run: steps, timings, failures, verification results");
  show->add_option("RUN", *run, "a run id (the plan id) from runs list")->required();
  show->add_flag("--markdown", *markdown, "Markdown for change tickets");
  show->callback([&ctx, run, markdown] {
    ctx.action = [&ctx, run, markdown]() -> int {
      return app::runs_show_command(ctx.config_path, *run, *markdown ? "markdown" : ctx.json ? "json" : "text", std::cout);
    };
  });
}

}  // namespace pgr::cli
