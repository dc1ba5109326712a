#include "report/runs.hpp"

#include <filesystem>
#include <sstream>

#include <fmt/format.h>
#include <mstch/mstch.hpp>

#include "report/format.hpp"
#include "report/markdown.hpp"

namespace pgr::report {

nlohmann::json runs_list_json(const std::vector<executor::RunInfo>& runs) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : runs) {
    arr.push_back({{"id", r.id}, {"kind", r.kind}, {"document", r.document}, {"database", r.database},
                   {"status", r.status}, {"started_at", r.started_at}, {"finished_at", r.finished_at},
                   {"runs", r.runs}, {"steps_total", r.steps_total}, {"steps_done", r.steps_done},
                   {"rows", r.rows}, {"bytes", r.bytes}});
  }
  return {{"format_version", 1}, {"runs", arr}};
}

std::string render_runs_list(const std::vector<executor::RunInfo>& runs, const std::string& state_dir) {
  std::ostringstream out;
  if (runs.empty()) {
    out << "No runs in " << (std::filesystem::path(state_dir) / "runs").string() << ".\n";
    return out.str();
  }
  out << fmt::format("{:<20} {:<8} {:<24} {:<12} {:>11} {:>10}  {}\n", "RUN", "KIND", "DOCUMENT", "STATUS", "STEPS",
                     "DATA", "STARTED");
  for (const auto& r : runs) {
    out << fmt::format("{:<20} {:<8} {:<24} {:<12} {:>5}/{:<5} {:>10}  {}\n", r.id, r.kind, r.document, r.status,
                       r.steps_done, r.steps_total, human_bytes(r.bytes), r.started_at);
  }
  return out.str();
}

std::string render_run_markdown(const nlohmann::json& j) {
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
  ctx["bytes"] = human_bytes(j["bytes"]);
  ctx["seconds"] = human_duration(static_cast<double>(j["ms"].get<std::int64_t>()) / 1000);
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
                                 {"time", human_duration(static_cast<double>(s["ms"].get<std::int64_t>()) / 1000)},
                                 {"rows", std::to_string(s["rows"].get<std::int64_t>())}});
  }
  ctx["slowest"] = slowest;
  return mstch::render(template_text("run.md.mustache"), ctx);
}

std::string render_run_text(const nlohmann::json& j) {
  std::ostringstream out;
  out << fmt::format("Run {} ({} \"{}\" into {}): {}\n", j["id"].get<std::string>(), j["kind"].get<std::string>(),
                     j["document"].get<std::string>(), j["target"]["database"].get<std::string>(),
                     j["status"].get<std::string>());
  out << fmt::format("  steps {}/{}, rows {}, data {}, time {}\n", j["steps_done"].get<int>(), j["steps_total"].get<int>(),
                     j["rows"].get<std::int64_t>(), human_bytes(j["bytes"]),
                     human_duration(static_cast<double>(j["ms"].get<std::int64_t>()) / 1000));
  for (auto& r : j["runs"]) {
    out << fmt::format("  run {}: {} .. {}: {}\n", r["run"].get<int>(), r.value("started_at", ""), r.value("ended_at", ""),
                       r.value("result", ""));
  }
  for (auto& f : j["failures"]) out << fmt::format("  failed: {}: {}\n", f["step"].get<std::string>(), f["message"].get<std::string>());
  for (auto& c : j["checks"]) out << fmt::format("  check: {}: {}\n", c["step"].get<std::string>(), c["note"].get<std::string>());
  return out.str();
}

}  // namespace pgr::report
