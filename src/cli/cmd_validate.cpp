#include <iostream>

#include "app/validate.hpp"
#include "cli/context.hpp"

namespace pgr::cli {

void add_validate(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("validate", "check documents against the schemas (file:line:col errors)");
  auto paths = std::make_shared<std::vector<std::string>>();
  cmd->add_option("PATH", *paths, "YAML files or folders (all *.yaml/*.yml below)")->required();
  cmd->callback([&ctx, paths] {
    ctx.action = [&ctx, paths]() -> int {
      return app::validate(app::ValidateOptions{*paths, ctx.config_path, ctx.json}, std::cout);
    };
  });
}

}  // namespace pgr::cli
