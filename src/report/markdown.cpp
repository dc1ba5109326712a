#include "report/markdown.hpp"

#include <map>

#include <fmt/format.h>
#include <mstch/mstch.hpp>

#include "report/format.hpp"
#include "report/plan_text.hpp"
#include "util/error.hpp"
#include "util/redact.hpp"

namespace pgr::report {

const std::string& template_text(const std::string& name) {
  const auto& t = embedded_templates();
  auto it = t.find(name);
  if (it == t.end()) fail(ErrorKind::internal, fmt::format("no template \"{}\" compiled in", name));
  return it->second;
}

std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return redact_secrets(out);
}

std::string render_plan_markdown(const model::Plan& plan, const std::string& plan_file) {
  mstch::map ctx;
  ctx["kind"] = plan.kind;
  ctx["document"] = md_cell(plan.document);
  ctx["id"] = plan.id;
  ctx["created_at"] = plan.created_at;
  ctx["source"] = md_cell(plan.source);
  ctx["target_database"] = md_cell(plan.target.database);
  ctx["target"] = md_cell(plan.target.connection.empty() ? plan.target.conninfo : "connection " + plan.target.connection);
  mstch::array annotations;
  for (auto& [k, v] : plan.annotations) annotations.push_back(mstch::map{{"key", md_cell(k)}, {"value", md_cell(v)}});
  ctx["has_annotations"] = !annotations.empty();
  ctx["annotations"] = annotations;
  auto sum = plan.summary();
  ctx["count_create"] = std::to_string(sum[model::Action::create]);
  ctx["count_replace"] = std::to_string(sum[model::Action::replace]);
  ctx["count_update"] = std::to_string(sum[model::Action::update]);
  ctx["count_delete"] = std::to_string(sum[model::Action::remove]);
  ctx["count_run"] = std::to_string(sum[model::Action::run]);
  ctx["count_noop"] = std::to_string(sum[model::Action::no_op]);
  ctx["summary_line"] = summary_line(plan);
  std::int64_t bytes = 0;
  for (const auto& s : plan.steps)
    if (s.kind == "table-data" && s.action != model::Action::no_op) bytes += s.estimate.bytes;
  ctx["data_bytes"] = human_bytes(bytes);
  if (auto it = plan.params.find("estimated_seconds"); it != plan.params.end()) {
    ctx["estimated_time"] = human_duration(std::stod(it->second));
  }
  std::map<std::string, std::map<std::string, int>> kinds;
  for (const auto& s : plan.steps) {
    if (s.action == model::Action::no_op) continue;
    std::string col = s.action == model::Action::create    ? "create"
                      : s.action == model::Action::replace ? "replace"
                      : s.action == model::Action::remove  ? "delete"
                                                           : "other";
    kinds[s.kind][col]++;
  }
  mstch::array by_kind;
  for (auto& [k, m] : kinds) {
    by_kind.push_back(mstch::map{{"kind", k},
                                 {"create", std::to_string(m["create"])},
                                 {"replace", std::to_string(m["replace"])},
                                 {"delete", std::to_string(m["delete"])},
                                 {"other", std::to_string(m["other"])}});
  }
  ctx["has_changes_by_kind"] = !by_kind.empty();
  ctx["by_kind"] = by_kind;
  mstch::array warnings;
  for (const auto& w : plan.warnings) warnings.push_back(mstch::map{{"text", md_cell(w)}});
  ctx["has_warnings"] = !warnings.empty();
  ctx["warnings"] = warnings;
  mstch::array steps;
  for (const auto& s : plan.steps) {
    steps.push_back(mstch::map{{"symbol", std::string(action_symbol(s.action))},
                               {"kind", s.kind},
                               {"object", md_cell(s.object)},
                               {"reason", md_cell(s.reason)}});
  }
  ctx["steps"] = steps;
  ctx["step_count"] = std::to_string(plan.steps.size());
  ctx["plan_file"] = plan_file;
  return mstch::render(template_text("plan.md.mustache"), ctx);
}

}  // namespace pgr::report
