// Physical restore drills: the backup recovered to consistency (target immediate) into a
// throwaway data directory with pgrecover's own PointInTimeRecovery, the policy's SQL checks run
// there, then pg_amcheck over every database, then the server stopped and the folder removed.
// Tablespaces are mapped into the same throwaway folder.
#include <fmt/format.h>

#include "app/drill.hpp"
#include "app/pitr.hpp"
#include "instance/amcheck.hpp"
#include "instance/drill_folder.hpp"
#include "instance/instance.hpp"
#include "model/pitr_params.hpp"
#include "repository/physical.hpp"
#include "sources/repositories.hpp"
#include "util/error.hpp"

namespace pgr::app {

namespace {

void check_run(const executor::ApplyResult& res, const char* what) {
  const auto& sm = res.summary;
  if (sm.run_status == "cancelled") fail(ErrorKind::cancelled, "restore drill interrupted");
  if (sm.run_status == "ok") return;
  if (sm.failures.empty()) fail(ErrorKind::internal, fmt::format("the drill's {} {}", what, sm.run_status));
  const auto& f = sm.failures.front();
  fail(f.error_kind, fmt::format("{}: {}", f.step, f.message), f.hint);
}

}  // namespace

executor::DrillResult RestoreDriller::physical_drill(const config::BackupPolicy& policy,
                                                     const repository::BackupInfo& backup, std::atomic<bool>& cancel) {
  namespace P = model::pitr_param;
  instance::DrillFolder folder(settings_.instance.bin_dir, settings_.instance.run_as);
  config::PointInTimeRecovery doc;
  doc.metadata.name = fmt::format("drill-{}-{}", policy.metadata.name, backup.id);
  auto& s = doc.spec;
  s.repository = policy.spec.repository;
  s.policy = policy.metadata.name;
  s.target.kind = config::RecoveryTarget::Kind::immediate;  // replay to consistency, no further
  s.action = config::RecoveryAction::promote;  // writable, so pg_amcheck can install amcheck
  s.data_directory = folder.data();
  s.settings = {{"hba_file", folder.hba().string()}};
  // The backup's tablespaces go into the drill's folder too, never to their original locations
  // (the source's, on this host perhaps).
  auto repo = sources::open_repository(settings_, s.repository, fmt::format("BackupPolicy \"{}\"", policy.metadata.name));
  for (const auto& t : repository::physical_info(repo.read_manifest(backup)).tablespaces) {
    s.tablespace_mapping[t.location] = folder.tablespace(t.oid).string();
  }
  s.verify_sql = policy.spec.drill_sql;  // run while paused at consistency, before promotion
  model::Plan plan = plan_recovery(doc, settings_, backup.id);
  executor::ApplyOptions ao;
  ao.cancel = &cancel;
  check_run(apply_recovery_plan(plan, settings_, ao), "recovery");

  std::string checked = fmt::format("recovered to consistency{}", s.verify_sql.empty() ? "" : ", SQL checks passed");
  instance::PostmasterInfo pm;
  if (!instance::read_postmaster_pid(folder.data(), pm)) fail(ErrorKind::instance, "the drill's recovered server is not running");
  instance::AmcheckRequest req;
  req.bin_dir = settings_.instance.bin_dir;
  req.socket_dir = pm.socket_dir;
  req.port = pm.port;
  req.user = plan.params.at(P::superuser);
  req.heapallindexed = policy.spec.drill_heapallindexed;
  req.cancel = &cancel;
  return {plan.id, checked + ", " + instance::run_amcheck(req)};
}

}  // namespace pgr::app
