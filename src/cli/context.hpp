// What every subcommand sees: the global flags, and the action it registered.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace pgr::cli {

struct Context {
  std::string config_path;   // --config, else $PGRECOVER_CONFIG, else ./pgrecover.toml
  std::string log_level = "info";
  bool json = false;         // machine-readable output on stdout, JSON-lines logs on stderr
  // Set by the chosen subcommand's parse callback; returns the exit code.
  std::function<int()> action;
};

// One registration function per subcommand; each lives in cli/cmd_<name>.cpp.
void add_validate(CLI::App& app, Context& ctx);
void add_plan(CLI::App& app, Context& ctx);
void add_apply(CLI::App& app, Context& ctx);
void add_show(CLI::App& app, Context& ctx);
void add_inspect(CLI::App& app, Context& ctx);
void add_backups(CLI::App& app, Context& ctx);
void add_runs(CLI::App& app, Context& ctx);
void add_wal(CLI::App& app, Context& ctx);
void add_instance(CLI::App& app, Context& ctx);
void add_check(CLI::App& app, Context& ctx);
void add_restore_point(CLI::App& app, Context& ctx);

}  // namespace pgr::cli
