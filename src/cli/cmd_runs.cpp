#include "cli/context.hpp"

namespace pgr::cli {

void add_runs(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("runs", "what earlier applies did, for change tickets");
  cmd->require_subcommand(1);
  auto* list = cmd->add_subcommand("list", "list runs in the state directory");
  list->callback([&ctx] { ctx.action = [] () -> int { not_implemented("runs list"); }; });
  auto run = std::make_shared<std::string>();
  auto* show = cmd->add_subcommand("show", "show one run");
  show->add_option("RUN", *run)->required();
  show->callback([&ctx, run] { ctx.action = [] () -> int { not_implemented("runs show"); }; });
}

}  // namespace pgr::cli
