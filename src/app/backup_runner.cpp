#include "app/backup_runner.hpp"

#include <fmt/format.h>

#include "app/backup_globals.hpp"
#include "app/backup_take.hpp"
#include "app/physical_backup.hpp"
#include "app/restore.hpp"
#include "executor/journal.hpp"
#include "instance/instance.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::app {

namespace {

using nlohmann::json;

json selection_json(const spec::Selection& s) {
  return {{"schemas", s.schemas}, {"tables", s.tables}, {"exclude_schemas", s.exclude_schemas},
          {"exclude_tables", s.exclude_tables}};
}

json opt(const std::optional<int>& v) { return v ? json(*v) : json(nullptr); }
std::optional<int> opt_int(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<int>();
}

spec::DumpFormat format_from(const std::string& s) {
  if (s == "directory") return spec::DumpFormat::directory;
  if (s == "custom") return spec::DumpFormat::custom;
  if (s == "tar") return spec::DumpFormat::tar;
  if (s == "plain") return spec::DumpFormat::plain;
  fail(ErrorKind::input, fmt::format("unknown dump format \"{}\" in the plan", s));
}

class BackupWorker : public executor::Worker {
 public:
  explicit BackupWorker(BackupRunState& st) : st_(st) {}

  executor::StepOutcome run(const model::Step& step, executor::StepContext& ctx) override {
    if (step.kind == "backup") return backup(ctx);
    if (step.kind == "backup-delete") return remove(step);
    if (step.kind == "wal-delete") {
      WalDeletion d;
      d.cluster = step.params.at("cluster");
      d.before_segno = std::stoull(step.params.at("before_segno"));
      d.seg_size = std::stoull(step.params.at("seg_size"));
      d.first_kept = step.params.at("first_kept");
      auto removed = delete_wal(*st_.repo, d);
      return {0, 0, fmt::format("{} WAL files removed", removed.size())};
    }
    if (step.kind == "drill") {
      std::string id = step.params.at("backup");
      if (id == "new") {
        std::lock_guard<std::mutex> lock(st_.mu);
        id = st_.new_backup_id;
      }
      if (id.empty()) fail(ErrorKind::internal, "the drill has no backup to restore: the backup step did not record one");
      return {0, 0, run_drill(st_, id)};
    }
    fail(ErrorKind::internal, fmt::format("a backup plan cannot run a step of kind \"{}\"", step.kind));
  }
  void cancel() override {}

 private:
  executor::StepOutcome backup(executor::StepContext& ctx) {
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
      for (const auto& p : st_.repo->partial_folders(name)) {
        std::error_code ec;
        std::filesystem::remove_all(p, ec);
      }
    }
    repository::BackupInfo b;
    if (st_.policy.spec.method == spec::BackupMethod::physical) {
      b = take_physical_backup(st_.policy, *st_.settings, ctx.progress);
    } else {
      LogicalBackupRequest req{name, st_.policy.spec, st_.source_conninfo, st_.settings->instance.bin_dir};
      b = take_logical_backup(*st_.repo, req, ctx.progress);
    }
    if (st_.policy.spec.verify_checksums) {
      // Read back what was written: a disk that lies is found now, not at restore time.
      auto problems = st_.repo->verify_files(b);
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

  executor::StepOutcome remove(const model::Step& step) {
    const std::string& id = step.params.at("backup");
    for (const auto& b : st_.repo->list(st_.policy.metadata.name)) {
      if (b.id != id) continue;
      st_.repo->remove(b);
      log::info("deleted backup {}/{} ({} bytes)", b.policy, b.id, b.bytes);
      return {0, 0, fmt::format("deleted ({} bytes freed)", b.bytes)};
    }
    return {0, 0, "already deleted"};
  }

  BackupRunState& st_;
};

class BackupRunner : public executor::StepRunner {
 public:
  explicit BackupRunner(BackupRunState& st) : st_(st) {}
  std::unique_ptr<executor::Worker> make_worker(int) override { return std::make_unique<BackupWorker>(st_); }

 private:
  BackupRunState& st_;
};

}  // namespace

json policy_to_json(const spec::BackupPolicy& p) {
  const auto& s = p.spec;
  return {{"name", p.metadata.name},
          {"annotations", p.metadata.annotations},
          {"source", {{"connection", s.source.connection}, {"conninfo", s.source.conninfo.empty() ? std::string() : split_password(s.source.conninfo).conninfo}}},
          {"database", s.database},
          {"method", spec::to_string(s.method)},
          {"format", spec::to_string(s.format)},
          {"compression", {{"method", s.compression.method}, {"level", s.compression.level}}},
          {"jobs", s.jobs},
          {"globals", s.globals},
          {"select", selection_json(s.select)},
          {"repository", s.repository},
          {"cluster", s.cluster},
          {"schedule_every", s.schedule_every.count()},
          {"keep_last", opt(s.keep_last)},
          {"keep_daily", opt(s.keep_daily)},
          {"keep_weekly", opt(s.keep_weekly)},
          {"keep_monthly", opt(s.keep_monthly)},
          {"verify_checksums", s.verify_checksums},
          {"drill_every", s.drill_every.count()},
          {"drill_sql", s.drill_sql}};
}

spec::BackupPolicy policy_from_json(const json& j) {
  spec::BackupPolicy p;
  try {
    p.metadata.name = j.at("name").get<std::string>();
    p.metadata.annotations = j.value("annotations", std::map<std::string, std::string>{});
    auto& s = p.spec;
    s.source.connection = j.at("source").at("connection").get<std::string>();
    s.source.conninfo = j.at("source").at("conninfo").get<std::string>();
    s.database = j.at("database").get<std::string>();
    s.method = j.at("method").get<std::string>() == "physical" ? spec::BackupMethod::physical : spec::BackupMethod::logical;
    s.format = format_from(j.at("format").get<std::string>());
    s.compression.method = j.at("compression").at("method").get<std::string>();
    s.compression.level = j.at("compression").at("level").get<int>();
    s.jobs = j.at("jobs").get<int>();
    s.globals = j.at("globals").get<bool>();
    const auto& sel = j.at("select");
    s.select.schemas = sel.at("schemas").get<std::vector<std::string>>();
    s.select.tables = sel.at("tables").get<std::vector<std::string>>();
    s.select.exclude_schemas = sel.at("exclude_schemas").get<std::vector<std::string>>();
    s.select.exclude_tables = sel.at("exclude_tables").get<std::vector<std::string>>();
    s.repository = j.at("repository").get<std::string>();
    s.cluster = j.value("cluster", "");
    s.schedule_every = std::chrono::seconds{j.at("schedule_every").get<long long>()};
    s.keep_last = opt_int(j, "keep_last");
    s.keep_daily = opt_int(j, "keep_daily");
    s.keep_weekly = opt_int(j, "keep_weekly");
    s.keep_monthly = opt_int(j, "keep_monthly");
    s.verify_checksums = j.value("verify_checksums", true);
    s.drill_every = std::chrono::seconds{j.at("drill_every").get<long long>()};
    s.drill_sql = j.at("drill_sql").get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    fail(ErrorKind::input, fmt::format("the backup plan's policy is malformed: {}", e.what()), "plan again");
  }
  return p;
}

std::unique_ptr<executor::StepRunner> make_backup_runner(BackupRunState& state) {
  return std::make_unique<BackupRunner>(state);
}

std::string run_drill(BackupRunState& st, const std::string& backup_id) {
  const auto& policy = st.policy;
  auto info = st.repo->find(policy.metadata.name + "/" + backup_id);
  log::info("drill: restoring backup {}/{} into a throwaway instance", info.policy, info.id);
  instance::Options io;
  io.bin_dir = st.settings->instance.bin_dir;
  io.run_as = st.settings->instance.run_as;
  instance::Instance inst(io);

  spec::Restore doc;
  doc.metadata.name = fmt::format("drill-{}-{}", policy.metadata.name, backup_id);
  doc.spec.repository = policy.spec.repository;
  doc.spec.policy = policy.metadata.name;
  doc.spec.backup = {spec::BackupRef::Kind::id, backup_id, ""};
  doc.spec.to.conninfo = inst.conninfo("postgres");
  doc.spec.database = policy.spec.database;
  doc.spec.create = true;
  doc.spec.roles = spec::RolesPolicy::create_missing;
  doc.spec.jobs = std::max(1, policy.spec.jobs);
  doc.spec.analyze = false;
  doc.spec.verify_row_counts = true;
  doc.spec.verify_sql = policy.spec.drill_sql;

  repository::Verification v = st.repo->read_verification(info);
  std::string failure;
  std::string run;
  try {
    if (policy.spec.verify_checksums) {
      auto problems = st.repo->verify_files(info);
      if (!problems.empty()) fail(ErrorKind::archive, fmt::format("{}: {}", problems.front().file, problems.front().message));
    }
    model::Plan plan = plan_restore_document(doc, *st.settings);
    run = plan.id;
    ApplyOptions ao;
    ao.jobs = doc.spec.jobs;
    ApplyResult res = apply_restore_plan(plan, *st.settings, ao);
    if (res.summary.run_status != "ok") {
      const auto& f = res.summary.failures;
      failure = f.empty() ? "the restore " + res.summary.run_status : fmt::format("{}: {}", f.front().step, f.front().message);
    }
  } catch (const Error& e) {
    failure = e.what();
  }
  if (!failure.empty()) {
    v.last_failure_at = executor::now_iso8601();
    v.last_failure = "drill: " + failure;
    st.repo->write_verification(info, v);
    fail(ErrorKind::database, fmt::format("restore drill of backup {}/{} failed: {}", info.policy, info.id, failure),
         "the backup is not verified; look at the drill's run in the state directory (pgrecover runs list)");
  }
  v.verified_at = repository::format_iso(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  v.drill_run = run;
  st.repo->write_verification(info, v);
  return fmt::format("backup {} restored in a throwaway instance, row counts{} checked (run {})", info.id,
                     policy.spec.drill_sql.empty() ? "" : " and SQL checks", run);
}

}  // namespace pgr::app
