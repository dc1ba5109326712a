#include "app/pitr.hpp"

#include "app/run_folder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/pitr_runner.hpp"
#include "executor/journal.hpp"
#include "pg/pg.hpp"
#include "repository/physical.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace pgr::app {

namespace {

namespace P = pitr_param;
using Kind = spec::RecoveryTarget::Kind;

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::time: return "time";
    case Kind::xid: return "xid";
    case Kind::name: return "name";
    case Kind::lsn: return "lsn";
    case Kind::immediate: return "immediate";
  }
  return "?";
}

// "2024-05-01T13:00:00Z", "2024-05-01 15:00:00.25+02", "...+02:00" -> seconds since 1970.
double parse_time(const std::string& text) {
  static const std::regex re(R"((\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?\s*(Z|[+-]\d{2}(:?\d{2})?))");
  std::smatch m;
  if (!std::regex_match(text, m, re)) {
    fail(ErrorKind::input, fmt::format("\"{}\" is not a time stamp with a time zone", text), "write e.g. 2024-05-01T13:00:00Z");
  }
  using namespace std::chrono;
  year_month_day ymd{year{std::stoi(m[1])}, month{static_cast<unsigned>(std::stoi(m[2]))},
                     day{static_cast<unsigned>(std::stoi(m[3]))}};
  if (!ymd.ok()) fail(ErrorKind::input, fmt::format("\"{}\" is not a valid date", text));
  double t = static_cast<double>(sys_days(ymd).time_since_epoch().count()) * 86400 + std::stoi(m[4]) * 3600 +
             std::stoi(m[5]) * 60 + std::stoi(m[6]);
  if (m[7].matched) t += std::stod("0" + m[7].str());
  std::string zone = m[8];
  if (zone != "Z") {
    int sign = zone[0] == '-' ? -1 : 1;
    std::string digits;
    for (char c : zone.substr(1))
      if (c != ':') digits += c;
    int offset = std::stoi(digits.substr(0, 2)) * 3600 + (digits.size() > 2 ? std::stoi(digits.substr(2)) * 60 : 0);
    t -= sign * offset;
  }
  return t;
}

// Shell-quotes one word for restore_command (run through /bin/sh by PostgreSQL), with '%'
// doubled because PostgreSQL replaces %f, %p, %r and %% in the command.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : c == '%' ? std::string("%%") : std::string(1, c);
  return out + "'";
}

// A postgresql.conf string value.
std::string conf_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : c == '\\' ? std::string("\\\\") : std::string(1, c);
  return out + "'";
}

std::string recovery_conf(const spec::PointInTimeRecoverySpec& s, const std::string& restore_command) {
  std::string c = "restore_command = " + conf_quote(restore_command) + "\n";
  switch (s.target.kind) {
    case Kind::immediate: c += "recovery_target = 'immediate'\n"; break;
    case Kind::time: {
      // The server checks this setting before it has loaded time zone abbreviations, so "Z"
      // would be rejected at startup: give the offset as a number.
      std::string t = s.target.value;
      if (!t.empty() && (t.back() == 'Z' || t.back() == 'z')) t.back() = '+', t += "00";
      c += "recovery_target_time = " + conf_quote(t) + "\n";
      break;
    }
    case Kind::xid: c += "recovery_target_xid = " + conf_quote(s.target.value) + "\n"; break;
    case Kind::name: c += "recovery_target_name = " + conf_quote(s.target.value) + "\n"; break;
    case Kind::lsn: c += "recovery_target_lsn = " + conf_quote(s.target.value) + "\n"; break;
  }
  if (s.target.kind == Kind::time || s.target.kind == Kind::xid || s.target.kind == Kind::lsn) {
    c += fmt::format("recovery_target_inclusive = {}\n", s.inclusive ? "on" : "off");
  }
  c += "recovery_target_timeline = " + conf_quote(s.timeline) + "\n";
  // Always pause at the target: the verify checks run first, then pgrecover applies the action.
  c += "recovery_target_action = 'pause'\nhot_standby = on\n";
  // The recovered cluster must not archive into the source's WAL stream, and logs where we read.
  c += "archive_mode = off\nlogging_collector = off\n";
  return c;
}

// The newest physical backup of the policy that ends before the target.
repository::BackupInfo choose_backup(const repository::Repository& repo, const spec::PointInTimeRecovery& doc,
                                     std::string& reason) {
  const auto& s = doc.spec;
  auto all = repo.list(s.policy);
  std::vector<repository::BackupInfo> physical;
  for (const auto& b : all)
    if (b.kind == "physical") physical.push_back(b);
  if (physical.empty()) {
    fail(ErrorKind::input,
         fmt::format("PointInTimeRecovery \"{}\": repository \"{}\" holds no physical backup of policy \"{}\"",
                     doc.metadata.name, s.repository, s.policy),
         "apply the BackupPolicy first (pgrecover apply --auto-approve POLICY.yaml)");
  }
  std::string oldest_end;
  for (auto it = physical.rbegin(); it != physical.rend(); ++it) {
    auto info = repository::physical_info(repo.read_manifest(*it));
    oldest_end = info.stop_time;
    switch (s.target.kind) {
      case Kind::time:
        if (info.stop_epoch < parse_time(s.target.value)) {
          reason = fmt::format("the newest base backup that ends before {} (ended {})", s.target.value, info.stop_time);
          return *it;
        }
        continue;
      case Kind::lsn:
        if (repository::parse_lsn(info.stop_lsn) <= repository::parse_lsn(s.target.value)) {
          reason = fmt::format("the newest base backup that ends before {} (ended at {})", s.target.value, info.stop_lsn);
          return *it;
        }
        oldest_end = info.stop_lsn;
        continue;
      case Kind::xid:
        if (!info.next_xid.empty() && (std::stoull(info.next_xid) & 0xffffffffULL) > std::stoull(s.target.value)) continue;
        reason = fmt::format("the newest base backup started before transaction {} ended", s.target.value);
        return *it;
      case Kind::name:
        reason = "the newest base backup (a restore point made before it started cannot be reached from it)";
        return *it;
      case Kind::immediate:
        reason = "the newest base backup, recovered to its end";
        return *it;
    }
  }
  fail(ErrorKind::input,
       fmt::format("PointInTimeRecovery \"{}\": no base backup of policy \"{}\" ends before the target {} {} (the "
                   "oldest ends at {})",
                   doc.metadata.name, s.policy, kind_name(s.target.kind), s.target.value, oldest_end),
       "choose a later target; WAL from before the oldest base backup cannot be used");
}

std::string plan_id_for(const spec::PointInTimeRecovery& doc, const std::string& backup_id, const std::string& manifest_hash) {
  const auto& s = doc.spec;
  nlohmann::json j = {{"name", doc.metadata.name},     {"repository", s.repository},
                      {"policy", s.policy},            {"target", {kind_name(s.target.kind), s.target.value}},
                      {"inclusive", s.inclusive},      {"timeline", s.timeline},
                      {"action", spec::to_string(s.action)}, {"data_directory", s.data_directory.string()},
                      {"port", s.port},                {"socket_directory", s.socket_directory.string()},
                      {"move_aside", s.move_aside_existing}, {"verify", s.verify_sql},
                      {"timeout", s.timeout.count()},  {"backup", backup_id}, {"manifest", manifest_hash}};
  return "pitr-" + sha256_hex(j.dump()).substr(0, 16);
}

model::Step step(std::string id, std::string kind, std::string object, model::Action action, std::string reason,
                 std::vector<std::string> deps) {
  model::Step s;
  s.id = std::move(id);
  s.kind = std::move(kind);
  s.phase = "recovery";
  s.object = std::move(object);
  s.action = action;
  s.reason = std::move(reason);
  s.depends_on = std::move(deps);
  return s;
}

// Can the server's OS user read this file? (archive_command and restore_command run as that user)
bool readable_by(const fs::path& p, const UserIdentity& u) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return false;
  if (st.st_uid == u.uid) return (st.st_mode & S_IRUSR) != 0;
  if (st.st_gid == u.gid) return (st.st_mode & S_IRGRP) != 0;
  return (st.st_mode & S_IROTH) != 0;
}


}  // namespace

model::Plan plan_recovery(const spec::PointInTimeRecovery& doc, const spec::Settings& settings) {
  const auto& s = doc.spec;
  const auto* repo_settings = settings.find_repository(s.repository);
  if (!repo_settings) fail(ErrorKind::input, fmt::format("no repository named \"{}\" in the settings", s.repository));
  if (settings.file.empty()) {
    fail(ErrorKind::input, "point-in-time recovery needs a settings file: restore_command runs `pgrecover --config FILE wal fetch`",
         "give --config FILE (or $PGRECOVER_CONFIG)");
  }
  auto repo = repository::Repository::open(repo_settings->path, repo_settings->name, false);
  std::string choice;
  auto backup = choose_backup(repo, doc, choice);
  auto manifest = repo.read_manifest(backup);
  auto info = repository::physical_info(manifest);
  std::string manifest_hash = sha256_hex(repository::to_json(manifest).dump());
  const fs::path& dd = s.data_directory;
  auto dd_empty = [&] { return !fs::exists(dd) || (fs::is_directory(dd) && fs::directory_iterator(dd) == fs::directory_iterator()); };

  // A run of exactly this plan exists: continue it (or report it done) instead of re-planning
  // against a data directory that the run itself filled. Only when that run finished and its
  // data directory has since been emptied is this a new recovery (a new plan id).
  std::string base_id = plan_id_for(doc, backup.id, manifest_hash);
  std::string id = base_id;
  for (int generation = 2;; ++generation) {
    fs::path run = run_dir(settings, id);
    if (!fs::exists(run / "plan.json")) break;
    if (!(executor::Journal::open(run, id).finished() && dd_empty())) {
      log::info("PointInTimeRecovery \"{}\": continuing the earlier run of plan {}", doc.metadata.name, id);
      return model::load_plan((run / "plan.json").string());
    }
    id = fmt::format("{}-{}", base_id, generation);
  }

  model::Plan plan;
  plan.id = id;
  plan.kind = "pitr";
  plan.created_at = executor::now_iso8601();
  plan.document = doc.metadata.name;
  plan.annotations = doc.metadata.annotations;
  plan.source = backup.dir.string();
  plan.fingerprints["backup"] = manifest_hash;
  plan.target.database = s.data_directory.string();

  fs::path exe = fs::read_symlink("/proc/self/exe");
  fs::path config = fs::absolute(settings.file);
  std::string restore_command = fmt::format("{} --config {} --log-level warn wal fetch %f %p --repository {} --cluster {}",
                                            shell_quote(exe.string()), shell_quote(config.string()),
                                            shell_quote(s.repository), shell_quote(info.wal_cluster));
  std::string target = fmt::format("{} {}", kind_name(s.target.kind), s.target.value);
  if (s.target.kind == Kind::immediate) target = "immediate (the end of the base backup)";

  // WAL continuity from the backup to the target (or to the end of the archive).
  repository::WalArchive archive(repo_settings->path, info.wal_cluster);
  std::optional<std::uint64_t> end;
  if (s.target.kind == Kind::lsn) end = repository::parse_lsn(s.target.value);
  if (s.target.kind == Kind::immediate) end = repository::parse_lsn(info.stop_lsn);
  std::uint64_t stop_seg = repository::segment_number(repository::parse_lsn(info.stop_lsn), info.wal_segment_size);
  auto cont = repository::check_continuity(archive, info.timeline, repository::parse_lsn(info.start_lsn), end, s.timeline,
                                           info.wal_segment_size);
  std::vector<std::string> missing;  // segments up to the backup's end come with the backup (pg_wal.tar)
  for (const auto& m : cont.missing) {
    std::uint32_t tli = 0;
    std::uint64_t n = 0;
    if (!repository::parse_segment_name(m, info.wal_segment_size, tli, n) || n >= stop_seg) missing.push_back(m);
  }
  std::string wal_reason;
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    if (cont.missing_count > cont.missing.size()) list += fmt::format(" (and {} more)", cont.missing_count - cont.missing.size());
    if (end) {
      fail(ErrorKind::input,
           fmt::format("PointInTimeRecovery \"{}\": the WAL archive of cluster \"{}\" lacks segments between the backup "
                       "{} and the target: {}", doc.metadata.name, info.wal_cluster, backup.id, list),
           "archiving has gaps: check archive_command on the source (pg_stat_archiver), or choose an earlier target");
    }
    plan.warnings.push_back(fmt::format("the WAL archive lacks {}: recovery cannot replay past the first of them, so a "
                                        "target after it will not be reached", list));
    wal_reason = fmt::format("WAL {}..{} checked, {} missing", cont.first_segment, cont.last_segment, missing.size());
  } else {
    wal_reason = fmt::format("WAL {}..{} is in the archive ({} segments, timeline {})", cont.first_segment,
                             cont.last_segment, cont.segments_checked, cont.target_timeline);
    if (!end && cont.last_segment <= repository::segment_name(info.timeline, stop_seg, info.wal_segment_size)) {
      plan.warnings.push_back("the archive holds no WAL after the base backup's end yet: only targets inside the backup "
                              "can be reached (pg_switch_wal() on the source archives the current segment)");
    }
  }

  // The data directory: empty or absent, or moved aside when the document allows it.
  bool non_empty = !dd_empty();
  if (non_empty && !s.move_aside_existing) {
    fail(ErrorKind::input, fmt::format("PointInTimeRecovery \"{}\": the data directory \"{}\" is not empty", doc.metadata.name, dd.string()),
         "choose an empty or absent folder, or set to.move_aside_existing: true");
  }
  if (running_as_root()) {
    auto user = lookup_user(settings.instance.run_as.empty() ? "postgres" : settings.instance.run_as);
    if (!readable_by(config, user)) {
      plan.warnings.push_back(fmt::format("the settings file {} is not readable by user \"{}\", who runs restore_command",
                                          config.string(), user.name));
    }
  }

  plan.params = {{P::repository, s.repository},
                 {P::repository_path, repo_settings->path.string()},
                 {P::policy, s.policy},
                 {P::backup, backup.id},
                 {P::data_directory, dd.string()},
                 {P::socket_directory, s.socket_directory.string()},
                 {P::port, std::to_string(s.port)},
                 {P::move_aside, s.move_aside_existing ? "true" : "false"},
                 {P::recovery_conf, recovery_conf(s, restore_command)},
                 {P::timeout, std::to_string(s.timeout.count())},
                 {P::action, spec::to_string(s.action)},
                 {P::verify_sql, nlohmann::json(s.verify_sql).dump()},
                 {P::superuser, info.superuser},
                 {P::start_lsn, info.start_lsn},
                 {P::seg_size, std::to_string(info.wal_segment_size)},
                 {P::timeline, std::to_string(info.timeline)},
                 {P::cluster, info.wal_cluster},
                 {P::target, target},
                 {"jobs", "1"}};

  std::string bk = fmt::format("backup {}/{}", s.policy, backup.id);
  plan.steps.push_back(step("verify-backup", "verify-backup", bk, model::Action::run,
                            fmt::format("{}: sizes and SHA-256 of its {} bytes", choice, backup.bytes), {}));
  plan.steps.push_back(step("data-directory", "data-directory", dd.string(),
                            non_empty ? model::Action::replace : model::Action::create,
                            non_empty ? "not empty: moved aside to " + dd.filename().string() + ".pgrecover-TIMESTAMP"
                                      : "absent or empty: taken for the recovered cluster",
                            {}));
  auto extract = step("extract", "extract", fmt::format("{} into {}", bk, dd.string()), model::Action::create,
                      fmt::format("{} and {}, then pg_verifybackup", info.base_file, info.wal_file.empty() ? "no WAL" : info.wal_file),
                      {"verify-backup", "data-directory"});
  extract.estimate.bytes = static_cast<std::int64_t>(backup.bytes);
  plan.steps.push_back(extract);
  plan.steps.push_back(step("recovery-settings", "recovery-settings", (dd / "postgresql.auto.conf").string(),
                            model::Action::create,
                            fmt::format("recovery.signal; restore_command = pgrecover wal fetch (cluster {}); target {}{}; "
                                        "timeline {}", info.wal_cluster, target,
                                        s.target.kind == Kind::time || s.target.kind == Kind::xid || s.target.kind == Kind::lsn
                                            ? (s.inclusive ? ", inclusive" : ", exclusive") : "",
                                        s.timeline),
                            {"extract"}));
  plan.steps.push_back(step("server-start", "server-start",
                            fmt::format("PostgreSQL on {}", s.port ? "port " + std::to_string(s.port) : "a free port"),
                            model::Action::run,
                            running_as_root() ? "as the unprivileged server user, socket in " +
                                                    (s.socket_directory.empty() ? dd : s.socket_directory).string()
                                              : "socket in " + (s.socket_directory.empty() ? dd : s.socket_directory).string(),
                            {"recovery-settings"}));
  plan.steps.push_back(step("recovery-target", "recovery-target", target, model::Action::run,
                            fmt::format("{}; wait up to {}s for replay to pause at the target", wal_reason, s.timeout.count()),
                            {"server-start"}));
  std::string last = "recovery-target";
  if (!s.verify_sql.empty()) {
    plan.steps.push_back(step("verify", "verify", fmt::format("{} SQL check(s)", s.verify_sql.size()), model::Action::run,
                              "on the recovered server, before the action", {last}));
    last = "verify";
  }
  std::string action = spec::to_string(s.action);
  plan.steps.push_back(step(action, action, "the recovered server", model::Action::run,
                            s.action == spec::RecoveryAction::promote ? "end recovery: open for writes on a new timeline"
                            : s.action == spec::RecoveryAction::shutdown ? "stop the server at the target"
                                                                         : "stay read-only at the target",
                            {last}));
  return plan;
}

ApplyResult apply_recovery_plan(const model::Plan& plan, const spec::Settings& settings, const ApplyOptions& options) {
  if (plan.kind != "pitr") fail(ErrorKind::input, fmt::format("plan {} is a {} plan, not a pitr plan", plan.id, plan.kind));
  RunFolder folder(settings, plan);
  if (folder.finished()) return folder.finished_result();
  // Stale check: the base backup is still there and unchanged.
  auto repo = repository::Repository::open(plan.params.at(P::repository_path), plan.params.at(P::repository), false);
  auto backup = repo.find(plan.params.at(P::policy) + "/" + plan.params.at(P::backup));
  if (sha256_hex(repository::to_json(repo.read_manifest(backup)).dump()) != plan.fingerprints.at("backup")) {
    fail(ErrorKind::stale_plan, fmt::format("plan is stale: backup {} changed since the plan was made", backup.id),
         "plan again and review the new plan");
  }
  folder.start();
  auto runner = make_pitr_runner(plan, settings);
  nlohmann::json extra = {{"data_directory", plan.params.at(P::data_directory)},
                          {"backup", plan.params.at(P::backup)},
                          {"target", plan.params.at(P::target)}};
  PostmasterInfo pm;
  ApplyResult result = folder.run(*runner, options, 1, extra);
  if (read_postmaster_pid(plan.params.at(P::data_directory), pm)) {
    log::info("recovered server: port {}, socket directory {}", pm.port, pm.socket_dir);
  }
  return result;
}

}  // namespace pgr::app
