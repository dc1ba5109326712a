#include "planner/health.hpp"

#include <cmath>

#include <fmt/format.h>

#include "util/time.hpp"

namespace pgr::planner {

namespace {

using model::CheckStatus;
using model::HealthCheck;

HealthCheck make(std::string check, CheckStatus status, std::optional<double> value, std::optional<double> limit,
                 std::string message) {
  return HealthCheck{std::move(check), status, value, limit, std::move(message)};
}

CheckStatus within(double value, double limit) { return value <= limit ? CheckStatus::ok : CheckStatus::out_of_bounds; }

const HealthBackup* newest_good(const PolicyHealthFacts& f) {
  for (auto it = f.backups.rbegin(); it != f.backups.rend(); ++it)
    if (it->good) return &*it;
  return nullptr;
}

double age_of(const std::string& iso, double now) { return std::max(0.0, now - parse_iso8601(iso)); }

HealthCheck backup_age(const PolicyHealthFacts& f, const HealthBackup* newest) {
  const auto& s = f.policy->spec;
  std::optional<double> limit;
  if (s.schedule_every.count() > 0) limit = static_cast<double>(s.schedule_every.count());
  if (!newest) {
    return make("backup_age", CheckStatus::out_of_bounds, std::nullopt, limit,
                fmt::format("no good backup in repository \"{}\"{}", f.repository,
                            f.backups.empty() ? "" : " (the newest failed its verification)"));
  }
  double age = age_of(newest->backup.started_at, f.now_epoch);
  if (!limit) {
    return make("backup_age", CheckStatus::ok, age, limit,
                fmt::format("newest good backup {} is {} old (no schedule)", newest->backup.id, span_text(age)));
  }
  return make("backup_age", within(age, *limit), age, limit,
              fmt::format("newest good backup {} is {} old, schedule every {}", newest->backup.id, span_text(age),
                          span_text(*limit)));
}

// The data at risk: physical, WAL written but not archived; logical, what the newest backup misses.
HealthCheck rpo(const PolicyHealthFacts& f, const HealthBackup* newest) {
  const auto& s = f.policy->spec;
  double limit = static_cast<double>(s.rpo.count());
  if (s.method == config::BackupMethod::logical) {
    if (!newest) return make("rpo", CheckStatus::out_of_bounds, std::nullopt, limit, "no good backup: everything is at risk");
    double age = age_of(newest->backup.started_at, f.now_epoch);
    return make("rpo", within(age, limit), age, limit,
                fmt::format("a restore of the newest backup loses what was committed in the last {}, rpo {}",
                            span_text(age), span_text(limit)));
  }
  if (!f.newest_wal_epoch) {
    return make("rpo", CheckStatus::out_of_bounds, std::nullopt, limit,
                fmt::format("no WAL archived in cluster \"{}\" yet", s.cluster));
  }
  double age = std::max(0.0, f.now_epoch - *f.newest_wal_epoch);
  // Segment numbers compare across timelines without the timeline prefix.
  if (f.archiver && f.archiver->current_segment.size() == 24 && f.newest_wal.size() == 24 &&
      f.archiver->current_segment.substr(8) <= f.newest_wal.substr(8)) {
    return make("rpo", CheckStatus::ok, 0.0, limit,
                fmt::format("all WAL written is archived (newest segment {} stored {} ago), rpo {}", f.newest_wal,
                            span_text(age), span_text(limit)));
  }
  return make("rpo", within(age, limit), age, limit,
              fmt::format("WAL written after segment {} (stored {} ago) is not archived yet, rpo {}{}", f.newest_wal,
                          span_text(age), span_text(limit),
                          f.archiver ? "" : " (the source could not be asked how far it has written)"));
}

HealthCheck archive_timeout(const PolicyHealthFacts& f) {
  double limit = static_cast<double>(f.policy->spec.rpo.count());
  auto t = static_cast<double>(f.archiver->archive_timeout_seconds);
  if (t <= 0) {
    return make("archive_timeout", CheckStatus::out_of_bounds, 0.0, limit,
                fmt::format("archive_timeout is off: a partly filled segment waits until it is full, however long that "
                            "takes; set archive_timeout to at most the rpo ({})", span_text(limit)));
  }
  return make("archive_timeout", within(t, limit), t, limit,
              fmt::format("archive_timeout {}, rpo {}", span_text(t), span_text(limit)));
}

HealthCheck archiver(const PolicyHealthFacts& f) {
  const auto& a = *f.archiver;
  auto n = static_cast<double>(a.failed_count);
  if (a.archive_mode == "off") {
    return make("archiver", CheckStatus::out_of_bounds, n, std::nullopt, "archive_mode is off: no WAL is archived");
  }
  if (a.failing) {
    return make("archiver", CheckStatus::out_of_bounds, n, std::nullopt,
                fmt::format("archive_command is failing: {} failures, the last for {} at {}; last success: {}",
                            a.failed_count, a.last_failed_wal, a.last_failed_time,
                            a.last_archived_wal.empty() ? "never" : a.last_archived_wal + " at " + a.last_archived_time));
  }
  return make("archiver", CheckStatus::ok, n, std::nullopt,
              a.last_archived_wal.empty() ? "no segment archived since the server started"
                                          : fmt::format("last archived {} at {}", a.last_archived_wal, a.last_archived_time));
}

HealthCheck drill_age(const PolicyHealthFacts& f) {
  double limit = static_cast<double>(f.policy->spec.drill_every.count());
  std::string newest;
  for (const auto& b : f.backups) newest = std::max(newest, b.backup.verified_at);
  if (newest.empty()) return make("drill_age", CheckStatus::out_of_bounds, std::nullopt, limit, "no backup has passed a drill");
  double age = age_of(newest, f.now_epoch);
  return make("drill_age", within(age, limit), age, limit,
              fmt::format("newest successful drill {} ago, drill every {}", span_text(age), span_text(limit)));
}

HealthCheck restore_time(const PolicyHealthFacts& f, const HealthBackup* newest) {
  double limit = static_cast<double>(f.policy->spec.rto.count());
  if (!newest) return make("restore_time", CheckStatus::out_of_bounds, std::nullopt, limit, "no good backup to restore");
  if (!f.restore_bytes_per_second || *f.restore_bytes_per_second <= 0) {
    return make("restore_time", CheckStatus::unknown, std::nullopt, limit,
                "no restore has been measured yet: apply a Restore, a PointInTimeRecovery or a drill once");
  }
  double est = static_cast<double>(newest->backup.bytes) / *f.restore_bytes_per_second;
  return make("restore_time", within(est, limit), est, limit,
              fmt::format("restoring {} bytes at {:.1f} MB/s (measured by {}) takes about {}, rto {}", newest->backup.bytes,
                          *f.restore_bytes_per_second / 1e6, f.throughput_from, span_text(est), span_text(limit)));
}

}  // namespace

std::string span_text(double seconds) {
  auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  if (s < 120) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m", s / 60);
  if (s < 86400) return s % 3600 / 60 ? fmt::format("{}h {}m", s / 3600, s % 3600 / 60) : fmt::format("{}h", s / 3600);
  return s % 86400 / 3600 ? fmt::format("{}d {}h", s / 86400, s % 86400 / 3600) : fmt::format("{}d", s / 86400);
}

model::PolicyHealth evaluate_policy(const PolicyHealthFacts& f) {
  const auto& p = *f.policy;
  const auto& s = p.spec;
  bool physical = s.method == config::BackupMethod::physical;
  model::PolicyHealth h;
  h.policy = p.metadata.name;
  h.method = config::to_string(s.method);
  h.repository = f.repository;
  if (physical) h.cluster = s.cluster;
  if (!f.source_error.empty()) {
    h.checks.push_back(make("source", CheckStatus::out_of_bounds, std::nullopt, std::nullopt,
                            "the source cannot be reached, so no new backup can be taken: " + f.source_error));
  }
  const HealthBackup* newest = newest_good(f);
  h.checks.push_back(backup_age(f, newest));
  if (s.rpo.count() > 0) h.checks.push_back(rpo(f, newest));
  if (physical && f.archiver) {
    if (s.rpo.count() > 0) h.checks.push_back(archive_timeout(f));
    h.checks.push_back(archiver(f));
  }
  if (s.drill_every.count() > 0) h.checks.push_back(drill_age(f));
  if (s.rto.count() > 0) h.checks.push_back(restore_time(f, newest));
  return h;
}

}  // namespace pgr::planner
