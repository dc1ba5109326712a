#include <iostream>

#include "app/inspect.hpp"
#include "cli/context.hpp"

namespace pgr::cli {

void add_inspect(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("inspect", "list the TOC of a pg_dump archive, with dependencies and sizes");
  auto path = std::make_shared<std::string>();
  cmd->add_option("ARCHIVE", *path, "a pg_dump archive (directory, custom or tar format)")->required();
  cmd->callback([&ctx, path] { ctx.action = [&ctx, path]() -> int { return app::inspect_command(*path, ctx.json, std::cout); }; });
}

}  // namespace pgr::cli
