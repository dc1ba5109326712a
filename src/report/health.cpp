#include "report/health.hpp"

#include <cmath>
#include <map>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace pgr::report {

namespace {

using model::CheckStatus;

// The metrics each check exposes: its value and the bound it is held against.
struct MetricNames {
  const char* value;
  const char* value_help;
  const char* limit;
  const char* limit_help;
};

const MetricNames* metric_names(const std::string& check) {
  static const std::map<std::string, MetricNames> names = {
      {"backup_age", {"pgrecover_backup_age_seconds", "Age of the newest good backup of the policy.",
                      "pgrecover_backup_schedule_seconds", "The policy's schedule.every."}},
      {"rpo", {"pgrecover_data_at_risk_seconds",
               "How old the oldest committed work not yet in the repository may be (unarchived WAL, or the newest backup's age for logical policies).",
               "pgrecover_rpo_seconds", "The policy's rpo."}},
      {"archive_timeout", {"pgrecover_archive_timeout_seconds", "The source's archive_timeout (0: off).", nullptr, nullptr}},
      {"archiver", {"pgrecover_archiver_failed_count", "pg_stat_archiver.failed_count on the source.", nullptr, nullptr}},
      {"drill_age", {"pgrecover_drill_age_seconds", "Time since a backup of the policy last passed a restore drill.",
                     "pgrecover_drill_schedule_seconds", "The policy's verify.drill.every."}},
      {"restore_time", {"pgrecover_restore_estimate_seconds", "Estimated time to restore the newest good backup.",
                        "pgrecover_rto_seconds", "The policy's rto."}},
  };
  auto it = names.find(check);
  return it == names.end() ? nullptr : &it->second;
}

// A label value: backslash, double quote and line feed escaped.
std::string label_value(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

// Metric families in a fixed order; each family's samples together, after its HELP and TYPE.
class Exposition {
 public:
  void sample(const std::string& name, const std::string& help, const std::string& labels, double v) {
    if (!families_.count(name)) order_.push_back(name);
    auto& f = families_[name];
    f.help = help;
    f.samples.push_back(fmt::format("{}{{{}}} {}", name, labels, number(v)));
  }
  std::string str() const {
    std::string out;
    for (const auto& name : order_) {
      const auto& f = families_.at(name);
      out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, f.help, name);
      for (const auto& s : f.samples) out += s + "\n";
    }
    return out;
  }

 private:
  struct Family {
    std::string help;
    std::vector<std::string> samples;
  };
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

const char* mark(CheckStatus s) {
  switch (s) {
    case CheckStatus::ok: return "ok     ";
    case CheckStatus::out_of_bounds: return "FAILED ";
    case CheckStatus::unknown: return "unknown";
  }
  return "?";
}

}  // namespace

std::string render_health_text(const model::HealthReport& r) {
  std::ostringstream out;
  std::size_t bad = 0;
  for (const auto& p : r.policies) {
    bool ok = p.in_bounds();
    bad += ok ? 0 : 1;
    out << fmt::format("{} policy {} ({}, repository {}{})\n", ok ? "OK " : "OUT OF BOUNDS:", p.policy, p.method,
                       p.repository, p.cluster.empty() ? "" : ", WAL cluster " + p.cluster);
    for (const auto& c : p.checks) out << fmt::format("  {}  {:<16} {}\n", mark(c.status), c.check, c.message);
  }
  if (r.policies.empty()) out << "No BackupPolicy among the documents: nothing to check.\n";
  else if (bad == 0) out << fmt::format("All {} {} within bounds.\n", r.policies.size(), r.policies.size() == 1 ? "policy is" : "policies are");
  else out << fmt::format("{} of {} {} out of bounds.\n", bad, r.policies.size(), r.policies.size() == 1 ? "policy is" : "policies are");
  return out.str();
}

nlohmann::json health_json(const model::HealthReport& r) {
  nlohmann::json j = {{"format_version", 1}, {"checked_at", r.checked_at}, {"in_bounds", r.in_bounds()}};
  j["policies"] = nlohmann::json::array();
  for (const auto& p : r.policies) {
    nlohmann::json pj = {{"policy", p.policy},         {"method", p.method},  {"repository", p.repository},
                         {"in_bounds", p.in_bounds()}, {"checks", nlohmann::json::array()}};
    if (!p.cluster.empty()) pj["cluster"] = p.cluster;
    for (const auto& c : p.checks) {
      nlohmann::json cj = {{"check", c.check}, {"status", model::to_string(c.status)}, {"message", c.message}};
      cj["value"] = c.value ? nlohmann::json(*c.value) : nlohmann::json(nullptr);
      cj["limit"] = c.limit ? nlohmann::json(*c.limit) : nlohmann::json(nullptr);
      pj["checks"].push_back(cj);
    }
    j["policies"].push_back(pj);
  }
  return j;
}

std::string render_health_prometheus(const model::HealthReport& r) {
  Exposition e;
  e.sample("pgrecover_check_timestamp_seconds", "When pgrecover check ran (seconds since 1970).", "", r.checked_epoch);
  for (const auto& p : r.policies) {
    std::string policy = fmt::format("policy=\"{}\"", label_value(p.policy));
    e.sample("pgrecover_policy_in_bounds", "1 when every check of the policy is within its bounds, else 0.", policy,
             p.in_bounds() ? 1 : 0);
    for (const auto& c : p.checks) {
      std::string labels = fmt::format("{},check=\"{}\"", policy, label_value(c.check));
      if (c.status != CheckStatus::unknown) {
        e.sample("pgrecover_check_in_bounds", "1 when the check is within its bound, 0 when it is out of bounds.", labels,
                 c.status == CheckStatus::ok ? 1 : 0);
      }
      const MetricNames* m = metric_names(c.check);
      if (!m) continue;
      if (c.value) e.sample(m->value, m->value_help, policy, *c.value);
      if (c.limit && m->limit) e.sample(m->limit, m->limit_help, policy, *c.limit);
    }
  }
  return e.str();
}

}  // namespace pgr::report
