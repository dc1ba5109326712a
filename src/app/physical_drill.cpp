// Physical restore drills: the backup recovered to consistency (target immediate) into a
// throwaway data directory with pgrecover's own PointInTimeRecovery, the policy's SQL checks run
// there, then pg_amcheck over every database, then the server stopped and the folder removed.
// Tablespaces are mapped into the same throwaway folder.
#include <unistd.h>

#include <fmt/format.h>

#include "app/drill.hpp"
#include "app/pitr.hpp"
#include "app/repositories.hpp"
#include "instance/instance.hpp"
#include "model/pitr_params.hpp"
#include "repository/physical.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace pgr::app {

namespace {

// The drill's folder: <tmp>/pgrecover-drill-XXXXXX with data/ (the recovered cluster), its own
// pg_hba.conf and the server log. Removed, the server stopped first, however the drill ends.
class DrillFolder {
 public:
  explicit DrillFolder(const config::Settings& settings) : tmp_("pgrecover-drill-"), bin_dir_(settings.instance.bin_dir) {
    if (running_as_root()) user_ = lookup_user(settings.instance.run_as.empty() ? "postgres" : settings.instance.run_as);
    write_file_atomic(tmp_.path() / instance::kMarkerFile, "pgrecover restore drill\n", 0644);
    // The socket sits in the data directory (0700, the server user's): trust is safe there, and the
    // drill does not depend on the source's pg_hba.conf letting this user in.
    write_file_atomic(hba(), "# pgrecover restore drill\nlocal all all trust\n", 0600);
    give(tmp_.path());
    give(hba());
  }
  ~DrillFolder() {
    try {
      instance::destroy_folder(tmp_.path(), bin_dir_);  // stops the server, removes the folder
    } catch (const std::exception& e) {
      log::warn("could not remove the drill's folder \"{}\": {}", tmp_.path().string(), e.what());
    }
  }
  fs::path data() const { return tmp_.path() / "data"; }
  fs::path tablespace(const std::string& oid) const { return tmp_.path() / "tablespaces" / oid; }
  fs::path hba() const { return tmp_.path() / "pg_hba.conf"; }

 private:
  void give(const fs::path& p) const {
    if (user_ && ::chown(p.c_str(), user_->uid, user_->gid) != 0) {
      fail(ErrorKind::io, fmt::format("could not give \"{}\" to user {}: {}", p.string(), user_->name, errno_text(errno)));
    }
  }
  TempDir tmp_;
  fs::path bin_dir_;
  std::optional<UserIdentity> user_;
};

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
  DrillFolder folder(settings_);
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
  auto repo = open_repository(settings_, s.repository, fmt::format("BackupPolicy \"{}\"", policy.metadata.name));
  for (const auto& t : repository::physical_info(repo.read_manifest(backup)).tablespaces) {
    s.tablespace_mapping[t.location] = folder.tablespace(t.oid).string();
  }
  s.verify_sql = policy.spec.drill_sql;  // run while paused at consistency, before promotion
  model::Plan plan = plan_recovery(doc, settings_, backup.id);
  executor::ApplyOptions ao;
  ao.cancel = &cancel;
  check_run(apply_recovery_plan(plan, settings_, ao), "recovery");

  std::string checked = fmt::format("recovered to consistency{}", s.verify_sql.empty() ? "" : ", SQL checks passed");
  fs::path amcheck = instance::find_bin_dir(settings_.instance.bin_dir) / "pg_amcheck";
  if (!fs::exists(amcheck)) {
    log::warn("drill: pg_amcheck is not in {}: the recovered cluster's heap and indexes were not checked",
              amcheck.parent_path().string());
    return {plan.id, checked + ", pg_amcheck skipped (not installed)"};
  }
  instance::PostmasterInfo pm;
  if (!instance::read_postmaster_pid(folder.data(), pm)) fail(ErrorKind::instance, "the drill's recovered server is not running");
  ProcessSpec ps;
  // Heap and B-tree checks of every database; amcheck is installed into each (the cluster is ours).
  ps.argv = {amcheck.string(), "--all", "--install-missing", "--no-password", "--host", pm.socket_dir,
             "--port", std::to_string(pm.port), "--username", plan.params.at(P::superuser)};
  if (policy.spec.drill_heapallindexed) ps.argv.push_back("--heapallindexed");
  ps.unset_env = {"PGSERVICE", "PGOPTIONS", "PGPASSWORD", "PGDATABASE", "PGHOST", "PGPORT", "PGUSER"};
  ps.cwd = "/";
  ps.cancel = &cancel;
  log::info("drill: pg_amcheck --all{} on the recovered cluster", policy.spec.drill_heapallindexed ? " --heapallindexed" : "");
  ProcessResult r = run_process(ps);
  if (r.cancelled) fail(ErrorKind::cancelled, "restore drill interrupted");
  if (!r.ok()) {
    std::string out = r.out.size() > 4000 ? r.out.substr(0, 4000) + "\n..." : r.out;
    fail(ErrorKind::database,
         fmt::format("pg_amcheck found problems in the recovered cluster (exit code {}):\n{}{}", r.exit_code, out, r.err),
         "the backup (or the source it was taken from) is damaged: check the source with pg_amcheck too");
  }
  return {plan.id, fmt::format("{}, pg_amcheck --all{} found no corruption", checked,
                               policy.spec.drill_heapallindexed ? " --heapallindexed" : "")};
}

}  // namespace pgr::app
