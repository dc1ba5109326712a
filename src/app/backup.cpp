#include "app/backup.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/drill.hpp"
#include "app/runs.hpp"
#include "config/policy_json.hpp"
#include "executor/backup_runner.hpp"
#include "facts/backup_facts.hpp"
#include "repository/repository.hpp"
#include "sources/repositories.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pgr::app {

model::Plan plan_backup_policy(const config::BackupPolicy& policy, const config::Settings& settings) {
  model::Plan plan = planner::plan_backup_policy(facts::gather_backup_facts(policy, settings));
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
  state.repo = std::make_unique<repository::Repository>(sources::open_repository(rs, /*create=*/true));
  auto names = config::repositories_of(state.policy.spec);
  for (size_t i = 1; i < names.size(); ++i) {
    const auto& cs = settings.repository(names[i], fmt::format("plan {}", plan.id));
    try {
      state.copies[cs.name] = std::make_unique<repository::Repository>(sources::open_repository(cs, /*create=*/true));
    } catch (const Error& e) {
      // A copy that is down must not stop the backup: its copy step fails (and the first
      // repository's deletes with it), the backup is taken.
      if (e.kind() != ErrorKind::io) throw;
      log::warn("repository \"{}\" is unreachable: {}; its copy step will fail", cs.name, e.what());
      state.copies[cs.name] = nullptr;
    }
  }
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
    executor::refuse_if_stale(state, rs.name);
  } else {
    state.new_backup_id = executor::resumed_backup_id(journal, name);
  }
  executor::remove_unfinished(state);

  folder.start();
  auto runner = executor::make_backup_runner(state);
  // jobs 1: the steps depend on each other or are quick; pg_dump itself runs with the policy's jobs
  return folder.run(*runner, options, 1, [&] {
    return nlohmann::json{{"repository", rs.name}, {"backup", state.new_backup_id}};
  });
}

}  // namespace pgr::app
