#include "app/runs.hpp"

#include <nlohmann/json.hpp>

#include "executor/journal.hpp"
#include "executor/run_folder.hpp"
#include "executor/run_history.hpp"
#include "report/runs.hpp"
#include "util/log.hpp"

namespace pgr::app {

int runs_list_command(const std::string& config_path, bool json, std::ostream& out) {
  config::Settings settings = config::load_settings(config_path);
  auto runs = executor::list_runs(settings.state_dir.string());
  if (json) {
    out << report::runs_list_json(runs).dump(2) << "\n";
  } else {
    out << report::render_runs_list(runs, settings.state_dir.string());
  }
  return 0;
}

int runs_show_command(const std::string& config_path, const std::string& id, const std::string& format,
                      std::ostream& out) {
  config::Settings settings = config::load_settings(config_path);
  nlohmann::json j = executor::run_json(settings.state_dir.string(), id);
  if (format == "json") {
    out << j.dump(2) << "\n";
  } else if (format == "markdown") {
    out << report::render_run_markdown(j);
  } else {
    out << report::render_run_text(j);
  }
  return 0;
}

std::optional<model::Plan> unfinished_run(const config::Settings& settings, const std::string& plan_id) {
  auto saved = executor::unfinished_plan(settings.state_dir, plan_id);
  if (saved) log::info("{} \"{}\": an interrupted run of plan {} exists; continuing it", saved->kind, saved->document, plan_id);
  return saved;
}

model::Plan continue_unfinished(const config::Settings& settings, model::Plan plan) {
  if (auto saved = unfinished_run(settings, plan.id)) return std::move(*saved);
  return plan;
}

bool finished_run_exists(const config::Settings& settings, const std::string& plan_id) {
  auto dir = executor::run_dir(settings.state_dir, plan_id);
  if (!std::filesystem::exists(dir / "plan.json") || !std::filesystem::exists(dir / "journal")) return false;
  return executor::Journal::open(dir, plan_id).finished();
}

}  // namespace pgr::app
