#include <iostream>

#include "app/instance_cmd.hpp"
#include "cli/context.hpp"

namespace pgr::cli {

void add_instance(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("instance", "a throwaway PostgreSQL instance (initdb in a temp folder)");
  cmd->require_subcommand(1);

  auto a = std::make_shared<app::InstanceStartOptions>();
  auto* start = cmd->add_subcommand("start", "initdb and start; prints the folder and a conninfo");
  start->add_option("--base-dir", a->base_dir, "where to create the instance folder (default $TMPDIR or /tmp)");
  start->add_option("--port", a->port, "port (default: a free one)")->check(CLI::Range(1, 65535));
  start->add_flag("--tcp", a->tcp, "also listen on 127.0.0.1");
  start->add_flag("--durable", a->durable, "keep fsync on (default off: the instance is throwaway)");
  start->add_option("--set", a->settings, "a server setting NAME=VALUE (repeatable)");
  start->add_option("--bin-dir", a->bin_dir, "PostgreSQL server binaries (default: discovered)");
  start->callback([&ctx, a] {
    ctx.action = [&ctx, a]() -> int {
      a->json = ctx.json;
      return app::instance_start_command(*a, std::cout);
    };
  });

  auto folder = std::make_shared<std::string>();
  auto* stop = cmd->add_subcommand("stop", "stop an instance made by start and remove its folder");
  stop->add_option("FOLDER", *folder, "the folder printed by start")->required();
  stop->callback([&ctx, folder] { ctx.action = [folder]() -> int { return app::instance_stop_command(*folder, std::cout); }; });
}

}  // namespace pgr::cli
