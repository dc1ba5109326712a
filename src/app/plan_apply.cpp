#include "app/plan_apply.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/backup.hpp"
#include "app/pitr.hpp"
#include "app/restore.hpp"
#include "app/runs.hpp"
#include "app/signals.hpp"
#include "config/documents.hpp"
#include "config/settings.hpp"
#include "executor/run_folder.hpp"
#include "executor/run_history.hpp"
#include "model/plan.hpp"
#include "planner/time_estimate.hpp"
#include "report/markdown.hpp"
#include "report/plan_text.hpp"
#include "report/progress.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pgr::app {

namespace {

std::vector<std::filesystem::path> to_paths(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

// Every plannable document, filtered by --only.
std::vector<model::Plan> plan_documents(const config::DocumentSet& docs, const config::Settings& settings,
                                        const std::string& only) {
  std::vector<model::Plan> plans;
  bool matched = only.empty();
  for (const auto& r : docs.restores) {
    if (!only.empty() && r.metadata.name != only) continue;
    matched = true;
    for (auto& p : plan_restore_documents(r, settings)) plans.push_back(std::move(p));
  }
  for (const auto& p : docs.policies) {
    if (!only.empty() && p.metadata.name != only) continue;
    matched = true;
    plans.push_back(plan_backup_policy(p, settings));
  }
  for (const auto& p : docs.recoveries) {
    if (!only.empty() && p.metadata.name != only) continue;
    matched = true;
    plans.push_back(plan_recovery(p, settings));
  }
  if (!matched) fail(ErrorKind::usage, fmt::format("no document named \"{}\" in the given paths", only));
  return plans;
}

// An estimate of the apply time from the throughput the newest earlier restore in this state
// directory measured (one that ran at least a second: shorter ones measure start-up, not speed);
// none without such a run.
void estimate_time(model::Plan& plan, const config::Settings& settings) {
  if (plan.kind != "restore") return;
  auto runs = executor::list_runs(settings.state_dir.string());
  std::erase_if(runs, [&](const executor::RunInfo& r) { return r.id == plan.id || r.ms < 1000; });
  if (auto t = executor::newest_throughput(runs, "restore")) planner::add_time_estimate(plan, t->bytes_per_second, t->from);
}

bool is_yaml_name(const std::string& path) {
  auto ext = std::filesystem::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

}  // namespace

int plan_command(const PlanOptions& o, std::ostream& out) {
  config::Settings settings = config::load_settings(o.config_path);
  config::DocumentSet docs = config::load_documents(to_paths(o.paths), settings);
  auto plans = plan_documents(docs, settings, o.only);
  if (!o.out.empty() && plans.size() != 1) {
    fail(ErrorKind::usage,
         fmt::format("--out writes one plan, but {} documents were planned", plans.size()),
         "name the document with --only NAME");
  }
  if (!o.out.empty() && !o.out_dir.empty()) fail(ErrorKind::usage, "give --out or --out-dir, not both");
  for (auto& p : plans) estimate_time(p, settings);
  bool changes = false;
  nlohmann::json all = nlohmann::json::array();
  for (const auto& p : plans) {
    changes = changes || p.has_changes();
    if (o.json) {
      all.push_back(model::to_json(p));
    } else {
      out << report::render_plan_text(p, o.show_unchanged) << "\n";
    }
  }
  if (o.json) out << nlohmann::json{{"format_version", 1}, {"plans", all}}.dump(2) << "\n";
  if (!o.out.empty()) {
    model::save_plan(plans.front(), o.out);
    if (!o.json) out << fmt::format("Saved the plan to {}. Apply exactly this plan with:\n  pgrecover apply {}\n", o.out, o.out);
  }
  if (!o.out_dir.empty()) {
    create_private_dirs(o.out_dir);
    for (const auto& p : plans) {
      std::string file = (std::filesystem::path(o.out_dir) / fmt::format("{}-{}.json", p.kind, p.document)).string();
      model::save_plan(p, file);
      if (!o.json) out << fmt::format("Saved the plan of {} \"{}\" to {}.\n", p.kind, p.document, file);
    }
  }
  if (plans.empty() && !o.json) out << "Nothing to plan.\n";
  return o.detailed_exitcode && changes ? kExitChanges : kExitOk;
}

int apply_command(const ApplyCommandOptions& o, std::ostream& out) {
  config::Settings settings = config::load_settings(o.config_path);
  std::vector<model::Plan> plans;
  if (o.paths.size() == 1 && model::is_plan_file(o.paths[0])) {
    plans.push_back(model::load_plan(o.paths[0]));
  } else {
    if (!o.auto_approve) {
      // One file that is not YAML was meant as a plan: say what is wrong with it.
      if (o.paths.size() == 1 && std::filesystem::is_regular_file(o.paths[0]) && !is_yaml_name(o.paths[0])) {
        model::load_plan(o.paths[0]);
      }
      fail(ErrorKind::usage, "apply runs a saved plan; to plan and apply documents at once, add --auto-approve",
           "pgrecover plan DOCS --out plan.json, review it, then pgrecover apply plan.json");
    }
    config::DocumentSet docs = config::load_documents(to_paths(o.paths), settings);
    plans = plan_documents(docs, settings, o.only);
  }
  auto& cancel = install_cancel_handlers();
  for (const auto& plan : plans) {
    if (!plan.has_changes()) {
      // Every step is a no-op: no run is started (and none is recorded).
      out << report::render_nothing_to_apply(plan, o.json, /*already_applied=*/false);
      continue;
    }
    if (!o.json) out << report::render_plan_text(plan) << "\n";
    report::ProgressPrinter progress(o.json ? report::ProgressStyle::json
                                     : o.terminal ? report::ProgressStyle::terminal
                                                  : report::ProgressStyle::log,
                                     o.json ? stdout : stderr);
    executor::ApplyOptions ao;
    ao.jobs = o.jobs;
    ao.cancel = &cancel;
    ao.on_event = [&](const executor::Event& e) { progress(e); };
    executor::ApplyResult res = plan.kind == "backup" ? apply_backup_plan(plan, settings, ao)
                      : plan.kind == "pitr" ? apply_recovery_plan(plan, settings, ao)
                                            : apply_restore_plan(plan, settings, ao);
    progress.finish();
    if (res.already_finished) {
      out << report::render_nothing_to_apply(plan, o.json, /*already_applied=*/true);
      continue;
    }
    out << (o.json ? report::summary_json(plan, res.summary).dump() + "\n" : report::render_summary_text(plan, res.summary));
    if (res.summary.run_status == "cancelled") {
      fail(ErrorKind::cancelled, fmt::format("apply of plan {} was interrupted; run the same command again to resume", plan.id));
    }
    if (res.summary.run_status != "ok") {
      const auto& f = res.summary.failures.front();
      fail(f.error_kind, f.message,
           (f.hint.empty() ? std::string() : f.hint + "; ") + "fix the cause, then run the same command again: finished steps are not redone");
    }
  }
  return kExitOk;
}

int show_command(const ShowOptions& o, std::ostream& out) {
  model::Plan plan = model::load_plan(o.plan_file);
  if (o.format == "json") {
    out << model::to_json(plan).dump(2) << "\n";
  } else if (o.format == "markdown") {
    out << report::render_plan_markdown(plan);
  } else {
    out << report::render_plan_text(plan, o.show_unchanged);
  }
  return kExitOk;
}

}  // namespace pgr::app
