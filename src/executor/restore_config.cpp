#include "executor/restore_config.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace pgr::executor {

namespace {

std::string param(const model::Plan& plan, const char* key) {
  auto it = plan.params.find(key);
  return it == plan.params.end() ? std::string() : it->second;
}

}  // namespace

RestoreRunnerConfig restore_config_of(const model::Plan& plan, const Journal& journal, const std::string& admin_conninfo,
                                      const std::string& target_conninfo) {
  RestoreRunnerConfig cfg;
  cfg.single_transaction = plan.params.count("single_transaction") > 0;
  cfg.admin_conninfo = admin_conninfo;
  cfg.target_conninfo = target_conninfo;
  cfg.application_name = fmt::format("pgrecover apply {} worker", plan.id);
  cfg.no_owner = param(plan, "roles") == "no-owner";
  if (auto s = param(plan, "session_settings"); !s.empty()) {
    cfg.session_settings = nlohmann::json::parse(s).get<std::map<std::string, std::string>>();
  }
  for (const auto& r : journal.records())
    if (r.type == "done" && !r.step.empty()) cfg.prior_rows[r.step] = r.rows;
  cfg.no_tablespaces = param(plan, "tablespaces") == "default";
  if (auto m = param(plan, "tablespace_map"); !m.empty()) {
    cfg.tablespace_map = nlohmann::json::parse(m).get<std::map<std::string, std::string>>();
  }
  return cfg;
}

int restore_jobs(const model::Plan& plan, int option_jobs) {
  if (plan.params.count("single_transaction")) return 1;  // one transaction is one connection
  if (option_jobs > 0) return option_jobs;
  auto j = param(plan, "jobs");
  return j.empty() ? 1 : std::stoi(j);
}

}  // namespace pgr::executor
