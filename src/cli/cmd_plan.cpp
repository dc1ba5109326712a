#include "cli/context.hpp"

namespace pgr::cli {

void add_plan(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("plan", "compare documents with reality and print what apply would do");
  auto paths = std::make_shared<std::vector<std::string>>();
  cmd->add_option("PATH", *paths, "YAML files or folders")->required();
  cmd->callback([&ctx, paths] { ctx.action = [] () -> int { not_implemented("plan"); }; });
}

}  // namespace pgr::cli
