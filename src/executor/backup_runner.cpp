#include "executor/backup_runner.hpp"

#include <chrono>
#include <set>

#include <fmt/format.h>

#include "engine/cluster_backup.hpp"
#include "engine/logical.hpp"
#include "engine/physical.hpp"
#include "repository/copy.hpp"
#include "repository/wal_retention.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::executor {

namespace {

class BackupWorker : public Worker {
 public:
  explicit BackupWorker(BackupRunState& st) : st_(st) {}

  StepOutcome run(const model::Step& step, StepContext& ctx) override {
    cancelled_ = false;
    if (step.kind == "backup") return backup(ctx);
    if (step.kind == "backup-copy") return copy(step, ctx);
    if (step.kind == "backup-delete") return remove(step);
    if (step.kind == "wal-delete") return remove_wal(step);
    if (step.kind == "drill") return drill(step);
    fail(ErrorKind::internal, fmt::format("a backup plan cannot run a step of kind \"{}\"", step.kind));
  }
  void cancel() override { cancelled_ = true; }

 private:
  StepOutcome backup(StepContext& ctx) {
    const auto& name = st_.policy.metadata.name;
    if (ctx.was_in_flight) {
      // An earlier run died during this step: a backup it completed is used, a partial one removed.
      for (const auto& b : st_.repo->list(name)) {
        if (b.started_at >= st_.plan->created_at.substr(0, 19) + "Z") {
          std::lock_guard<std::mutex> lock(st_.mu);
          st_.new_backup_id = b.id;
          return {0, static_cast<std::int64_t>(b.bytes), "backup " + b.id};
        }
      }
      st_.repo->remove_unfinished(name);
    }
    engine::BackupRequest req{name, st_.policy.spec, st_.source_conninfo, st_.bin_dir, &cancelled_};
    repository::BackupInfo b = st_.policy.spec.method == config::BackupMethod::physical
                                   ? engine::take_physical_backup(*st_.repo, req, ctx.progress)
                                   : st_.policy.spec.whole_cluster() ? engine::take_cluster_backup(*st_.repo, req, ctx.progress)
                                                                     : engine::take_logical_backup(*st_.repo, req, ctx.progress);
    if (st_.policy.spec.verify_checksums) {
      // Read back what was written: a disk that lies is found now, not at restore time.
      const auto t = std::chrono::steady_clock::now();
      auto problems = st_.repo->verify_files(b);
      log::info("backup {}/{} read back and checked against its manifest in {:.3f} s", b.policy, b.id,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
      if (!problems.empty()) {
        fail(ErrorKind::io, fmt::format("backup {}/{} does not match its manifest right after it was written: {}: {}",
                                        b.policy, b.id, problems.front().file, problems.front().message),
             "check the repository's disk");
      }
    }
    std::int64_t rows = ctx.progress ? ctx.progress->rows.load() : 0;
    std::lock_guard<std::mutex> lock(st_.mu);
    st_.new_backup_id = b.id;
    return {rows, static_cast<std::int64_t>(b.bytes), "backup " + b.id};
  }

  // The repository a step works on: its "repository" param, else the first one.
  repository::Repository& repo_of(const model::Step& step) {
    auto it = step.params.find("repository");
    if (it == step.params.end()) return *st_.repo;
    auto c = st_.copies.find(it->second);
    if (c == st_.copies.end()) {
      fail(ErrorKind::internal, fmt::format("step {} names repository \"{}\", which is not a copy of the policy", step.id, it->second));
    }
    if (!c->second) {
      fail(ErrorKind::io, fmt::format("repository \"{}\" could not be opened (see the warning above)", it->second),
           "the backup is kept in the first repository; apply again once the repository is reachable");
    }
    return *c->second;
  }

  // Copies a backup of the first repository into another one; idempotent (files already copied
  // and intact are kept), so a killed apply resumes here.
  StepOutcome copy(const model::Step& step, StepContext& ctx) {
    std::string id = step.params.at("backup");
    if (id == "new") {
      std::lock_guard<std::mutex> lock(st_.mu);
      id = st_.new_backup_id;
    }
    if (id.empty()) fail(ErrorKind::internal, "the copy has no backup to copy: the backup step did not record one");
    auto& to = repo_of(step);
    auto info = st_.repo->find(st_.policy.metadata.name + "/" + id);
    log::info("copying backup {}/{} to repository \"{}\" ({})", info.policy, info.id, to.name(), to.describe());
    std::int64_t reported = 0;
    auto r = repository::copy_backup(*st_.repo, info, to, &cancelled_, [&](std::uint64_t bytes) {
      if (ctx.progress) ctx.progress->bytes += static_cast<std::int64_t>(bytes) - reported;
      reported = static_cast<std::int64_t>(bytes);
    });
    std::string note = r.already_complete
                           ? fmt::format("backup {} already in {}, intact ({} files)", id, to.name(), r.files)
                           : fmt::format("backup {} copied to {}: {} files{}, read back and checked against the manifest", id,
                                         to.name(), r.files,
                                         r.reused ? fmt::format(" ({} already there from an interrupted copy)", r.reused) : "");
    log::info("{}", note);
    return {0, static_cast<std::int64_t>(r.bytes_copied), note};
  }

  StepOutcome remove(const model::Step& step) {
    const std::string& id = step.params.at("backup");
    auto& repo = repo_of(step);
    for (const auto& b : repo.list(st_.policy.metadata.name)) {
      if (b.id != id) continue;
      repo.remove(b);
      log::info("deleted backup {}/{} from {} ({} bytes)", b.policy, b.id, repo.name(), b.bytes);
      return {0, 0, fmt::format("deleted ({} bytes freed)", b.bytes)};
    }
    return {0, 0, "already deleted"};
  }

  StepOutcome remove_wal(const model::Step& step) {
    repository::WalDeletion d;
    d.cluster = step.params.at("cluster");
    d.before_segno = std::stoull(step.params.at("before_segno"));
    d.seg_size = std::stoull(step.params.at("seg_size"));
    d.first_kept = step.params.at("first_kept");
    auto removed = repository::delete_wal(repo_of(step), d);
    return {0, 0, fmt::format("{} WAL files removed", removed.size())};
  }

  // Restores the backup through the Driller and records the verdict in the repository: a backup
  // counts as verified only once a restore of it has worked.
  StepOutcome drill(const model::Step& step) {
    std::string id = step.params.at("backup");
    if (id == "new") {
      std::lock_guard<std::mutex> lock(st_.mu);
      id = st_.new_backup_id;
    }
    if (id.empty()) fail(ErrorKind::internal, "the drill has no backup to restore: the backup step did not record one");
    if (!st_.driller) fail(ErrorKind::internal, "a drill step without a driller");
    const auto& policy = st_.policy;
    auto info = st_.repo->find(policy.metadata.name + "/" + id);
    log::info("drill: restoring backup {}/{} into a throwaway instance", info.policy, info.id);
    repository::Verification v = st_.repo->read_verification(info);
    std::string failure;
    DrillResult result;
    ErrorKind failure_kind = ErrorKind::database;
    try {
      if (policy.spec.verify_checksums) {
        auto problems = st_.repo->verify_files(info);
        if (!problems.empty()) fail(ErrorKind::archive, fmt::format("{}: {}", problems.front().file, problems.front().message));
      }
      result = st_.driller->restore_and_check(policy, info, cancelled_);
    } catch (const Error& e) {
      // Interrupted: no verdict either way, and the step ends as cancelled, not failed.
      if (e.kind() == ErrorKind::cancelled || cancelled_) fail(ErrorKind::cancelled, "restore drill interrupted");
      failure = e.what();
      failure_kind = e.kind();
    }
    if (!failure.empty()) {
      // A backup whose restore failed its checks is not verified, whatever an earlier drill said.
      v.verified_at.clear();
      v.drill_run.clear();
      v.last_failure_at = now_iso8601();
      v.last_failure = "drill: " + failure;
      st_.repo->write_verification(info, v);
      fail(failure_kind, fmt::format("restore drill of backup {}/{} failed: {}", info.policy, info.id, failure),
           "the backup is not verified; look at the drill's run in the state directory (pgrecover runs list)");
    }
    v.verified_at = repository::format_iso(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
    v.drill_run = result.run;
    st_.repo->write_verification(info, v);
    return {0, 0, fmt::format("backup {} restored in a throwaway instance, {} (run {})", info.id, result.checked, result.run)};
  }

  BackupRunState& st_;
  std::atomic<bool> cancelled_{false};
};

class BackupRunner : public StepRunner {
 public:
  explicit BackupRunner(BackupRunState& st) : st_(st) {}
  std::unique_ptr<Worker> make_worker(int) override { return std::make_unique<BackupWorker>(st_); }

 private:
  BackupRunState& st_;
};

}  // namespace

std::unique_ptr<StepRunner> make_backup_runner(BackupRunState& state) { return std::make_unique<BackupRunner>(state); }

void refuse_if_stale(const BackupRunState& state, const std::string& repository) {
  const auto& plan = *state.plan;
  const std::string& name = state.policy.metadata.name;
  auto stale = [&](const std::string& repo) {
    fail(ErrorKind::stale_plan,
         fmt::format("plan is stale: the backups of policy \"{}\" in repository \"{}\" changed since the plan was made", name, repo),
         "plan again and review the new plan");
  };
  if (state.repo->fingerprint(name) != plan.fingerprints.at("repository")) stale(repository);
  for (const auto& [copy_name, copy] : state.copies) {
    auto print = plan.fingerprints.find("repository:" + copy_name);
    if (!copy || print == plan.fingerprints.end() || print->second.empty()) continue;  // unreachable
    std::string now;
    try {
      now = copy->fingerprint(name);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::io) throw;
      log::warn("repository \"{}\" is unreachable: {}; its copy step will fail", copy_name, e.what());
      continue;
    }
    if (now != print->second) stale(copy_name);
  }
}

std::string resumed_backup_id(const Journal& journal, const std::string& policy) {
  std::string id;
  for (const auto& r : journal.records())
    if (r.type == "done" && r.step == "backup:" + policy && r.note.rfind("backup ", 0) == 0) id = r.note.substr(7);
  return id;
}

void remove_unfinished(BackupRunState& state) {
  const std::string& name = state.policy.metadata.name;
  state.repo->remove_unfinished(name);
  for (const auto& [copy_name, copy] : state.copies) {
    if (!copy) continue;
    std::set<std::string> catching_up;
    for (const auto& st : state.plan->steps)
      if (st.kind == "backup-copy" && st.params.at("repository") == copy_name) catching_up.insert(st.params.at("backup"));
    try {
      copy->remove_unfinished(name, catching_up);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::io) throw;
      log::warn("could not clean repository \"{}\": {}", copy_name, e.what());
    }
  }
}

}  // namespace pgr::executor
