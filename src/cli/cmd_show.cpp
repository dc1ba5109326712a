#include "cli/context.hpp"

namespace pgr::cli {

void add_show(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("show", "render a saved plan as text, JSON or Markdown");
  auto path = std::make_shared<std::string>();
  cmd->add_option("PLANFILE", *path, "a plan written by plan --out")->required();
  cmd->callback([&ctx, path] { ctx.action = [] () -> int { not_implemented("show"); }; });
}

}  // namespace pgr::cli
