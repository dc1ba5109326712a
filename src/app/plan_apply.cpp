#include "app/plan_apply.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/backup.hpp"
#include "app/pitr.hpp"
#include "app/restore.hpp"
#include "app/runs.hpp"
#include "app/signals.hpp"
#include "model/plan.hpp"
#include "report/markdown.hpp"
#include "report/plan_text.hpp"
#include "report/progress.hpp"
#include "spec/documents.hpp"
#include "spec/settings.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pgr::app {

namespace {

std::vector<std::filesystem::path> to_paths(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

// Every plannable document, filtered by --only.
std::vector<model::Plan> plan_documents(const spec::DocumentSet& docs, const spec::Settings& settings,
                                        const std::string& only) {
  std::vector<model::Plan> plans;
  bool matched = only.empty();
  for (const auto& r : docs.restores) {
    if (!only.empty() && r.metadata.name != only) continue;
    matched = true;
    plans.push_back(plan_restore_document(r, settings));
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

// An estimate of the apply time from what earlier restores in this state directory measured
// (bytes of archive data per second of run time); none without such a run: never a guess.
void estimate_time(model::Plan& plan, const spec::Settings& settings) {
  if (plan.kind != "restore") return;
  std::int64_t bytes = 0;
  for (const auto& s : plan.steps)
    if (s.kind == "table-data" && s.action != model::Action::no_op) bytes += s.estimate.bytes;
  if (bytes == 0) return;
  double best_rate = 0;
  std::string from;
  for (const auto& r : list_runs(settings.state_dir.string())) {
    if (r.kind != "restore" || r.status != "ok" || r.ms < 1000 || r.id == plan.id) continue;
    // the planned bytes of that run: its plan's data steps
    try {
      auto past = model::load_plan((std::filesystem::path(run_dir(settings, r.id)) / "plan.json").string());
      std::int64_t past_bytes = 0;
      for (const auto& s : past.steps)
        if (s.kind == "table-data" && s.action != model::Action::no_op) past_bytes += s.estimate.bytes;
      double rate = static_cast<double>(past_bytes) / (static_cast<double>(r.ms) / 1000.0);
      if (rate > 0 && (from.empty() || r.started_at > from)) {
        best_rate = rate;
        from = r.started_at;
      }
    } catch (const Error&) {
      continue;
    }
  }
  if (best_rate <= 0) return;
  plan.params["estimated_seconds"] = fmt::format("{:.0f}", static_cast<double>(bytes) / best_rate);
  plan.params["estimated_from"] = fmt::format("the throughput of the restore run started {}", from);
}

bool looks_like_plan_file(const std::string& path) {
  if (path.size() < 5 || path.substr(path.size() - 5) != ".json") return false;
  return std::filesystem::is_regular_file(path);
}

}  // namespace

int plan_command(const PlanOptions& o, std::ostream& out) {
  spec::Settings settings = spec::load_settings(o.config_path);
  spec::DocumentSet docs = spec::load_documents(to_paths(o.paths), settings);
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
  spec::Settings settings = spec::load_settings(o.config_path);
  std::vector<model::Plan> plans;
  if (o.paths.size() == 1 && looks_like_plan_file(o.paths[0])) {
    plans.push_back(model::load_plan(o.paths[0]));
  } else {
    if (!o.auto_approve) {
      fail(ErrorKind::usage, "apply runs a saved plan; to plan and apply documents at once, add --auto-approve",
           "pgrecover plan DOCS --out plan.json, review it, then pgrecover apply plan.json");
    }
    spec::DocumentSet docs = spec::load_documents(to_paths(o.paths), settings);
    bool matched = o.only.empty();
    for (const auto& r : docs.restores) {
      if (!o.only.empty() && r.metadata.name != o.only) continue;
      matched = true;
      // A run of this document that was interrupted is continued, not planned anew: the target
      // now holds its partial work.
      RestoreSource src = resolve_restore_source(r, settings);
      auto archive = archive::Archive::open(src.archive);
      TargetAccess t = resolve_target(r.spec.to, r.spec.database, settings);
      auto unfinished = unfinished_run_plan(settings, restore_plan_id_for(r, archive->toc().checksum, t.display));
      if (unfinished) {
        log::info("Restore \"{}\": an interrupted run of this document exists; continuing it", r.metadata.name);
        plans.push_back(*unfinished);
      } else {
        plans.push_back(plan_restore_document(r, settings));
      }
    }
    for (const auto& p : docs.policies) {
      if (!o.only.empty() && p.metadata.name != o.only) continue;
      matched = true;
      plans.push_back(plan_backup_policy(p, settings));
    }
    for (const auto& p : docs.recoveries) {
      if (!o.only.empty() && p.metadata.name != o.only) continue;
      matched = true;
      plans.push_back(plan_recovery(p, settings));
    }
    if (!matched) fail(ErrorKind::usage, fmt::format("no document named \"{}\" in the given paths", o.only));
  }
  auto& cancel = install_cancel_handlers();
  int rc = kExitOk;
  for (const auto& plan : plans) {
    if (!o.json) out << report::render_plan_text(plan) << "\n";
    report::ProgressPrinter progress(o.json ? report::ProgressStyle::json
                                     : o.terminal ? report::ProgressStyle::terminal
                                                  : report::ProgressStyle::log,
                                     o.json ? stdout : stderr);
    ApplyOptions ao;
    ao.jobs = o.jobs;
    ao.cancel = &cancel;
    ao.on_event = [&](const executor::Event& e) { progress(e); };
    ApplyResult res = plan.kind == "backup" ? apply_backup_plan(plan, settings, ao)
                      : plan.kind == "pitr" ? apply_recovery_plan(plan, settings, ao)
                                            : apply_restore_plan(plan, settings, ao);
    progress.finish();
    if (res.already_finished) {
      if (o.json) {
        out << nlohmann::json{{"format_version", 1}, {"event", "summary"}, {"plan", plan.id}, {"status", "ok"},
                              {"message", "already applied"}}.dump() << "\n";
      } else {
        out << fmt::format("Plan {} was already applied completely; nothing to do.\n", plan.id);
      }
      continue;
    }
    if (o.json) {
      out << report::summary_json(plan, res.summary).dump() << "\n";
    } else {
      out << report::render_summary_text(plan, res.summary);
    }
    if (res.summary.run_status == "cancelled") {
      fail(ErrorKind::cancelled, fmt::format("apply of plan {} was interrupted; run the same command again to resume", plan.id));
    }
    if (res.summary.run_status != "ok") {
      const auto& f = res.summary.failures.front();
      fail(ErrorKind::database, f.message,
           (f.hint.empty() ? std::string() : f.hint + "; ") + "fix the cause, then run the same command again: finished steps are not redone");
    }
  }
  return rc;
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
