#include "executor/run_history.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "executor/journal.hpp"
#include "executor/run_folder.hpp"
#include "model/plan.hpp"
#include "util/error.hpp"

namespace pgr::executor {

namespace fs = std::filesystem;

namespace {

struct Detail {
  RunInfo info;
  model::Plan plan;
  std::vector<JournalRecord> records;
};

Detail read_run(const fs::path& dir) {
  Detail d;
  d.plan = model::load_plan((dir / "plan.json").string());
  // Read-only: the journal is parsed the same way apply reads it (torn tails ignored).
  auto journal = Journal::open(dir, d.plan.id);
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
  fs::path dir = run_dir(state_dir, id);  // validates the id: no path tricks
  if (!fs::exists(fs::path(dir) / "plan.json")) {
    fail(ErrorKind::input, fmt::format("no run \"{}\" in {}", id, (fs::path(state_dir) / "runs").string()),
         "list them with \"pgrecover runs list\"");
  }
  Detail d = read_run(dir);
  const RunInfo& r = d.info;
  nlohmann::json runs = nlohmann::json::array();
  nlohmann::json failures = nlohmann::json::array();
  nlohmann::json checks = nlohmann::json::array();
  std::vector<JournalRecord> done;
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
      if (st && (st->kind == "verify" || st->kind == "row-count" || st->kind == "sequence-fix" || st->kind == "drill") && !rec.note.empty()) {
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

std::optional<Throughput> newest_throughput(const std::vector<RunInfo>& runs, const std::string& kind) {
  for (const auto& r : runs) {
    if (r.kind != kind || r.status != "ok" || r.bytes < kMinMeasuredBytes || r.ms <= 0) continue;
    return Throughput{static_cast<double>(r.bytes) * 1000.0 / static_cast<double>(r.ms),
                      fmt::format("run {} of {} at {}", r.id, r.document, r.finished_at)};
  }
  return std::nullopt;
}

}  // namespace pgr::executor
