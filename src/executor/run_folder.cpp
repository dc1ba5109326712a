#include "executor/run_folder.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "executor/run_history.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::executor {

namespace {

bool has_started_run(const std::filesystem::path& dir) {
  return std::filesystem::exists(dir / "plan.json") && std::filesystem::exists(dir / "journal");
}

// The folder of this plan's run, after the rule in run_folder.hpp: a finished run of an earlier
// plan with this id is moved aside, so the folder holds either nothing, an unfinished run (to
// continue) or a finished run of this very plan.
std::filesystem::path prepare(const std::filesystem::path& state_dir, const model::Plan& plan) {
  std::filesystem::path dir = run_dir(state_dir, plan.id);
  if (has_started_run(dir)) {
    model::Plan saved = model::load_plan((dir / "plan.json").string());
    if (saved.created_at != plan.created_at) {
      bool finished;
      {
        FileLock probe(dir / "lock", "run " + plan.id);
        finished = Journal::open(dir, plan.id).finished();
      }
      if (finished) {
        std::string stamp = saved.created_at;
        std::replace(stamp.begin(), stamp.end(), ':', '-');
        std::filesystem::path old = dir.string() + "-" + stamp;
        std::filesystem::rename(dir, old);
        fsync_dir(dir.parent_path());
        log::info("run {} finished earlier; it is kept as {} and a new run starts", plan.id, old.filename().string());
      }
    }
  }
  create_private_dirs(dir);
  return dir;
}

// The plan the run executes: the saved one when this continues an unfinished run.
model::Plan plan_to_run(const std::filesystem::path& dir, const model::Plan& given, const Journal& journal) {
  if (journal.last_run() == 0 || journal.finished() || !std::filesystem::exists(dir / "plan.json")) return given;
  model::Plan saved = model::load_plan((dir / "plan.json").string());
  if (saved.created_at != given.created_at) {
    log::info("plan {}: continuing its interrupted run, planned at {} (the plan given was made at {})", given.id,
              saved.created_at, given.created_at);
  }
  return saved;
}

}  // namespace

std::filesystem::path run_dir(const std::filesystem::path& state_dir, const std::string& plan_id) {
  if (plan_id.empty() || plan_id.find('/') != std::string::npos || plan_id.find("..") != std::string::npos) {
    fail(ErrorKind::input, fmt::format("invalid plan id \"{}\"", plan_id));
  }
  return state_dir / "runs" / plan_id;
}

std::optional<model::Plan> unfinished_plan(const std::filesystem::path& state_dir, const std::string& plan_id) {
  std::filesystem::path dir = run_dir(state_dir, plan_id);
  if (!has_started_run(dir)) return std::nullopt;
  auto journal = Journal::open(dir, plan_id);
  if (journal.finished() || journal.records().empty()) return std::nullopt;
  return model::load_plan((dir / "plan.json").string());
}

std::string half_restored_script_run(const std::filesystem::path& state_dir, const std::string& document,
                                     const model::Target& target) {
  for (const auto& r : list_runs(state_dir.string())) {
    if (r.kind != "restore" || r.document != document || r.status == "ok") continue;
    auto saved = unfinished_plan(state_dir, r.id);
    if (!saved || !saved->params.count("source_format") || saved->params.at("source_format") != "sql") continue;
    if (saved->target != target) continue;
    const auto* created = saved->find("database:" + target.database);
    if (created && created->action == model::Action::create) return r.id;
  }
  return {};
}

RunFolder::RunFolder(const std::filesystem::path& state_dir, const model::Plan& plan)
    : dir_(prepare(state_dir, plan)),
      lock_(dir_ / "lock", "run " + plan.id),
      journal_(Journal::open(dir_, plan.id)) {
  plan_ = plan_to_run(dir_, plan, journal_);
}

ApplyResult RunFolder::finished_result() const {
  ApplyResult r;
  r.run_dir = dir_.string();
  r.already_finished = true;
  r.summary.run_status = "ok";
  r.summary.total = static_cast<int>(plan_.steps.size());
  r.summary.done_before = r.summary.total;
  return r;
}

void RunFolder::start() const {
  if (!resumed()) {
    model::save_plan(plan_, (dir_ / "plan.json").string());
  } else {
    log::info("resuming run {}: {} of {} steps done", plan_.id, journal_.done_steps().size(), plan_.steps.size());
  }
}

ApplyResult RunFolder::run(StepRunner& runner, const ApplyOptions& options, int jobs,
                           const std::function<nlohmann::json()>& extra) {
  ApplyResult result;
  result.run_dir = dir_.string();
  result.resumed = resumed();
  Options eo;
  eo.jobs = jobs;
  eo.cancel = options.cancel;
  eo.on_event = options.on_event;
  result.summary = execute(plan_, runner, journal_, eo);
  const auto& sm = result.summary;
  nlohmann::json report = {{"format_version", 1},
                           {"plan", plan_.id},
                           {"kind", plan_.kind},
                           {"document", plan_.document},
                           {"annotations", plan_.annotations},
                           {"run", sm.run},
                           {"status", sm.run_status},
                           {"finished_at", now_iso8601()},
                           {"seconds", sm.seconds},
                           {"steps_total", sm.total},
                           {"steps_done", sm.done_now},
                           {"steps_done_before", sm.done_before},
                           {"rows", sm.rows},
                           {"bytes", sm.bytes}};
  if (extra) {
    nlohmann::json more = extra();  // items() must not outlive the object it iterates
    for (const auto& [k, v] : more.items()) report[k] = v;
  }
  write_file_atomic(dir_ / fmt::format("report-{}.json", sm.run), report.dump(2) + "\n", 0600);
  return result;
}

}  // namespace pgr::executor
