#include "planner/pitr_planner.hpp"

#include <chrono>
#include <filesystem>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.hpp"
#include "util/hash.hpp"

namespace pgr::planner {

namespace {

namespace fs = std::filesystem;
namespace P = model::pitr_param;
using Kind = config::RecoveryTarget::Kind;

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

std::string recovery_conf(const config::PointInTimeRecoverySpec& s, const std::string& restore_command) {
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


// WAL continuity from the backup to the target (or to the end of the archive): the reason the
// recovery-target step shows. A gap before a known end fails; a gap with no end is a warning.
std::string check_wal(const PitrFacts& facts, const PhysicalBackup& chosen, model::Plan& plan) {
  const auto& doc = *facts.document;
  const auto& s = doc.spec;
  const auto& info = chosen.info;
  if (!facts.wal) fail(ErrorKind::internal, "PITR planning without a view of the WAL archive");
  std::optional<std::uint64_t> end;
  if (s.target.kind == Kind::lsn) end = repository::parse_lsn(s.target.value);
  if (s.target.kind == Kind::immediate) end = repository::parse_lsn(info.stop_lsn);
  std::uint64_t stop_seg = repository::segment_number(repository::parse_lsn(info.stop_lsn), info.wal_segment_size);
  auto cont = facts.wal->continuity(info.wal_cluster, info.timeline, repository::parse_lsn(info.start_lsn), end,
                                    s.timeline, info.wal_segment_size);
  std::vector<std::string> missing;  // segments up to the backup's end come with the backup (pg_wal.tar)
  for (const auto& m : cont.missing) {
    std::uint32_t tli = 0;
    std::uint64_t n = 0;
    if (!repository::parse_segment_name(m, info.wal_segment_size, tli, n) || n >= stop_seg) missing.push_back(m);
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    if (cont.missing_count > cont.missing.size()) list += fmt::format(" (and {} more)", cont.missing_count - cont.missing.size());
    if (end) {
      fail(ErrorKind::input,
           fmt::format("PointInTimeRecovery \"{}\": the WAL archive of cluster \"{}\" lacks segments between the backup "
                       "{} and the target: {}", doc.metadata.name, info.wal_cluster, chosen.backup.id, list),
           "archiving has gaps: check archive_command on the source (pg_stat_archiver), or choose an earlier target");
    }
    plan.warnings.push_back(fmt::format("the WAL archive lacks {}: recovery cannot replay past the first of them, so a "
                                        "target after it will not be reached", list));
    return fmt::format("WAL {}..{} checked, {} missing", cont.first_segment, cont.last_segment, missing.size());
  }
  if (!end && cont.last_segment <= repository::segment_name(info.timeline, stop_seg, info.wal_segment_size)) {
    plan.warnings.push_back("the archive holds no WAL after the base backup's end yet: only targets inside the backup "
                            "can be reached (pg_switch_wal() on the source archives the current segment)");
  }
  return fmt::format("WAL {}..{} is in the archive ({} segments, timeline {})", cont.first_segment, cont.last_segment,
                     cont.segments_checked, cont.target_timeline);
}

std::string target_text(const config::PointInTimeRecoverySpec& s) {
  if (s.target.kind == Kind::immediate) return "immediate (the end of the base backup)";
  return fmt::format("{} {}", kind_name(s.target.kind), s.target.value);
}

void add_steps(const PitrFacts& facts, const PhysicalBackup& chosen, const std::string& choice,
               const std::string& wal_reason, model::Plan& plan) {
  const auto& s = facts.document->spec;
  const auto& info = chosen.info;
  const fs::path& dd = s.data_directory;
  bool non_empty = !facts.data_directory_empty;
  std::string target = target_text(s);
  std::string bk = fmt::format("backup {}/{}", s.policy, chosen.backup.id);
  fs::path socket = s.socket_directory.empty() ? dd : s.socket_directory;
  plan.steps.push_back(step("verify-backup", "verify-backup", bk, model::Action::run,
                            fmt::format("{}: sizes and SHA-256 of its {} bytes", choice, chosen.backup.bytes), {}));
  plan.steps.push_back(step("data-directory", "data-directory", dd.string(),
                            non_empty ? model::Action::replace : model::Action::create,
                            non_empty ? "not empty: moved aside to " + dd.filename().string() + ".pgrecover-TIMESTAMP"
                                      : "absent or empty: taken for the recovered cluster",
                            {}));
  auto extract = step("extract", "extract", fmt::format("{} into {}", bk, dd.string()), model::Action::create,
                      fmt::format("{} and {}, then pg_verifybackup", info.base_file, info.wal_file.empty() ? "no WAL" : info.wal_file),
                      {"verify-backup", "data-directory"});
  extract.estimate.bytes = static_cast<std::int64_t>(chosen.backup.bytes);
  plan.steps.push_back(extract);
  bool bounded = s.target.kind == Kind::time || s.target.kind == Kind::xid || s.target.kind == Kind::lsn;
  plan.steps.push_back(step("recovery-settings", "recovery-settings", (dd / "postgresql.auto.conf").string(),
                            model::Action::create,
                            fmt::format("recovery.signal; restore_command = pgrecover wal fetch (cluster {}); target {}{}; "
                                        "timeline {}", info.wal_cluster, target,
                                        bounded ? (s.inclusive ? ", inclusive" : ", exclusive") : "", s.timeline),
                            {"extract"}));
  plan.steps.push_back(step("server-start", "server-start",
                            fmt::format("PostgreSQL on {}", s.port ? "port " + std::to_string(s.port) : "a free port"),
                            model::Action::run,
                            facts.running_as_root ? "as the unprivileged server user, socket in " + socket.string()
                                                  : "socket in " + socket.string(),
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
  std::string action = config::to_string(s.action);
  plan.steps.push_back(step(action, action, "the recovered server", model::Action::run,
                            s.action == config::RecoveryAction::promote ? "end recovery: open for writes on a new timeline"
                            : s.action == config::RecoveryAction::shutdown ? "stop the server at the target"
                                                                           : "stay read-only at the target",
                            {last}));
}

}  // namespace

BackupChoice choose_backup(const PitrFacts& facts) {
  const auto& doc = *facts.document;
  const auto& s = doc.spec;
  const auto& physical = facts.backups;
  if (physical.empty()) {
    fail(ErrorKind::input,
         fmt::format("PointInTimeRecovery \"{}\": repository \"{}\" holds no physical backup of policy \"{}\"",
                     doc.metadata.name, s.repository, s.policy),
         "apply the BackupPolicy first (pgrecover apply --auto-approve POLICY.yaml)");
  }
  std::string oldest_end;
  for (std::size_t n = physical.size(); n-- > 0;) {
    const auto& info = physical[n].info;
    std::string reason;
    oldest_end = info.stop_time;
    switch (s.target.kind) {
      case Kind::time:
        if (info.stop_epoch < parse_time(s.target.value)) {
          reason = fmt::format("the newest base backup that ends before {} (ended {})", s.target.value, info.stop_time);
          return {n, reason};
        }
        continue;
      case Kind::lsn:
        if (repository::parse_lsn(info.stop_lsn) <= repository::parse_lsn(s.target.value)) {
          reason = fmt::format("the newest base backup that ends before {} (ended at {})", s.target.value, info.stop_lsn);
          return {n, reason};
        }
        oldest_end = info.stop_lsn;
        continue;
      case Kind::xid:
        if (!info.next_xid.empty() && (std::stoull(info.next_xid) & 0xffffffffULL) > std::stoull(s.target.value)) continue;
        reason = fmt::format("the newest base backup started before transaction {} ended", s.target.value);
        return {n, reason};
      case Kind::name:
        reason = "the newest base backup (a restore point made before it started cannot be reached from it)";
        return {n, reason};
      case Kind::immediate:
        reason = "the newest base backup, recovered to its end";
        return {n, reason};
    }
  }
  fail(ErrorKind::input,
       fmt::format("PointInTimeRecovery \"{}\": no base backup of policy \"{}\" ends before the target {} {} (the "
                   "oldest ends at {})",
                   doc.metadata.name, s.policy, kind_name(s.target.kind), s.target.value, oldest_end),
       "choose a later target; WAL from before the oldest base backup cannot be used");
}

std::string pitr_plan_id(const config::PointInTimeRecovery& doc, const PhysicalBackup& chosen) {
  const std::string& backup_id = chosen.backup.id;
  const std::string& manifest_hash = chosen.manifest_sha256;
  const auto& s = doc.spec;
  nlohmann::json j = {{"name", doc.metadata.name},     {"repository", s.repository},
                      {"policy", s.policy},            {"target", {kind_name(s.target.kind), s.target.value}},
                      {"inclusive", s.inclusive},      {"timeline", s.timeline},
                      {"action", config::to_string(s.action)}, {"data_directory", s.data_directory.string()},
                      {"port", s.port},                {"socket_directory", s.socket_directory.string()},
                      {"move_aside", s.move_aside_existing}, {"verify", s.verify_sql},
                      {"timeout", s.timeout.count()},  {"backup", backup_id}, {"manifest", manifest_hash}};
  return "pitr-" + sha256_hex(j.dump()).substr(0, 16);
}

model::Plan plan_recovery(const PitrFacts& facts) {
  const auto& doc = *facts.document;
  const auto& s = doc.spec;
  BackupChoice choice = choose_backup(facts);
  const PhysicalBackup& chosen = facts.backups[choice.index];
  const auto& info = chosen.info;

  model::Plan plan;
  plan.id = pitr_plan_id(doc, chosen);
  plan.kind = "pitr";
  plan.created_at = facts.created_at;
  plan.document = doc.metadata.name;
  plan.annotations = doc.metadata.annotations;
  plan.source = chosen.backup.location;
  plan.fingerprints["backup"] = chosen.manifest_sha256;
  plan.target.database = s.data_directory.string();
  plan.warnings = facts.warnings;

  std::string restore_command = fmt::format("{} --config {} --log-level warn wal fetch %f %p --repository {} --cluster {}",
                                            shell_quote(facts.executable), shell_quote(facts.settings_file),
                                            shell_quote(s.repository), shell_quote(info.wal_cluster));
  std::string wal_reason = check_wal(facts, chosen, plan);
  if (!facts.data_directory_empty && !s.move_aside_existing && facts.finished_run.empty()) {
    fail(ErrorKind::input,
         fmt::format("PointInTimeRecovery \"{}\": the data directory \"{}\" is not empty", doc.metadata.name,
                     s.data_directory.string()),
         "choose an empty or absent folder, or set to.move_aside_existing: true");
  }
  plan.params = {{P::repository, s.repository},
                 {P::repository_path, facts.repository_path},
                 {P::policy, s.policy},
                 {P::backup, chosen.backup.id},
                 {P::data_directory, s.data_directory.string()},
                 {P::socket_directory, s.socket_directory.string()},
                 {P::port, std::to_string(s.port)},
                 {P::move_aside, s.move_aside_existing ? "true" : "false"},
                 {P::recovery_conf, recovery_conf(s, restore_command)},
                 {P::timeout, std::to_string(s.timeout.count())},
                 {P::action, config::to_string(s.action)},
                 {P::verify_sql, nlohmann::json(s.verify_sql).dump()},
                 {P::superuser, info.superuser},
                 {P::start_lsn, info.start_lsn},
                 {P::seg_size, std::to_string(info.wal_segment_size)},
                 {P::timeline, std::to_string(info.timeline)},
                 {P::cluster, info.wal_cluster},
                 {P::target, target_text(s)},
                 {"jobs", "1"}};
  add_steps(facts, chosen, choice.reason, wal_reason, plan);
  if (!facts.finished_run.empty()) {
    // The recovered cluster of this very plan is in the data directory: nothing to do.
    for (auto& st : plan.steps) {
      st.action = model::Action::no_op;
      st.reason = fmt::format("done by run {}: the data directory holds the recovered cluster", facts.finished_run);
    }
  }
  return plan;
}

}  // namespace pgr::planner
