#include <iostream>

#include "app/plan_apply.hpp"
#include "cli/context.hpp"

namespace pgr::cli {

void add_show(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("show", "render a saved plan as text, JSON or Markdown");
  auto o = std::make_shared<app::ShowOptions>();
  auto markdown = std::make_shared<bool>(false);
  cmd->add_option("PLANFILE", o->plan_file, "a plan written by plan --out")->required();
  cmd->add_flag("--markdown", *markdown, "Markdown for pull requests and change tickets");
  cmd->add_flag("--show-unchanged", o->show_unchanged, "list no-op steps too (text)");
  cmd->callback([&ctx, o, markdown] {
    ctx.action = [&ctx, o, markdown]() -> int {
      if (*markdown) o->format = "markdown";
      else if (ctx.json) o->format = "json";
      return app::show_command(*o, std::cout);
    };
  });
}

}  // namespace pgr::cli
