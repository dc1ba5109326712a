#include "app/backup.hpp"

#include <sys/stat.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/drill.hpp"
#include "app/repositories.hpp"
#include "app/runs.hpp"
#include "config/policy_json.hpp"
#include "engine/access_check.hpp"
#include "engine/cluster_backup.hpp"
#include "engine/physical.hpp"
#include "executor/backup_runner.hpp"
#include "pg/pg.hpp"
#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::app {

namespace {

// The device of a path, or of its nearest existing ancestor.
std::optional<dev_t> device_of(fs::path p) {
  struct stat st {};
  while (!p.empty()) {
    if (::stat(p.c_str(), &st) == 0) return st.st_dev;
    if (p == p.parent_path()) break;
    p = p.parent_path();
  }
  return std::nullopt;
}

std::optional<std::string> same_filesystem_warning(const config::BackupPolicy& policy, const config::Settings& settings,
                                                   const fs::path& repo) {
  try {
    auto conn = pg::Connection::open(pg::with_dbname(settings.connect_string(policy.spec.source), "postgres"), "pgrecover plan");
    std::string data_dir = conn.exec("SELECT current_setting('data_directory')").str(0, 0);
    auto a = device_of(data_dir), b = device_of(repo);
    struct stat st {};
    if (::stat(data_dir.c_str(), &st) == 0 && a && b && *a == *b) {
      return fmt::format(
          "repository \"{}\" is on the same filesystem as the source's data directory ({}): one disk failure would "
          "take both the database and its backups; put the repository on another disk or machine",
          policy.spec.repository, data_dir);
    }
  } catch (const Error& e) {
    log::debug("could not compare the repository's filesystem with the source's data directory: {}", e.what());
  }
  return std::nullopt;
}

// Physical policies: each backup's manifest facts, the archived WAL of their clusters, and the
// source's archiving health.
void gather_physical(const config::BackupPolicy& policy, const config::Settings& settings,
                     const repository::Repository& repo, planner::BackupFacts& f) {
  try {
    auto c = pg::Connection::open(settings.connect_string(policy.spec.source), "pgrecover plan");
    for (auto& w : engine::check_archiving(c, policy.spec.cluster)) f.warnings.push_back(std::move(w));
    auto tli = c.exec("SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN '' "
                      "ELSE substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8) END");
    if (!tli.str(0, 0).empty()) f.source_timeline = static_cast<std::uint32_t>(std::stoul(tli.str(0, 0), nullptr, 16));
  } catch (const Error& e) {
    f.warnings.push_back(fmt::format("could not check WAL archiving on the source: {}", e.what()));
  }
  for (const auto& b : f.backups) {
    if (b.kind != "physical") continue;
    auto info = repository::physical_info(repo.read_manifest(b));
    if (!f.wal_files.count(info.wal_cluster)) {
      f.wal_files[info.wal_cluster] = repository::WalArchive(repo.storage_ptr(), info.wal_cluster).list();
    }
    f.physical[b.id] = std::move(info);
  }
}

}  // namespace

planner::BackupFacts gather_backup_facts(const config::BackupPolicy& policy, const config::Settings& settings) {
  const std::string& name = policy.metadata.name;
  repository::check_policy_name(name);
  const auto& rs = settings.repository(policy.spec.repository, fmt::format("BackupPolicy \"{}\"", name));
  auto repo = open_repository(rs);
  planner::BackupFacts f;
  f.policy = &policy;
  f.repository = rs.name;
  f.repository_path = repo.describe();
  f.backups = repo.list(name);
  f.repository_fingerprint = repo.fingerprint(name);
  f.now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  f.created_at = now_iso8601();
  if (policy.spec.method == config::BackupMethod::physical) gather_physical(policy, settings, repo, f);
  if (policy.spec.whole_cluster()) {
    // Read at plan time so that the plan lists what it will dump; a database the list names but
    // the source lacks is an error now, not halfway through the backup.
    auto c = pg::Connection::open(pg::with_dbname(settings.connect_string(policy.spec.source), "postgres"), "pgrecover plan");
    f.databases = config::choose_databases(policy.spec, engine::read_source_databases(c));
    for (const auto& d : f.databases)
      if (!d.dump && d.reason == "not on the source") {
        fail(ErrorKind::input, fmt::format("BackupPolicy \"{}\": database \"{}\" of spec.databases is not on the source", name, d.name),
             "remove it from spec.databases, or create it");
      }
  } else if (policy.spec.method == config::BackupMethod::logical) {
    try {
      auto c = pg::Connection::open(pg::with_dbname(settings.connect_string(policy.spec.source), policy.spec.database),
                                    "pgrecover plan");
      for (auto& w : engine::unreadable_selected(c, policy.spec)) f.warnings.push_back(std::move(w));
    } catch (const Error& e) {
      log::debug("could not check what the backup role may read: {}", e.what());
    }
  }
  if (auto w = same_filesystem_warning(policy, settings, rs.path)) f.warnings.push_back(*w);
  for (const auto& p : repo.unfinished(name)) {
    f.warnings.push_back(fmt::format("an unfinished backup folder is left from an interrupted run: {} (ignored; "
                                     "removed by the next backup)", p));
  }
  return f;
}

model::Plan plan_backup_policy(const config::BackupPolicy& policy, const config::Settings& settings) {
  model::Plan plan = planner::plan_backup_policy(gather_backup_facts(policy, settings));
  return continue_unfinished(settings, std::move(plan));
}

executor::ApplyResult apply_backup_plan(const model::Plan& given, const config::Settings& settings,
                                        const executor::ApplyOptions& options) {
  if (given.kind != "backup") fail(ErrorKind::input, fmt::format("plan {} is a {} plan, not a backup plan", given.id, given.kind));
  if (!given.params.count("policy")) fail(ErrorKind::input, fmt::format("backup plan {} has no policy", given.id));
  executor::RunFolder folder(settings.state_dir, given);
  if (folder.finished()) return folder.finished_result();
  const model::Plan& plan = folder.plan();
  auto& journal = folder.journal();

  executor::BackupRunState state;
  state.plan = &plan;
  state.policy = config::policy_from_json(nlohmann::json::parse(plan.params.at("policy")));
  const std::string& name = state.policy.metadata.name;
  const auto& rs = settings.repository(state.policy.spec.repository, fmt::format("plan {}", plan.id));
  state.repo = std::make_unique<repository::Repository>(open_repository(rs, /*create=*/true));
  // One backup of a policy at a time. The lock lives in the state directory, beside the runs,
  // because an object store has no lock files.
  create_private_dirs(settings.state_dir / "locks");
  FileLock policy_lock(settings.state_dir / "locks" / fmt::format("backup-{}-{}.lock", rs.name, name),
                       fmt::format("backup policy \"{}\"", name));
  state.source_conninfo = settings.connect_string({plan.target.connection, plan.target.conninfo});
  state.bin_dir = settings.instance.bin_dir;
  RestoreDriller driller(settings);
  state.driller = &driller;

  if (!folder.resumed()) {
    if (state.repo->fingerprint(name) != plan.fingerprints.at("repository")) {
      fail(ErrorKind::stale_plan,
           fmt::format("plan is stale: the backups of policy \"{}\" in repository \"{}\" changed since the plan was made",
                       name, rs.name),
           "plan again and review the new plan");
    }
    // Leftovers of crashed backups: never listed, removed here.
    state.repo->remove_unfinished(name);
  } else {
    for (const auto& r : journal.records())
      if (r.type == "done" && r.step == "backup:" + name && r.note.rfind("backup ", 0) == 0) state.new_backup_id = r.note.substr(7);
  }

  folder.start();
  auto runner = executor::make_backup_runner(state);
  // jobs 1: the steps depend on each other or are quick; pg_dump itself runs with the policy's jobs
  return folder.run(*runner, options, 1, [&] {
    return nlohmann::json{{"repository", rs.name}, {"backup", state.new_backup_id}};
  });
}

}  // namespace pgr::app
