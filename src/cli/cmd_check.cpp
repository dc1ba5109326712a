#include <iostream>

#include "app/check.hpp"
#include "cli/context.hpp"

namespace pgr::cli {

void add_check(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("check", "are the backup policies within their bounds (backup age, RPO, archiver, "
                                          "drills, RTO)? exit 5 when one is not");
  auto o = std::make_shared<app::CheckOptions>();
  auto format = std::make_shared<std::string>();
  cmd->add_option("PATH", o->paths, "documents: files or folders (default: the current folder)");
  cmd->add_option("--format", *format, "text, json or prometheus (the text exposition format)")
      ->check(CLI::IsMember({"text", "json", "prometheus"}));
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "the same as --format json");
  cmd->callback([&ctx, o, format, json] {
    ctx.action = [&ctx, o, format, json]() -> int {
      o->config_path = ctx.config_path;
      o->format = !format->empty() ? *format : (*json || ctx.json) ? "json" : "text";
      return app::check_command(*o, std::cout);
    };
  });
}

}  // namespace pgr::cli
