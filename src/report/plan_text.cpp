#include "report/plan_text.hpp"

#include "report/format.hpp"

#include <fmt/format.h>

#include <map>
#include <vector>

namespace pgr::report {

const char* action_symbol(model::Action a) {
  switch (a) {
    case model::Action::create: return "+";
    case model::Action::update: return "~";
    case model::Action::replace: return "-/+";
    case model::Action::remove: return "-";
    case model::Action::run: return "*";
    case model::Action::no_op: return " ";
  }
  return "?";
}

std::string summary_line(const model::Plan& plan) {
  auto s = plan.summary();
  int change = s[model::Action::update] + s[model::Action::replace] + s[model::Action::run];
  return fmt::format("Plan: {} to create, {} to change, {} to delete.", s[model::Action::create], change,
                     s[model::Action::remove]);
}

std::string render_plan_text(const model::Plan& plan, bool show_unchanged) {
  std::string out;
  std::string target = plan.target.connection.empty() ? plan.target.conninfo : "connection " + plan.target.connection;
  if (plan.kind == "restore") {
    out += fmt::format("Restore \"{}\" into database \"{}\" ({})\n", plan.document, plan.target.database, target);
    out += fmt::format("  from {}\n", plan.source);
  } else {
    out += fmt::format("{} \"{}\"\n", plan.kind, plan.document);
    // Where the backups are kept: one repository, or "2 copies: local (posix /srv/b), offsite (s3://...)".
    if (plan.kind == "backup" && !plan.source.empty()) out += fmt::format("  into {}\n", plan.source);
  }
  for (auto& [k, v] : plan.annotations) out += fmt::format("  {}: {}\n", k, v);
  out += fmt::format("  plan {}\n\n", plan.id);
  // Phases in execution order
  const std::vector<std::string> order = {"before", "globals", "database", "pre-data", "data", "post-data", "acl", "post-restore",
                                          "backup", "copy", "retention", "verify", "recovery"};
  std::map<std::string, std::vector<const model::Step*>> by_phase;
  for (const auto& s : plan.steps) by_phase[s.phase].push_back(&s);
  std::vector<std::string> phases = order;
  for (auto& [p, v] : by_phase)
    if (std::find(order.begin(), order.end(), p) == order.end()) phases.push_back(p);
  int unchanged = 0;
  for (const auto& phase : phases) {
    auto it = by_phase.find(phase);
    if (it == by_phase.end()) continue;
    std::string block;
    for (const auto* s : it->second) {
      if (s->action == model::Action::no_op && !show_unchanged) {
        ++unchanged;
        continue;
      }
      std::string size;
      if (s->estimate.rows > 0) size += fmt::format("{} rows", s->estimate.rows);
      if (s->kind == "table-data" && s->estimate.bytes > 0) {
        size += (size.empty() ? "" : ", ") + human_bytes(s->estimate.bytes) + " stored";
      }
      block += fmt::format("  {:<3} {:<16} {}{}{}\n", action_symbol(s->action), s->kind, s->object,
                           size.empty() ? "" : "  (" + size + ")", s->reason.empty() ? "" : "  # " + s->reason);
    }
    if (!block.empty()) out += phase + ":\n" + block + "\n";
  }
  if (unchanged > 0) out += fmt::format("{} step(s) unchanged (already as wanted).\n\n", unchanged);
  if (!plan.warnings.empty()) {
    out += "Warnings:\n";
    for (const auto& w : plan.warnings) out += "  - " + w + "\n";
    out += "\n";
  }
  std::int64_t bytes = 0;
  for (const auto& s : plan.steps)
    if (s.kind == "table-data" && s.action != model::Action::no_op) bytes += s.estimate.bytes;
  if (bytes > 0) out += fmt::format("Data to load: {} (as stored in the archive).\n", human_bytes(bytes));
  if (auto it = plan.params.find("estimated_seconds"); it != plan.params.end()) {
    out += fmt::format("Estimated time: {} (from {}).\n", human_duration(std::stod(it->second)),
                       plan.params.count("estimated_from") ? plan.params.at("estimated_from") : "earlier runs");
  }
  out += summary_line(plan) + "\n";
  return out;
}

std::string render_summary_text(const model::Plan& plan, const executor::Summary& s) {
  std::string out;
  out += fmt::format("Run {} of plan {}: {}\n", s.run, plan.id, s.run_status);
  out += fmt::format("  steps: {} done now, {} done by earlier runs, {} in the plan ({} unchanged)\n", s.done_now,
                     s.done_before, s.total, s.no_ops);
  if (!s.by_kind.empty()) {
    std::string kinds;
    for (auto& [k, n] : s.by_kind) kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", n, k);
    out += "  by kind: " + kinds + "\n";
  }
  out += fmt::format("  rows: {}, bytes: {}, time: {}, peak parallel steps: {}, peak memory: {}\n", s.rows,
                     human_bytes(s.bytes), human_duration(s.seconds), s.peak_parallel, human_bytes(s.peak_rss_bytes));
  if (!s.slowest.empty()) {
    out += "  slowest steps:\n";
    for (const auto& t : s.slowest) out += fmt::format("    {:>8}  {} {}\n", human_duration(static_cast<double>(t.ms) / 1000), t.kind, t.object);
  }
  for (const auto& f : s.failures) {
    out += fmt::format("  FAILED: {}\n", f.message);
    if (!f.hint.empty()) out += fmt::format("  hint: {}\n", f.hint);
  }
  return out;
}

nlohmann::json summary_json(const model::Plan& plan, const executor::Summary& s) {
  nlohmann::json slowest = nlohmann::json::array();
  for (const auto& t : s.slowest) slowest.push_back({{"step", t.id}, {"kind", t.kind}, {"object", t.object}, {"ms", t.ms}});
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& f : s.failures) {
    failures.push_back({{"step", f.step},
                        {"object", f.object},
                        {"kind", to_string(f.error_kind)},
                        {"message", f.message},
                        {"hint", f.hint},
                        {"sqlstate", f.sqlstate}});
  }
  return {{"format_version", 1},
          {"event", "summary"},
          {"plan", plan.id},
          {"run", s.run},
          {"status", s.run_status},
          {"steps_total", s.total},
          {"steps_done_before", s.done_before},
          {"steps_done", s.done_now},
          {"no_ops", s.no_ops},
          {"by_kind", s.by_kind},
          {"rows", s.rows},
          {"bytes", s.bytes},
          {"seconds", s.seconds},
          {"peak_parallel", s.peak_parallel},
          {"peak_rss_bytes", s.peak_rss_bytes},
          {"slowest", slowest},
          {"failures", failures}};
}

std::string render_nothing_to_apply(const model::Plan& plan, bool json, bool already_applied) {
  if (json) {
    return nlohmann::json{{"format_version", 1}, {"event", "summary"}, {"plan", plan.id}, {"status", "ok"},
                          {"message", already_applied ? "already applied" : "no changes"}}.dump() + "\n";
  }
  if (already_applied) return fmt::format("Plan {} was already applied completely; nothing to do.\n", plan.id);
  return render_plan_text(plan) + "\n" + fmt::format("No changes: nothing to apply for plan {}.\n", plan.id);
}

}  // namespace pgr::report
