#include "app/pitr.hpp"

#include <signal.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/restore_point_before.hpp"
#include "app/runs.hpp"
#include "executor/pitr_runner.hpp"
#include "instance/instance.hpp"
#include "instance/tablespace_links.hpp"
#include "planner/pitr_planner.hpp"
#include "repository/physical.hpp"
#include "repository/repository.hpp"
#include "repository/restore_points.hpp"
#include "repository/wal_archive.hpp"
#include "repository/wal_view.hpp"
#include "sources/physical_source.hpp"
#include "sources/repositories.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"
#include "util/process.hpp"
#include "util/time.hpp"

namespace pgr::app {

namespace P = model::pitr_param;

model::Plan plan_recovery(const config::PointInTimeRecovery& doc, const config::Settings& settings,
                          const std::string& only_backup) {
  if (settings.file.empty()) {
    fail(ErrorKind::input, "point-in-time recovery needs a settings file: restore_command runs `pgrecover --config FILE wal fetch`",
         "give --config FILE (or $PGRECOVER_CONFIG)");
  }
  planner::PitrFacts f;
  // The repository named (or the policy's first), else the policy's other copies in order: the
  // first reachable one holding a physical backup of the policy. The plan reads from that one
  // (restore_command included) and says why when it is not the one named.
  std::string who = fmt::format("PointInTimeRecovery \"{}\"", doc.metadata.name);
  std::vector<std::string> names = {doc.spec.repository};
  names.insert(names.end(), doc.spec.fallback_repositories.begin(), doc.spec.fallback_repositories.end());
  auto found = sources::find_physical_backups(settings, names, doc.spec.policy, only_backup, who);
  f.backups = std::move(found.backups);
  const auto& skipped = found.skipped;
  const config::RepositorySettings* chosen = found.settings;
  config::PointInTimeRecovery read_doc = doc;  // the document as planned: reading from the chosen copy
  read_doc.spec.repository = chosen->name;
  read_doc.spec.fallback_repositories.clear();
  for (const auto& n : names)
    if (n != chosen->name) read_doc.spec.fallback_repositories.push_back(n);
  const auto& s = read_doc.spec;
  const auto& rs = *chosen;
  auto& repo = *found.repository;
  if (!skipped.empty() && !f.backups.empty()) {
    std::string note;
    for (const auto& x : skipped) note += (note.empty() ? "" : "; ") + x;
    note += fmt::format(": reading from repository \"{}\" (base backup and WAL)", rs.name);
    log::warn("{}", note);
    f.warnings.push_back(note);
  }
  repository::StoredWalArchives wal(repo.storage_ptr());
  f.document = &read_doc;
  f.repository_path = repo.describe();
  f.wal = &wal;
  if (!f.backups.empty()) f.restore_points = repository::list_restore_points(repo.storage(), f.backups.back().info.wal_cluster);
  f.data_directory_empty = empty_or_absent(s.data_directory);
  if (!f.data_directory_empty && s.move_aside_existing) f.old_tablespace_links = instance::tablespace_links(s.data_directory);
  for (const auto& b : f.backups) {
    for (const auto& t : b.info.tablespaces) {
      if (!empty_or_absent(t.location)) f.occupied_folders.insert(t.location);
    }
  }
  for (const auto& [from, to] : s.tablespace_mapping) {
    if (!empty_or_absent(to)) f.occupied_folders.insert(to);
  }
  f.executable = fs::read_symlink("/proc/self/exe").string();
  f.settings_file = fs::absolute(settings.file).string();
  f.running_as_root = running_as_root();
  f.created_at = now_iso8601();
  if (f.running_as_root) {
    auto user = lookup_user(settings.instance.run_as.empty() ? "postgres" : settings.instance.run_as);
    if (!readable_by(user, f.settings_file)) {
      f.warnings.push_back(fmt::format("the settings file {} is not readable by user \"{}\", who runs restore_command",
                                       f.settings_file, user.name));
    }
  }
  // The run rule (executor/run_folder.hpp): an unfinished run of this plan id is continued; a
  // finished one whose recovered cluster is still in the data directory makes an all no-op plan.
  auto choice = planner::choose_backup(f);
  if (!f.data_directory_empty && s.move_aside_existing) f.unarchived_wal = repository::unarchived_wal(
        repository::WalArchive(repo.storage_ptr(), f.backups[choice.index].info.wal_cluster), s.data_directory / "pg_wal");
  std::string id = planner::pitr_plan_id(read_doc, f.backups[choice.index]);
  if (auto saved = unfinished_run(settings, id)) return *saved;
  if (!f.data_directory_empty && finished_run_exists(settings, id)) f.finished_run = id;
  // Not this plan's own server (an unfinished run continues above, a finished one is a no-op):
  // someone else's, such as the primary an in-place recovery would replace.
  instance::PostmasterInfo pm;
  if (!f.data_directory_empty && f.finished_run.empty() && instance::read_postmaster_pid(s.data_directory, pm) && pm.pid > 0 &&
      ::kill(static_cast<pid_t>(pm.pid), 0) == 0) {
    fail(ErrorKind::input,
         fmt::format("PointInTimeRecovery \"{}\": a PostgreSQL server (pid {}) is running in \"{}\"", doc.metadata.name,
                     pm.pid, s.data_directory.string()),
         "stop it first (pg_ctl stop -D DIR); nothing was changed");
  }
  model::Plan plan = planner::plan_recovery(f);
  add_restore_point_before(plan, s.before, who, settings, !f.finished_run.empty());
  return plan;
}

executor::ApplyResult apply_recovery_plan(const model::Plan& given, const config::Settings& settings,
                                          const executor::ApplyOptions& options) {
  if (given.kind != "pitr") fail(ErrorKind::input, fmt::format("plan {} is a {} plan, not a pitr plan", given.id, given.kind));
  executor::RunFolder folder(settings.state_dir, given);
  if (folder.finished()) return folder.finished_result();
  const model::Plan& plan = folder.plan();
  // Stale check: the base backup is still there and unchanged.
  auto repo = std::make_shared<const repository::Repository>(
      sources::open_repository(settings, plan.params.at(P::repository), fmt::format("plan {}", plan.id)));
  auto backup = repo->find(plan.params.at(P::policy) + "/" + plan.params.at(P::backup));
  if (sha256_hex(repository::to_json(repo->read_manifest(backup)).dump()) != plan.fingerprints.at("backup")) {
    fail(ErrorKind::stale_plan, fmt::format("plan is stale: backup {} changed since the plan was made", backup.id),
         "plan again and review the new plan");
  }
  folder.start();
  auto pitr = executor::make_pitr_runner(plan, {settings.instance.bin_dir, settings.instance.run_as, repo});
  auto runner = with_restore_point_before(*pitr, plan, settings, folder.dir(), options.cancel);
  executor::ApplyResult result = folder.run(*runner, options, 1, [&] {
    return nlohmann::json{{"data_directory", plan.params.at(P::data_directory)},
                          {"backup", plan.params.at(P::backup)},
                          {"target", plan.params.at(P::target)}};
  });
  instance::PostmasterInfo pm;
  if (instance::read_postmaster_pid(plan.params.at(P::data_directory), pm)) {
    log::info("recovered server: port {}, socket directory {}", pm.port, pm.socket_dir);
  }
  return result;
}

}  // namespace pgr::app
