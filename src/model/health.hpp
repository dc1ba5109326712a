// What `pgrecover check` found, as values: per BackupPolicy, one verdict per check (backup age
// against the schedule, WAL at risk against the rpo, archive_timeout, the archiver, drills, the
// estimated restore time against the rto). The health evaluator makes them (planner/health);
// report/health renders them as text, JSON or Prometheus metrics.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pgr::model {

enum class CheckStatus { ok, out_of_bounds, unknown };
const char* to_string(CheckStatus s) noexcept;  // "ok", "out_of_bounds", "unknown"

struct HealthCheck {
  std::string check;              // backup_age, rpo, archive_timeout, archiver, drill_age, restore_time, source
  CheckStatus status = CheckStatus::unknown;
  std::optional<double> value;    // seconds (ages, times) or a count (archiver failures)
  std::optional<double> limit;    // seconds: the bound the value is held against
  std::string message;            // one line a person reads
  bool operator==(const HealthCheck&) const = default;
};

struct PolicyHealth {
  std::string policy, method, repository, cluster;  // cluster: physical only
  std::vector<HealthCheck> checks;
  bool in_bounds() const;  // no check out of bounds
  bool operator==(const PolicyHealth&) const = default;
};

struct HealthReport {
  std::string checked_at;  // ISO-8601 UTC
  double checked_epoch = 0;
  std::vector<PolicyHealth> policies;
  bool in_bounds() const;
};

}  // namespace pgr::model
