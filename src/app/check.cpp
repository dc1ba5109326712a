#include "app/check.hpp"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "catalog/archiver.hpp"
#include "executor/run_history.hpp"
#include "pg/pg.hpp"
#include "planner/health.hpp"
#include "report/health.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "sources/repositories.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::app {

namespace {

void read_source(const config::BackupPolicy& p, const config::Settings& settings, planner::PolicyHealthFacts& f) {
  try {
    auto c = pg::Connection::open(pg::with_dbname(settings.connect_string(p.spec.source), "postgres"), "pgrecover check");
    if (p.spec.method == config::BackupMethod::physical) f.archiver = catalog::read_archiver(c);
    else c.exec("SELECT 1");
  } catch (const Error& e) {
    f.source_error = e.what();
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
    auto repo = sources::open_repository(rs);  // through its driver and keys, like every command
    planner::PolicyHealthFacts f;
    f.policy = &p;
    f.repository = rs.name;
    f.now_epoch = report.checked_epoch;
    for (const auto& b : repo.list(p.metadata.name)) f.backups.push_back({b, repo.read_verification(b).good()});
    if (p.spec.method == config::BackupMethod::physical) {
      auto newest = repository::WalArchive(repo.storage_ptr(), p.spec.cluster).newest_segment();
      if (newest && newest->stored_at > 0) {
        f.newest_wal = newest->name;
        f.newest_wal_epoch = newest->stored_at;
      }
    }
    read_source(p, settings, f);
    if (auto t = executor::newest_throughput(runs, p.spec.method == config::BackupMethod::physical ? "pitr" : "restore")) {
      f.restore_bytes_per_second = t->bytes_per_second;
      f.throughput_from = t->from;
    }
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
