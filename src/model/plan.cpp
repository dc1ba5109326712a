#include "model/plan.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace pgr::model {

const char* to_string(Action a) noexcept {
  switch (a) {
    case Action::create: return "create";
    case Action::replace: return "replace";
    case Action::update: return "update";
    case Action::remove: return "delete";
    case Action::run: return "run";
    case Action::no_op: return "no-op";
  }
  return "?";
}

Action parse_action(const std::string& s) {
  if (s == "create") return Action::create;
  if (s == "replace") return Action::replace;
  if (s == "update") return Action::update;
  if (s == "delete") return Action::remove;
  if (s == "run") return Action::run;
  if (s == "no-op") return Action::no_op;
  fail(ErrorKind::input, fmt::format("unknown step action \"{}\"", s));
}

const char* to_string(LockMode m) noexcept {
  switch (m) {
    case LockMode::none: return "none";
    case LockMode::share: return "share";
    case LockMode::exclusive: return "exclusive";
  }
  return "?";
}

namespace {

LockMode parse_lock(const std::string& s) {
  if (s == "none") return LockMode::none;
  if (s == "share") return LockMode::share;
  if (s == "exclusive") return LockMode::exclusive;
  fail(ErrorKind::input, fmt::format("unknown lock mode \"{}\"", s));
}

template <typename T>
T field(const nlohmann::json& j, const char* name, const std::string& where) {
  if (!j.is_object() || !j.contains(name)) {
    fail(ErrorKind::input, fmt::format("plan file: {} has no \"{}\"", where, name),
         "the file is not a pgrecover plan, or it was edited by hand; plan again with --out");
  }
  try {
    return j.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(ErrorKind::input, fmt::format("plan file: {}.{} has the wrong type", where, name),
         "the file is not a pgrecover plan, or it was edited by hand; plan again with --out");
  }
}

template <typename T>
T field_or(const nlohmann::json& j, const char* name, T fallback, const std::string& where) {
  if (!j.contains(name)) return fallback;
  return field<T>(j, name, where);
}

}  // namespace

const Step* Plan::find(const std::string& step_id) const {
  for (const auto& s : steps) {
    if (s.id == step_id) return &s;
  }
  return nullptr;
}

std::map<Action, int> Plan::summary() const {
  std::map<Action, int> out;
  for (const auto& s : steps) out[s.action]++;
  return out;
}

bool Plan::has_changes() const {
  for (const auto& s : steps) {
    if (s.action != Action::no_op) return true;
  }
  return false;
}

nlohmann::json to_json(const Plan& plan) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : plan.steps) {
    nlohmann::json locks = nlohmann::json::array();
    for (const auto& l : s.locks) locks.push_back({{"table", l.table}, {"mode", to_string(l.mode)}});
    nlohmann::json js = {{"id", s.id},
                         {"kind", s.kind},
                         {"phase", s.phase},
                         {"object", s.object},
                         {"action", to_string(s.action)},
                         {"reason", s.reason},
                         {"depends_on", s.depends_on},
                         {"estimate", {{"rows", s.estimate.rows}, {"bytes", s.estimate.bytes}}},
                         {"locks", locks}};
    if (s.toc_id) js["toc_id"] = s.toc_id;
    if (!s.params.empty()) js["params"] = s.params;
    steps.push_back(std::move(js));
  }
  nlohmann::json summary = nlohmann::json::object();
  for (Action a : {Action::create, Action::replace, Action::update, Action::remove, Action::run, Action::no_op}) {
    summary[to_string(a)] = 0;
  }
  for (auto& [a, n] : plan.summary()) summary[to_string(a)] = n;
  return {{"format_version", plan.format_version},
          {"id", plan.id},
          {"created_at", plan.created_at},
          {"kind", plan.kind},
          {"document", plan.document},
          {"annotations", plan.annotations},
          {"fingerprints", plan.fingerprints},
          {"source", plan.source},
          {"target",
           {{"connection", plan.target.connection},
            {"conninfo", plan.target.conninfo},
            {"database", plan.target.database}}},
          {"warnings", plan.warnings},
          {"params", plan.params},
          {"summary", summary},
          {"steps", steps}};
}

Plan plan_from_json(const nlohmann::json& j) {
  Plan p;
  p.format_version = field<int>(j, "format_version", "plan");
  if (p.format_version > kPlanFormatVersion) {
    fail(ErrorKind::input,
         fmt::format("plan file format_version {} is newer than this pgrecover understands ({})", p.format_version,
                     kPlanFormatVersion),
         "apply it with the pgrecover version that made it, or plan again");
  }
  p.id = field<std::string>(j, "id", "plan");
  p.created_at = field<std::string>(j, "created_at", "plan");
  p.kind = field<std::string>(j, "kind", "plan");
  p.document = field_or<std::string>(j, "document", "", "plan");
  p.annotations = field_or<std::map<std::string, std::string>>(j, "annotations", {}, "plan");
  p.fingerprints = field_or<std::map<std::string, std::string>>(j, "fingerprints", {}, "plan");
  p.source = field_or<std::string>(j, "source", "", "plan");
  p.warnings = field_or<std::vector<std::string>>(j, "warnings", {}, "plan");
  p.params = field_or<std::map<std::string, std::string>>(j, "params", {}, "plan");
  if (j.contains("target")) {
    const auto& t = j.at("target");
    p.target.connection = field_or<std::string>(t, "connection", "", "plan.target");
    p.target.conninfo = field_or<std::string>(t, "conninfo", "", "plan.target");
    p.target.database = field_or<std::string>(t, "database", "", "plan.target");
  }
  auto steps = field<nlohmann::json>(j, "steps", "plan");
  if (!steps.is_array()) fail(ErrorKind::input, "plan file: steps is not a list");
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& js = steps[i];
    std::string where = fmt::format("steps[{}]", i);
    Step s;
    s.id = field<std::string>(js, "id", where);
    s.kind = field<std::string>(js, "kind", where);
    s.phase = field_or<std::string>(js, "phase", "", where);
    s.object = field_or<std::string>(js, "object", "", where);
    s.action = parse_action(field<std::string>(js, "action", where));
    s.reason = field_or<std::string>(js, "reason", "", where);
    s.depends_on = field_or<std::vector<std::string>>(js, "depends_on", {}, where);
    if (js.contains("estimate")) {
      s.estimate.rows = field_or<std::int64_t>(js["estimate"], "rows", 0, where + ".estimate");
      s.estimate.bytes = field_or<std::int64_t>(js["estimate"], "bytes", 0, where + ".estimate");
    }
    s.toc_id = field_or<int>(js, "toc_id", 0, where);
    if (js.contains("locks")) {
      for (const auto& l : js["locks"]) {
        s.locks.push_back({field<std::string>(l, "table", where + ".locks"),
                           parse_lock(field<std::string>(l, "mode", where + ".locks"))});
      }
    }
    s.params = field_or<std::map<std::string, std::string>>(js, "params", {}, where);
    p.steps.push_back(std::move(s));
  }
  return p;
}

void save_plan(const Plan& plan, const std::string& path) {
  write_file_atomic(path, to_json(plan).dump(2) + "\n", 0600);
}

Plan load_plan(const std::string& path) {
  std::string text = read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(ErrorKind::input, fmt::format("{}: not a plan file: invalid JSON at byte {}", path, e.byte),
         "give a file written by \"pgrecover plan --out\"");
  }
  try {
    return plan_from_json(j);
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("{}: {}", path, e.what()), e.hint());
  }
}

bool is_plan_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::string text = read_file(path);
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') return false;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("format_version") && j.contains("id") && j.contains("kind") && j.contains("steps");
}

}  // namespace pgr::model
