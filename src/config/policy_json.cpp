#include "config/policy_json.hpp"

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::config {

namespace {

using nlohmann::json;

json selection_json(const Selection& s) {
  return {{"schemas", s.schemas}, {"tables", s.tables}, {"exclude_schemas", s.exclude_schemas},
          {"exclude_tables", s.exclude_tables}};
}

json opt(const std::optional<int>& v) { return v ? json(*v) : json(nullptr); }
std::optional<int> opt_int(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<int>();
}

DumpFormat format_from(const std::string& s) {
  if (s == "directory") return DumpFormat::directory;
  if (s == "custom") return DumpFormat::custom;
  if (s == "tar") return DumpFormat::tar;
  if (s == "plain") return DumpFormat::plain;
  fail(ErrorKind::input, fmt::format("unknown dump format \"{}\" in the plan", s));
}

}  // namespace

json policy_to_json(const BackupPolicy& p) {
  const auto& s = p.spec;
  json j = {{"name", p.metadata.name},
          {"annotations", p.metadata.annotations},
          {"source", {{"connection", s.source.connection}, {"conninfo", s.source.conninfo}}},
          {"database", s.database},
          {"method", to_string(s.method)},
          {"format", to_string(s.format)},
          {"compression", {{"method", s.compression.method}, {"level", s.compression.level}}},
          {"jobs", s.jobs},
          {"globals", s.globals},
          {"select", selection_json(s.select)},
          {"repository", s.repository},
          {"cluster", s.cluster},
          {"schedule_every", s.schedule_every.count()},
          {"keep_last", opt(s.keep_last)},
          {"keep_daily", opt(s.keep_daily)},
          {"keep_weekly", opt(s.keep_weekly)},
          {"keep_monthly", opt(s.keep_monthly)},
          {"verify_checksums", s.verify_checksums},
          {"drill_every", s.drill_every.count()},
          {"drill_sql", s.drill_sql},
          {"rpo", s.rpo.count()},
          {"rto", s.rto.count()}};
  // Only when set, so the fingerprints of existing policies stay the same.
  if (s.drill_heapallindexed) j["drill_heapallindexed"] = true;
  if (s.repositories.size() > 1) j["repositories"] = s.repositories;
  if (s.all_databases) j["databases"] = "all";
  else if (!s.databases.empty()) j["databases"] = s.databases;
  if (!s.exclude_databases.empty()) j["exclude_databases"] = s.exclude_databases;
  return j;
}

BackupPolicy policy_from_json(const json& j) {
  BackupPolicy p;
  try {
    p.metadata.name = j.at("name").get<std::string>();
    p.metadata.annotations = j.value("annotations", std::map<std::string, std::string>{});
    auto& s = p.spec;
    s.source.connection = j.at("source").at("connection").get<std::string>();
    s.source.conninfo = j.at("source").at("conninfo").get<std::string>();
    s.database = j.at("database").get<std::string>();
    s.method = j.at("method").get<std::string>() == "physical" ? BackupMethod::physical : BackupMethod::logical;
    s.format = format_from(j.at("format").get<std::string>());
    s.compression.method = j.at("compression").at("method").get<std::string>();
    s.compression.level = j.at("compression").at("level").get<int>();
    s.jobs = j.at("jobs").get<int>();
    s.globals = j.at("globals").get<bool>();
    const auto& sel = j.at("select");
    s.select.schemas = sel.at("schemas").get<std::vector<std::string>>();
    s.select.tables = sel.at("tables").get<std::vector<std::string>>();
    s.select.exclude_schemas = sel.at("exclude_schemas").get<std::vector<std::string>>();
    s.select.exclude_tables = sel.at("exclude_tables").get<std::vector<std::string>>();
    s.repository = j.at("repository").get<std::string>();
    s.repositories = j.value("repositories", std::vector<std::string>{s.repository});
    s.cluster = j.value("cluster", "");
    s.schedule_every = std::chrono::seconds{j.at("schedule_every").get<long long>()};
    s.keep_last = opt_int(j, "keep_last");
    s.keep_daily = opt_int(j, "keep_daily");
    s.keep_weekly = opt_int(j, "keep_weekly");
    s.keep_monthly = opt_int(j, "keep_monthly");
    s.verify_checksums = j.value("verify_checksums", true);
    s.drill_every = std::chrono::seconds{j.at("drill_every").get<long long>()};
    s.drill_sql = j.at("drill_sql").get<std::vector<std::string>>();
    s.drill_heapallindexed = j.value("drill_heapallindexed", false);
    s.rpo = std::chrono::seconds{j.value("rpo", 0LL)};
    s.rto = std::chrono::seconds{j.value("rto", 0LL)};
    if (auto d = j.find("databases"); d != j.end()) {
      if (d->is_string()) s.all_databases = true;
      else s.databases = d->get<std::vector<std::string>>();
    }
    s.exclude_databases = j.value("exclude_databases", std::vector<std::string>{});
  } catch (const json::exception& e) {
    fail(ErrorKind::input, fmt::format("the backup plan's policy is malformed: {}", e.what()), "plan again");
  }
  return p;
}

}  // namespace pgr::config
