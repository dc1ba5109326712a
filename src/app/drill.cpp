#include "app/drill.hpp"

#include <fmt/format.h>

#include "app/restore.hpp"
#include "instance/instance.hpp"
#include "util/error.hpp"

namespace pgr::app {

executor::DrillResult RestoreDriller::restore_and_check(const config::BackupPolicy& policy,
                                                        const repository::BackupInfo& backup, std::atomic<bool>& cancel) {
  return policy.spec.method == config::BackupMethod::physical ? physical_drill(policy, backup, cancel)
                                                               : logical_drill(policy, backup, cancel);
}

executor::DrillResult RestoreDriller::logical_drill(const config::BackupPolicy& policy, const repository::BackupInfo& backup,
                                                    std::atomic<bool>& cancel) {
  instance::Options io;
  io.bin_dir = settings_.instance.bin_dir;
  io.run_as = settings_.instance.run_as;
  instance::Instance inst(io);  // removed with everything in it when the drill ends, however it ends

  config::Restore doc;
  doc.metadata.name = fmt::format("drill-{}-{}", policy.metadata.name, backup.id);
  doc.spec.repository = policy.spec.repository;
  doc.spec.policy = policy.metadata.name;
  doc.spec.backup = {config::BackupRef::Kind::id, backup.id, ""};
  doc.spec.to.conninfo = inst.conninfo("postgres");
  doc.spec.database = policy.spec.database;
  doc.spec.create = true;
  doc.spec.roles = config::RolesPolicy::create_missing;
  doc.spec.jobs = std::max(1, policy.spec.jobs);
  doc.spec.analyze = false;
  doc.spec.verify_row_counts = true;
  doc.spec.verify_sql = policy.spec.drill_sql;

  // A whole-cluster backup is drilled whole: every database restored into the same throwaway
  // instance (globals first), each checked; the SQL checks run in every database.
  std::vector<model::Plan> plans = plan_restore_documents(doc, settings_);
  std::string runs;
  for (const auto& plan : plans) {
    executor::ApplyOptions ao;
    ao.jobs = doc.spec.jobs;
    ao.cancel = &cancel;
    executor::ApplyResult res = apply_restore_plan(plan, settings_, ao);
    const auto& sm = res.summary;
    if (sm.run_status == "cancelled") fail(ErrorKind::cancelled, "restore drill interrupted");
    if (sm.run_status != "ok") {
      const auto& f = sm.failures;
      if (f.empty()) fail(ErrorKind::internal, "the drill's restore " + sm.run_status);
      fail(f.front().error_kind, fmt::format("{}: {}", f.front().step, f.front().message), f.front().hint);
    }
    runs += (runs.empty() ? "" : ",") + plan.id;
  }
  std::string checked = policy.spec.drill_sql.empty() ? "row counts checked" : "row counts and SQL checks checked";
  if (plans.size() > 1) checked += fmt::format(" in {} databases", plans.size());
  return {runs, checked};
}

}  // namespace pgr::app
