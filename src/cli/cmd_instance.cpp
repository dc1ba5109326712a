// pgrecover instance start|stop: a throwaway PostgreSQL for trying pgrecover out (the
// quickstart uses it). start leaves it running and prints how to connect; stop removes it.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "instance/instance.hpp"
#include "util/error.hpp"

namespace pgr::cli {

void add_instance(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("instance", "a throwaway PostgreSQL instance (initdb in a temp folder)");
  cmd->require_subcommand(1);

  struct StartArgs {
    std::string base_dir;
    int port = 0;
    bool tcp = false;
    bool durable = false;
    std::vector<std::string> settings;
    std::string bin_dir;
  };
  auto a = std::make_shared<StartArgs>();
  auto* start = cmd->add_subcommand("start", "initdb and start; prints the folder and a conninfo");
  start->add_option("--base-dir", a->base_dir, "where to create the instance folder (default $TMPDIR or /tmp)");
  start->add_option("--port", a->port, "port (default: a free one)")->check(CLI::Range(1, 65535));
  start->add_flag("--tcp", a->tcp, "also listen on 127.0.0.1");
  start->add_flag("--durable", a->durable, "keep fsync on (default off: the instance is throwaway)");
  start->add_option("--set", a->settings, "a server setting NAME=VALUE (repeatable)");
  start->add_option("--bin-dir", a->bin_dir, "PostgreSQL server binaries (default: discovered)");
  start->callback([&ctx, a] {
    ctx.action = [&ctx, a]() -> int {
      instance::Options o;
      o.base_dir = a->base_dir;
      o.port = a->port;
      o.listen_tcp = a->tcp;
      o.bin_dir = a->bin_dir;
      o.keep = true;
      o.durable = a->durable;
      for (const auto& kv : a->settings) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
          fail(ErrorKind::usage, "--set takes NAME=VALUE, got \"" + kv + "\"");
        }
        o.settings.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
      }
      instance::Instance inst(o);
      if (ctx.json) {
        std::cout << nlohmann::json{{"format_version", 1},
                                    {"folder", inst.folder().string()},
                                    {"port", inst.port()},
                                    {"socket_directory", inst.socket_dir().string()},
                                    {"conninfo", inst.conninfo()}}
                         .dump()
                  << "\n";
      } else {
        std::cout << "started PostgreSQL in " << inst.folder().string() << "\n"
                  << "conninfo: " << inst.conninfo() << "\n"
                  << "stop and remove it with: pgrecover instance stop " << inst.folder().string() << "\n";
      }
      return 0;
    };
  });

  auto folder = std::make_shared<std::string>();
  auto* stop = cmd->add_subcommand("stop", "stop an instance made by start and remove its folder");
  stop->add_option("FOLDER", *folder, "the folder printed by start")->required();
  stop->callback([&ctx, folder] {
    ctx.action = [folder]() -> int {
      instance::destroy_folder(*folder);
      std::cout << "stopped and removed " << *folder << "\n";
      return 0;
    };
  });
}

}  // namespace pgr::cli
