#include "app/runs.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <mstch/mstch.hpp>

#include "app/restore.hpp"
#include "executor/journal.hpp"
#include "model/plan.hpp"
#include "report/markdown.hpp"
#include "report/plan_text.hpp"
#include "spec/settings.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace pgr::app {

namespace {

struct Detail {
  RunInfo info;
  model::Plan plan;
  std::vector<executor::JournalRecord> records;
};

Detail read_run(const fs::path& dir) {
  Detail d;
  d.plan = model::load_plan((dir / "plan.json").string());
  // Read-only: the journal is parsed the same way apply reads it (torn tails ignored).
  auto journal = executor::Journal::open(dir, d.plan.id);
  d.records = journal.records();
  RunInfo& r = d.info;
  r.id = d.plan.id;
  r.kind = d.plan.kind;
  r.document = d.plan.document;
  r.database = d.plan.target.database;
  r.steps_total = static_cast<int>(d.plan.steps.size());
  r.steps_done = static_cast<int>(journal.done_steps().size());
  r.runs = journal.last_run();
  std::string last_end;
  for (const auto& rec : d.records) {
    if (r.started_at.empty()) r.started_at = rec.time;
    r.finished_at = rec.time;
    if (rec.type == "done") {
      r.rows += rec.rows;
      r.bytes += rec.bytes;
    }
    if (rec.type == "run-end") {
      last_end = rec.note;
      r.ms += rec.ms;
    }
  }
  bool ended = !d.records.empty() && d.records.back().type == "run-end";
  r.status = ended ? last_end : (d.records.empty() ? "planned" : "interrupted");
  return d;
}

}  // namespace

std::vector<RunInfo> list_runs(const std::string& state_dir) {
  std::vector<RunInfo> out;
  fs::path root = fs::path(state_dir) / "runs";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (!e.is_directory() || !fs::exists(e.path() / "plan.json")) continue;
    try {
      RunInfo info = read_run(e.path()).info;
      info.id = e.path().filename().string();  // earlier finished runs of the same plan id are kept under their own names
      out.push_back(info);
    } catch (const Error& err) {
      RunInfo bad;
      bad.id = e.path().filename().string();
      bad.status = std::string("unreadable: ") + err.what();
      out.push_back(bad);
    }
  }
  std::sort(out.begin(), out.end(), [](const RunInfo& a, const RunInfo& b) { return a.started_at > b.started_at; });
  return out;
}

nlohmann::json run_json(const std::string& state_dir, const std::string& id) {
  spec::Settings s;
  s.state_dir = state_dir;
  fs::path dir = run_dir(s, id);  // validates the id: no path tricks
  if (!fs::exists(fs::path(dir) / "plan.json")) {
    fail(ErrorKind::input, fmt::format("no run \"{}\" in {}", id, (fs::path(state_dir) / "runs").string()),
         "list them with \"pgrecover runs list\"");
  }
  Detail d = read_run(dir);
  const RunInfo& r = d.info;
  nlohmann::json runs = nlohmann::json::array();
  nlohmann::json failures = nlohmann::json::array();
  nlohmann::json checks = nlohmann::json::array();
  std::vector<executor::JournalRecord> done;
  nlohmann::json current;
  for (const auto& rec : d.records) {
    if (rec.type == "run-start") current = {{"run", rec.run}, {"started_at", rec.time}};
    if (rec.type == "run-end") {
      current["ended_at"] = rec.time;
      current["result"] = rec.note;
      current["ms"] = rec.ms;
      runs.push_back(current);
      current = nullptr;
    }
    if (rec.type == "failed") failures.push_back({{"run", rec.run}, {"step", rec.step}, {"message", rec.note}});
    if (rec.type == "done") {
      done.push_back(rec);
      const model::Step* st = d.plan.find(rec.step);
      if (st && (st->kind == "verify" || st->kind == "sequence-fix" || st->kind == "drill") && !rec.note.empty()) {
        checks.push_back({{"step", rec.step}, {"note", rec.note}});
      }
    }
  }
  if (!current.is_null()) {
    current["result"] = "interrupted";
    runs.push_back(current);
  }
  std::sort(done.begin(), done.end(), [](auto& a, auto& b) { return a.ms > b.ms; });
  nlohmann::json slowest = nlohmann::json::array();
  for (size_t i = 0; i < done.size() && i < 10; ++i) {
    slowest.push_back({{"step", done[i].step}, {"ms", done[i].ms}, {"rows", done[i].rows}});
  }
  return {{"format_version", 1},
          {"id", r.id},
          {"kind", r.kind},
          {"document", r.document},
          {"annotations", d.plan.annotations},
          {"source", d.plan.source},
          {"target", {{"connection", d.plan.target.connection}, {"conninfo", d.plan.target.conninfo}, {"database", d.plan.target.database}}},
          {"status", r.status},
          {"started_at", r.started_at},
          {"finished_at", r.finished_at},
          {"steps_total", r.steps_total},
          {"steps_done", r.steps_done},
          {"rows", r.rows},
          {"bytes", r.bytes},
          {"ms", r.ms},
          {"runs", runs},
          {"failures", failures},
          {"checks", checks},
          {"slowest", slowest}};
}

int runs_list_command(const std::string& config_path, bool json, std::ostream& out) {
  spec::Settings settings = spec::load_settings(config_path);
  auto runs = list_runs(settings.state_dir.string());
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : runs) {
      arr.push_back({{"id", r.id}, {"kind", r.kind}, {"document", r.document}, {"database", r.database},
                     {"status", r.status}, {"started_at", r.started_at}, {"finished_at", r.finished_at},
                     {"runs", r.runs}, {"steps_total", r.steps_total}, {"steps_done", r.steps_done},
                     {"rows", r.rows}, {"bytes", r.bytes}});
    }
    out << nlohmann::json{{"format_version", 1}, {"runs", arr}}.dump(2) << "\n";
    return 0;
  }
  if (runs.empty()) {
    out << "No runs in " << (settings.state_dir / "runs").string() << ".\n";
    return 0;
  }
  out << fmt::format("{:<20} {:<8} {:<24} {:<12} {:>11} {:>10}  {}\n", "RUN", "KIND", "DOCUMENT", "STATUS", "STEPS",
                     "DATA", "STARTED");
  for (const auto& r : runs) {
    out << fmt::format("{:<20} {:<8} {:<24} {:<12} {:>5}/{:<5} {:>10}  {}\n", r.id, r.kind, r.document, r.status,
                       r.steps_done, r.steps_total, report::human_bytes(r.bytes), r.started_at);
  }
  return 0;
}

int runs_show_command(const std::string& config_path, const std::string& id, const std::string& format,
                      std::ostream& out) {
  spec::Settings settings = spec::load_settings(config_path);
  nlohmann::json j = run_json(settings.state_dir.string(), id);
  if (format == "json") {
    out << j.dump(2) << "\n";
    return 0;
  }
  if (format == "markdown") {
    using report::md_cell;
    mstch::map ctx;
    ctx["kind"] = j["kind"].get<std::string>();
    ctx["document"] = md_cell(j["document"]);
    ctx["status"] = j["status"].get<std::string>();
    ctx["id"] = j["id"].get<std::string>();
    ctx["source"] = md_cell(j["source"]);
    ctx["target_database"] = md_cell(j["target"]["database"]);
    std::string conn = j["target"]["connection"];
    ctx["target"] = md_cell(conn.empty() ? j["target"]["conninfo"].get<std::string>() : "connection " + conn);
    mstch::array ann;
    for (auto& [k, v] : j["annotations"].items()) ann.push_back(mstch::map{{"key", md_cell(k)}, {"value", md_cell(v)}});
    ctx["has_annotations"] = !ann.empty();
    ctx["annotations"] = ann;
    ctx["runs_count"] = std::to_string(j["runs"].size());
    ctx["started_at"] = j["started_at"].get<std::string>();
    ctx["finished_at"] = j["finished_at"].get<std::string>();
    ctx["steps_total"] = std::to_string(j["steps_total"].get<int>());
    ctx["steps_done"] = std::to_string(j["steps_done"].get<int>());
    ctx["rows"] = std::to_string(j["rows"].get<std::int64_t>());
    ctx["bytes"] = report::human_bytes(j["bytes"]);
    ctx["seconds"] = report::human_duration(static_cast<double>(j["ms"].get<std::int64_t>()) / 1000);
    mstch::array runs;
    for (auto& r : j["runs"]) {
      runs.push_back(mstch::map{{"run", std::to_string(r["run"].get<int>())},
                                {"started", r.value("started_at", "")},
                                {"ended", r.value("ended_at", "")},
                                {"result", r.value("result", "")}});
    }
    ctx["has_runs"] = !runs.empty();
    ctx["runs"] = runs;
    mstch::array failures;
    for (auto& f : j["failures"]) failures.push_back(mstch::map{{"step", md_cell(f["step"])}, {"message", md_cell(f["message"])}});
    ctx["has_failures"] = !failures.empty();
    ctx["failures"] = failures;
    mstch::array checks;
    for (auto& c : j["checks"]) checks.push_back(mstch::map{{"step", md_cell(c["step"])}, {"note", md_cell(c["note"])}});
    ctx["has_checks"] = !checks.empty();
    ctx["checks"] = checks;
    mstch::array slowest;
    for (auto& s : j["slowest"]) {
      slowest.push_back(mstch::map{{"step", md_cell(s["step"])},
                                   {"time", report::human_duration(static_cast<double>(s["ms"].get<std::int64_t>()) / 1000)},
                                   {"rows", std::to_string(s["rows"].get<std::int64_t>())}});
    }
    ctx["slowest"] = slowest;
    out << mstch::render(report::template_text("run.md.mustache"), ctx);
    return 0;
  }
  out << fmt::format("Run {} ({} \"{}\" into {}): {}\n", j["id"].get<std::string>(), j["kind"].get<std::string>(),
                     j["document"].get<std::string>(), j["target"]["database"].get<std::string>(),
                     j["status"].get<std::string>());
  out << fmt::format("  steps {}/{}, rows {}, data {}, time {}\n", j["steps_done"].get<int>(), j["steps_total"].get<int>(),
                     j["rows"].get<std::int64_t>(), report::human_bytes(j["bytes"]),
                     report::human_duration(static_cast<double>(j["ms"].get<std::int64_t>()) / 1000));
  for (auto& r : j["runs"]) {
    out << fmt::format("  run {}: {} .. {}: {}\n", r["run"].get<int>(), r.value("started_at", ""), r.value("ended_at", ""),
                       r.value("result", ""));
  }
  for (auto& f : j["failures"]) out << fmt::format("  failed: {}: {}\n", f["step"].get<std::string>(), f["message"].get<std::string>());
  for (auto& c : j["checks"]) out << fmt::format("  check: {}: {}\n", c["step"].get<std::string>(), c["note"].get<std::string>());
  return 0;
}

}  // namespace pgr::app
