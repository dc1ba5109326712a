#include "cli/context.hpp"

namespace pgr::cli {

void add_apply(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("apply", "run a saved plan, or plan and run documents with --auto-approve");
  auto paths = std::make_shared<std::vector<std::string>>();
  cmd->add_option("PATH", *paths, "a plan file, or YAML files/folders with --auto-approve")->required();
  cmd->callback([&ctx, paths] { ctx.action = [] () -> int { not_implemented("apply"); }; });
}

}  // namespace pgr::cli
