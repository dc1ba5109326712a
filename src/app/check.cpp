#include "app/check.hpp"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "app/repositories.hpp"
#include "executor/run_history.hpp"
#include "pg/pg.hpp"
#include "planner/health.hpp"
#include "report/health.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::app {

namespace {

bool good(const repository::Verification& v) {
  return v.last_failure_at.empty() || (!v.verified_at.empty() && v.verified_at > v.last_failure_at);
}

// The newest segment of the cluster's archive (highest segment number, then timeline) and when it
// was stored.
void newest_wal(const repository::Repository& repo, const std::string& cluster, planner::PolicyHealthFacts& f) {
  repository::WalArchive archive(repo.storage_ptr(), cluster);
  const repository::WalArchive::Entry* best = nullptr;
  auto entries = archive.list();
  for (const auto& e : entries) {
    if (e.kind != repository::WalFileKind::segment) continue;
    if (!best || e.name.substr(8) > best->name.substr(8) ||
        (e.name.substr(8) == best->name.substr(8) && e.name > best->name)) {
      best = &e;
    }
  }
  if (!best) return;
  if (best->stored_at <= 0) return;
  f.newest_wal = best->name;
  f.newest_wal_epoch = best->stored_at;
}

void read_source(const config::BackupPolicy& p, const config::Settings& settings, planner::PolicyHealthFacts& f) {
  try {
    auto c = pg::Connection::open(pg::with_dbname(settings.connect_string(p.spec.source), "postgres"), "pgrecover check");
    if (p.spec.method != config::BackupMethod::physical) {
      c.exec("SELECT 1");
      return;
    }
    auto r = c.exec(
        "SELECT current_setting('archive_mode'), "
        "(SELECT setting::bigint * CASE unit WHEN 'min' THEN 60 WHEN 'ms' THEN 0.001 ELSE 1 END "
        "   FROM pg_catalog.pg_settings WHERE name = 'archive_timeout')::bigint, "
        "a.failed_count, coalesce(a.last_failed_wal, ''), coalesce(a.last_failed_time::text, ''), "
        "coalesce(a.last_archived_wal, ''), coalesce(a.last_archived_time::text, ''), "
        "coalesce(a.last_failed_time > coalesce(a.last_archived_time, '-infinity'), false), "
        "CASE WHEN pg_catalog.pg_is_in_recovery() THEN '' "
        "     ELSE pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()) END "
        "FROM pg_catalog.pg_stat_archiver a");
    planner::ArchiverFacts a;
    a.archive_mode = r.str(0, 0);
    a.archive_timeout_seconds = r.int64(0, 1);
    a.failed_count = r.int64(0, 2);
    a.last_failed_wal = r.str(0, 3);
    a.last_failed_time = r.str(0, 4);
    a.last_archived_wal = r.str(0, 5);
    a.last_archived_time = r.str(0, 6);
    a.failing = r.boolean(0, 7);
    a.current_segment = r.str(0, 8);
    f.archiver = a;
  } catch (const Error& e) {
    f.source_error = e.what();
  }
}

// Bytes per second of the newest successful restore (logical) or recovery (physical).
void measured_throughput(const config::BackupPolicy& p, const std::vector<executor::RunInfo>& runs,
                         planner::PolicyHealthFacts& f) {
  const char* kind = p.spec.method == config::BackupMethod::physical ? "pitr" : "restore";
  for (const auto& r : runs) {  // newest first
    if (r.kind != kind || r.status != "ok" || r.bytes <= 0 || r.ms <= 0) continue;
    f.restore_bytes_per_second = static_cast<double>(r.bytes) * 1000.0 / static_cast<double>(r.ms);
    f.throughput_from = fmt::format("run {} of {} at {}", r.id, r.document, r.finished_at);
    return;
  }
}

}  // namespace

model::HealthReport check_policies(const config::DocumentSet& docs, const config::Settings& settings) {
  model::HealthReport report;
  report.checked_at = now_iso8601();
  report.checked_epoch = now_epoch();
  std::vector<executor::RunInfo> runs;
  try {
    runs = executor::list_runs(settings.state_dir);
  } catch (const Error& e) {
    log::warn("could not read the runs in {}: {}", settings.state_dir.string(), e.what());
  }
  for (const auto& p : docs.policies) {
    const auto& rs = settings.repository(p.spec.repository, fmt::format("BackupPolicy \"{}\"", p.metadata.name));
    auto repo = open_repository(rs);  // through its driver and keys, like every command
    planner::PolicyHealthFacts f;
    f.policy = &p;
    f.repository = rs.name;
    f.now_epoch = report.checked_epoch;
    for (const auto& b : repo.list(p.metadata.name)) f.backups.push_back({b, good(repo.read_verification(b))});
    if (p.spec.method == config::BackupMethod::physical) newest_wal(repo, p.spec.cluster, f);
    read_source(p, settings, f);
    measured_throughput(p, runs, f);
    report.policies.push_back(planner::evaluate_policy(f));
  }
  return report;
}

int check_command(const CheckOptions& o, std::ostream& out) {
  auto settings = config::load_settings(o.config_path);
  std::vector<std::filesystem::path> paths;
  for (const auto& p : o.paths) paths.emplace_back(p);
  if (paths.empty()) paths.emplace_back(".");
  auto docs = config::load_documents(paths, settings);
  if (docs.policies.empty()) {
    // A monitoring job pointed at the wrong folder must not report "all good".
    fail(ErrorKind::input, "no BackupPolicy among the documents: nothing to check",
         "give the files or folders that hold your BackupPolicy documents: pgrecover check PATH...");
  }
  auto report = check_policies(docs, settings);
  if (o.format == "json") out << report::health_json(report).dump(2) << "\n";
  else if (o.format == "prometheus") out << report::render_health_prometheus(report);
  else out << report::render_health_text(report);
  return report.in_bounds() ? kExitOk : kExitOutOfBounds;
}

}  // namespace pgr::app
