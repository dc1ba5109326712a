#include "cli/cli.hpp"

#include <unistd.h>

#include <iostream>

#include "app/errors.hpp"
#include "cli/context.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::cli {

namespace {

void report_error(const Context& ctx, const std::string& kind, const std::string& message, const std::string& hint) {
  app::report_error(std::cerr, ctx.json, kind, message, hint);
}

}  // namespace

int main(int argc, char** argv) {
  Context ctx;
  CLI::App app{
      "pgrecover - declarative plan-and-apply backup and recovery for PostgreSQL.\n"
      "Describe backups and restores in YAML; `plan` shows what would change, `apply` does it.",
      "pgrecover"};
  app.set_version_flag("--version", std::string("pgrecover ") + PGRECOVER_VERSION);
  app.option_defaults()->always_capture_default();
  app.add_option("--config", ctx.config_path,
                 "settings file (default: $PGRECOVER_CONFIG, else ./pgrecover.toml if present)");
  app.add_option("--log-level", ctx.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "off"}));
  app.add_flag("--json", ctx.json, "machine-readable output (JSON) for CI");
  app.require_subcommand(1);
  app.fallthrough();

  add_validate(app, ctx);
  add_plan(app, ctx);
  add_apply(app, ctx);
  add_show(app, ctx);
  add_inspect(app, ctx);
  add_backups(app, ctx);
  add_runs(app, ctx);
  add_wal(app, ctx);
  add_instance(app, ctx);
  add_check(app, ctx);
  add_restore_point(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the problem; we add the exit code contract (always 1 for bad flags).
    report_error(ctx, "usage", e.what(), "run \"pgrecover --help\" or \"pgrecover COMMAND --help\"");
    return kExitError;
  }

  try {
    log::install_stderr_sink(ctx.json, log::parse_level(ctx.log_level), ::isatty(2) != 0);
    if (!ctx.action) fail(ErrorKind::usage, "no command given", "run \"pgrecover --help\"");
    return ctx.action();
  } catch (const Error& e) {
    report_error(ctx, to_string(e.kind()), e.what(), e.hint());
    return exit_code_for(e.kind());
  } catch (const std::bad_alloc&) {
    report_error(ctx, "internal", "out of memory", "");
    return kExitError;
  } catch (const std::exception& e) {
    report_error(ctx, "internal", std::string("unexpected error: ") + e.what(),
                 "this is a bug in pgrecover; please report it with the command you ran");
    return kExitError;
  }
}

}  // namespace pgr::cli
