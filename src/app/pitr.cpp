#include "app/pitr.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/restore_point_before.hpp"
#include "app/runs.hpp"
#include "executor/pitr_runner.hpp"
#include "facts/recovery_facts.hpp"
#include "instance/instance.hpp"
#include "planner/pitr_planner.hpp"
#include "repository/physical.hpp"
#include "repository/repository.hpp"
#include "sources/repositories.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"

namespace pgr::app {

namespace P = model::pitr_param;

model::Plan plan_recovery(const config::PointInTimeRecovery& doc, const config::Settings& settings,
                          const std::string& only_backup) {
  if (settings.file.empty()) {
    fail(ErrorKind::input, "point-in-time recovery needs a settings file: restore_command runs `pgrecover --config FILE wal fetch`",
         "give --config FILE (or $PGRECOVER_CONFIG)");
  }
  auto gathered = facts::gather_recovery_facts(doc, settings, only_backup);
  auto& f = gathered->facts;
  const auto& s = gathered->document.spec;
  std::string who = fmt::format("PointInTimeRecovery \"{}\"", doc.metadata.name);
  // The run rule (executor/run_folder.hpp): an unfinished run of this plan id is continued; a
  // finished one whose recovered cluster is still in the data directory makes an all no-op plan.
  auto choice = planner::choose_backup(f);
  facts::add_unarchived_wal(*gathered, choice.index);
  std::string id = planner::pitr_plan_id(gathered->document, f.backups[choice.index]);
  if (auto saved = unfinished_run(settings, id)) return *saved;
  if (!f.data_directory_empty && finished_run_exists(settings, id)) f.finished_run = id;
  // Not this plan's own server (an unfinished run continues above, a finished one is a no-op):
  // someone else's, such as the primary an in-place recovery would replace.
  if (!f.data_directory_empty && f.finished_run.empty()) facts::refuse_running_server(s.data_directory, who);
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
