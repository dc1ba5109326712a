#include "cli/context.hpp"

namespace pgr::cli {

void add_validate(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("validate", "check documents against the schemas (file:line:col errors)");
  auto paths = std::make_shared<std::vector<std::string>>();
  cmd->add_option("PATH", *paths, "YAML files or folders (all *.yaml/*.yml below)")->required();
  cmd->callback([&ctx, paths] { ctx.action = [] () -> int { not_implemented("validate"); }; });
}

}  // namespace pgr::cli
