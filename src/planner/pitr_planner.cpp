#include "planner/pitr_planner.hpp"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "planner/pitr_tablespaces.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/time.hpp"

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
    case Kind::latest: return "latest";
  }
  return "?";
}

double parse_time(const std::string& text) { return parse_iso8601(text); }

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

// The settings written last (they win over the source's configuration and our block).
nlohmann::json server_settings(const config::PointInTimeRecoverySpec& s) {
  nlohmann::json j = nlohmann::json::object();
  if (s.keep_config && s.port) j["port"] = std::to_string(s.port);
  if (s.keep_config && !s.socket_directory.empty()) j["unix_socket_directories"] = conf_quote(s.socket_directory.string());
  if (s.listen_addresses_given) j["listen_addresses"] = conf_quote(s.listen_addresses);
  for (const auto& [k, v] : s.settings) j[k] = conf_quote(v);
  return j;
}

std::string recovery_conf(const config::PointInTimeRecoverySpec& s, const std::string& restore_command,
                          const std::string& archive_command) {
  std::string c = "restore_command = " + conf_quote(restore_command) + "\n";
  switch (s.target.kind) {
    case Kind::immediate: c += "recovery_target = 'immediate'\n"; break;
    case Kind::latest: break;  // no target: standby mode replays every archived segment (see below)
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
  if (s.target.kind == Kind::latest) {
    // Without a target, a plain recovery would promote by itself as soon as the archive runs
    // out. The runner starts a standby instead (standby.signal), which replays every archived
    // segment and then waits for more; pgrecover sees it caught up, runs the checks, then
    // takes the action (pg_promote, pause or stop).
    c += "hot_standby = on\n";
  } else {
    // Always pause at the target: the verify checks run first, then pgrecover applies the action.
    c += "recovery_target_action = 'pause'\nhot_standby = on\n";
  }
  if (s.archive_resume) {
    // Once promoted, the new timeline goes into the same WAL stream (a recovering server does
    // not archive with archive_mode = on).
    c += "archive_mode = on\narchive_command = " + conf_quote(archive_command) + "\n";
  } else {
    // A side recovery must not archive into the source's WAL stream.
    c += "archive_mode = off\n";
  }
  c += "logging_collector = off\n";  // the log goes where pgrecover reads it
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


const repository::RestorePoint* restore_point(const PitrFacts& facts) {
  const auto& s = facts.document->spec;
  if (s.target.kind != Kind::name) return nullptr;
  for (const auto& p : facts.restore_points)
    if (p.name == s.target.value) return &p;
  std::string known;
  for (const auto& p : facts.restore_points) known += (known.empty() ? "" : ", ") + p.name;
  fail(ErrorKind::input,
       fmt::format("PointInTimeRecovery \"{}\": restore point \"{}\" is not recorded for the WAL of policy \"{}\" "
                   "(known: {})",
                   facts.document->metadata.name, s.target.value, s.policy, known.empty() ? "none" : known),
       fmt::format("restore points are made with `pgrecover restore-point NAME --policy {}`, which records them once "
                   "archived; check the name",
                   s.policy));
}

// "restore points recorded: a at 0/3000060 (2026-...), b ...": the newest ten, for the reviewer.
std::string known_points(const PitrFacts& facts) {
  if (facts.restore_points.empty()) return "";
  std::string out;
  std::size_t first = facts.restore_points.size() > 10 ? facts.restore_points.size() - 10 : 0;
  for (std::size_t i = first; i < facts.restore_points.size(); ++i) {
    const auto& p = facts.restore_points[i];
    out += fmt::format("{}{} at {} ({})", out.empty() ? "" : ", ", p.name, p.lsn, p.created_at);
  }
  return "; restore points recorded: " + out;
}

// WAL continuity from the backup to the target (or to the end of the archive): the reason the
// recovery-target step shows. A gap before a known end fails; a gap with no end is a warning.
// `reachable` gets the newest segment replay can reach (the one before the first gap, or the
// newest archived one): where a `latest` recovery ends.
std::string check_wal(const PitrFacts& facts, const PhysicalBackup& chosen, model::Plan& plan, std::string& reachable) {
  const auto& doc = *facts.document;
  const auto& s = doc.spec;
  const auto& info = chosen.info;
  if (!facts.wal) fail(ErrorKind::internal, "PITR planning without a view of the WAL archive");
  std::optional<std::uint64_t> end;
  if (s.target.kind == Kind::lsn) end = repository::parse_lsn(s.target.value);
  if (const auto* point = restore_point(facts)) end = repository::parse_lsn(point->lsn);
  if (s.target.kind == Kind::immediate) end = repository::parse_lsn(info.stop_lsn);
  std::uint64_t stop_seg = repository::segment_number(repository::parse_lsn(info.stop_lsn), info.wal_segment_size);
  auto cont = facts.wal->continuity(info.wal_cluster, info.timeline, repository::parse_lsn(info.start_lsn), end,
                                    s.timeline, info.wal_segment_size);
  // Segments up to the backup's end come with the backup (pg_wal.tar, written by pg_basebackup
  // --wal-method=stream up to the stop LSN, which pg_basebackup does not wait to see archived). A
  // target at or before the stop LSN (immediate) needs nothing from the archive; a later one needs
  // the stop segment too, because the backup's copy of it ends at the stop LSN.
  bool past_backup = !end || *end > repository::parse_lsn(info.stop_lsn);
  std::vector<std::string> missing;
  reachable = cont.last_segment;
  for (const auto& m : cont.missing) {
    std::uint32_t tli = 0;
    std::uint64_t n = 0;
    bool parsed = repository::parse_segment_name(m, info.wal_segment_size, tli, n);
    if (!parsed || n > stop_seg || (n == stop_seg && past_backup)) {
      if (missing.empty() && parsed) reachable = repository::segment_name(tli, n > 0 ? n - 1 : 0, info.wal_segment_size);
      missing.push_back(m);
    }
  }
  std::uint32_t last_tli = 0;
  std::uint64_t last_n = 0;
  if (repository::parse_segment_name(reachable, info.wal_segment_size, last_tli, last_n) && last_n < stop_seg) {
    reachable = repository::segment_name(info.timeline, stop_seg, info.wal_segment_size);  // the backup's own WAL
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

// For `latest`: the newest segment replay is expected to reach and the data-loss window (what was
// committed after that segment's last commit is lost; the segment's archive time bounds it).
std::string latest_reason(const PitrFacts& facts, const PhysicalBackup& chosen, const std::string& reachable,
                          const std::string& wal_reason, model::Plan& plan) {
  std::string archived = facts.wal->archived_at(chosen.info.wal_cluster, reachable);
  plan.params[model::pitr_param::last_segment] = reachable;
  plan.params[model::pitr_param::last_segment_archived_at] = archived;
  std::string window =
      archived.empty()
          ? fmt::format("data-loss window: commits after the last one in {} (it comes with the base backup, which "
                        "ended {})", reachable, chosen.info.stop_time)
          : fmt::format("data-loss window: commits after the last one in {}, at the latest those after {} (when it "
                        "was archived); the exact time of the last commit is reported once replayed",
                        reachable, archived);
  return fmt::format("{}; replays every segment up to {}, the newest archived; {}", wal_reason, reachable, window);
}

std::string settings_text(const config::PointInTimeRecoverySpec& s) {
  std::string out;
  for (const auto& [k, v] : s.settings) out += fmt::format("{}{} = {}", out.empty() ? "; settings: " : ", ", k, v);
  return out;
}

std::string target_text(const config::PointInTimeRecoverySpec& s) {
  if (s.target.kind == Kind::immediate) return "immediate (the end of the base backup)";
  if (s.target.kind == Kind::latest) return "latest (the end of the archived WAL)";
  return fmt::format("{} {}", kind_name(s.target.kind), s.target.value);
}

void add_steps(const PitrFacts& facts, const PhysicalBackup& chosen, const std::string& choice,
               const std::string& wal_reason, const std::vector<TablespacePlacement>& tablespaces, model::Plan& plan) {
  const auto& s = facts.document->spec;
  const auto& info = chosen.info;
  const fs::path& dd = s.data_directory;
  bool non_empty = !facts.data_directory_empty;
  std::string target = target_text(s);
  std::string bk = fmt::format("backup {}/{}", s.policy, chosen.backup.id);
  fs::path socket = s.socket_directory.empty() ? dd : s.socket_directory;
  plan.steps.push_back(step("verify-backup", "verify-backup", bk, model::Action::run,
                            fmt::format("{}: sizes and SHA-256 of its {} bytes", choice, chosen.backup.bytes), {}));
  const std::string& aside = plan.params.at(P::moved_aside_to);
  plan.steps.push_back(step("data-directory", "data-directory", dd.string(),
                            non_empty ? model::Action::replace : model::Action::create,
                            non_empty ? "not empty: renamed to " + aside + " (kept, never deleted)"
                                      : "absent or empty: taken for the recovered cluster",
                            {}));
  add_tablespace_steps(tablespaces, plan);
  std::vector<std::string> extract_after = {"verify-backup", "data-directory"};
  for (const auto& t : tablespaces) extract_after.push_back("tablespace-" + t.tablespace.oid);
  auto extract = step("extract", "extract", fmt::format("{} into {}", bk, dd.string()), model::Action::create,
                      fmt::format("{} and {}{}, then pg_verifybackup", info.base_file,
                                  info.wal_file.empty() ? "no WAL" : info.wal_file,
                                  tablespaces.empty() ? ""
                                                      : fmt::format(", {} tablespace file(s) into their folders with "
                                                                    "the pg_tblspc links to them",
                                                                    tablespaces.size())),
                      extract_after);
  extract.estimate.bytes = static_cast<std::int64_t>(chosen.backup.bytes);
  plan.steps.push_back(extract);
  std::string settings_after = "extract";
  auto local = nlohmann::json::parse(plan.params.at(P::local_wal)).get<std::vector<std::string>>();
  if (!local.empty()) {
    plan.steps.push_back(step("local-wal", "local-wal",
                              fmt::format("{} WAL file(s) from {}/pg_wal", local.size(), aside), model::Action::create,
                              fmt::format("not in the archive: copied into {}/pg_wal and replayed after the archived "
                                          "WAL ({}..{}), so what the old server wrote but never archived is not lost",
                                          dd.string(), local.front(), local.back()),
                              {"extract"}));
    settings_after = "local-wal";
  }
  bool bounded = s.target.kind == Kind::time || s.target.kind == Kind::xid || s.target.kind == Kind::lsn;
  plan.steps.push_back(step("recovery-settings", "recovery-settings", (dd / "postgresql.auto.conf").string(),
                            model::Action::create,
                            fmt::format("{}; restore_command = pgrecover wal fetch (cluster {}); target {}{}; "
                                        "timeline {}; {}{}",
                                        s.target.kind == Kind::latest ? "standby.signal" : "recovery.signal",
                                        info.wal_cluster, target,
                                        bounded ? (s.inclusive ? ", inclusive" : ", exclusive") : "", s.timeline,
                                        s.archive_resume
                                            ? fmt::format("archive: resume (once promoted, the new timeline is "
                                                          "archived into cluster {} with pgrecover wal push)", info.wal_cluster)
                                            : "archive: off (the recovered cluster does not archive)",
                                        settings_text(s)),
                            {settings_after}));
  std::string where = s.keep_config
                          ? fmt::format("the source's configuration kept (port {}, listen_addresses {}, socket directory {})",
                                        s.port ? std::to_string(s.port) : "as configured",
                                        s.listen_addresses_given ? "'" + s.listen_addresses + "'" : "as configured",
                                        s.socket_directory.empty() ? "as configured" : s.socket_directory.string())
                          : fmt::format("socket in {}, listen_addresses {}", socket.string(),
                                        s.listen_addresses_given ? "'" + s.listen_addresses + "'" : "'' (Unix socket only)");
  plan.steps.push_back(step("server-start", "server-start",
                            fmt::format("PostgreSQL on {}", s.port ? "port " + std::to_string(s.port)
                                                            : s.keep_config ? "the configured port" : "a free port"),
                            model::Action::run,
                            facts.running_as_root ? "as the unprivileged server user; " + where : where,
                            {"recovery-settings"}));
  plan.steps.push_back(step("recovery-target", "recovery-target", target, model::Action::run,
                            fmt::format("{}; wait up to {}s for replay to {}", wal_reason, s.timeout.count(),
                                        s.target.kind == Kind::latest ? "catch up with the archive"
                                                                      : "pause at the target"),
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
                            : s.target.kind == Kind::latest ? "pause replay at the end of the archive: stay read-only "
                                                              "(SELECT pg_promote() opens it for writes)"
                                                            : "stay read-only at the target",
                            {last}));
}

// In place: the old data directory's new name (from the plan's time, so the plan says it exactly),
// and which WAL of its pg_wal is copied: what the archive lacks, from the backup's start on. A
// latest recovery then waits for replay to reach the newest of those too.
void add_in_place(const PitrFacts& facts, const PhysicalBackup& chosen, model::Plan& plan) {
  const auto& s = facts.document->spec;
  std::string aside;
  std::vector<std::string> local;
  if (in_place(facts)) {
    aside = moved_aside_name(facts, s.data_directory.string());
    const auto& info = chosen.info;
    std::uint64_t start = repository::segment_number(repository::parse_lsn(info.start_lsn), info.wal_segment_size);
    for (const auto& name : facts.unarchived_wal) {
      std::uint32_t tli = 0;
      std::uint64_t segno = 0;
      auto kind = repository::classify_wal_name(name);
      if (kind == repository::WalFileKind::history) {
        local.push_back(name);
      } else if (kind == repository::WalFileKind::segment &&
                 repository::parse_segment_name(name, info.wal_segment_size, tli, segno) && segno >= start) {
        local.push_back(name);
        if (s.target.kind == Kind::latest) {
          std::uint32_t etli = 0;
          std::uint64_t eseg = 0;
          const std::string& expected = plan.params[P::last_segment];
          if (expected.empty() || (repository::parse_segment_name(expected, info.wal_segment_size, etli, eseg) && segno > eseg)) {
            plan.params[P::last_segment] = name;
          }
        }
      }
    }
  }
  plan.params[P::moved_aside_to] = aside;
  plan.params[P::local_wal] = nlohmann::json(local).dump();
}

}  // namespace

bool in_place(const PitrFacts& facts) {
  return !facts.data_directory_empty && facts.document->spec.move_aside_existing && facts.finished_run.empty();
}

std::string moved_aside_name(const PitrFacts& facts, const std::string& path) {
  std::string stamp;
  for (char c : facts.created_at.substr(0, 19)) {
    if (c != ':' && c != '-') stamp += c;
  }
  return path + ".pgrecover-" + stamp;
}

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
      case Kind::name: {
        const auto* point = restore_point(facts);
        if (repository::parse_lsn(info.stop_lsn) <= repository::parse_lsn(point->lsn)) {
          reason = fmt::format("the newest base backup that ends before restore point {} ({}, created {})", point->name,
                               point->lsn, point->created_at);
          return {n, reason};
        }
        oldest_end = info.stop_lsn;
        continue;
      }
      case Kind::immediate:
        reason = "the newest base backup, recovered to its end";
        return {n, reason};
      case Kind::latest:
        reason = "the newest base backup, then every archived WAL segment after it";
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
  // Fields added later enter the digest only when used, so existing plan ids stay the same.
  if (s.keep_config) j["config"] = "keep";
  if (s.listen_addresses_given) j["listen_addresses"] = s.listen_addresses;
  if (!s.settings.empty()) j["settings"] = s.settings;
  if (s.archive_resume) j["archive"] = "resume";
  if (!s.tablespace_mapping.empty()) j["tablespace_mapping"] = s.tablespace_mapping;
  if (!s.before.name.empty()) j["before"] = {s.before.name, s.before.resolved_policy};
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

  // WAL from the repository read (first), then the policy's other copies (wal fetch falls back).
  std::string wal_repositories = s.repository;
  for (const auto& r : s.fallback_repositories)
    if (r != s.repository) wal_repositories += "," + r;
  std::string restore_command = fmt::format("{} --config {} --log-level warn wal fetch %f %p --repository {} --cluster {}",
                                            shell_quote(facts.executable), shell_quote(facts.settings_file),
                                            shell_quote(wal_repositories), shell_quote(info.wal_cluster));
  std::string archive_command = fmt::format("{} --config {} --log-level warn wal push %p --repository {} --cluster {}",
                                            shell_quote(facts.executable), shell_quote(facts.settings_file),
                                            shell_quote(wal_repositories), shell_quote(info.wal_cluster));
  std::string reachable;
  std::string wal_reason = check_wal(facts, chosen, plan, reachable);
  auto tablespaces = place_tablespaces(facts, chosen);
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
                 {P::recovery_conf, recovery_conf(s, restore_command, archive_command)},
                 {P::keep_config, s.keep_config ? "true" : "false"},
                 {P::server_settings, server_settings(s).dump()},
                 {P::archive_resume, s.archive_resume ? "true" : "false"},
                 {P::timeout, std::to_string(s.timeout.count())},
                 {P::action, config::to_string(s.action)},
                 {P::verify_sql, nlohmann::json(s.verify_sql).dump()},
                 {P::superuser, info.superuser},
                 {P::start_lsn, info.start_lsn},
                 {P::seg_size, std::to_string(info.wal_segment_size)},
                 {P::timeline, std::to_string(info.timeline)},
                 {P::cluster, info.wal_cluster},
                 {P::target, target_text(s)},
                 {P::standby, s.target.kind == Kind::latest ? "true" : "false"},
                 {"jobs", "1"}};
  if (s.target.kind == Kind::latest) wal_reason = latest_reason(facts, chosen, reachable, wal_reason, plan);
  add_in_place(facts, chosen, plan);
  wal_reason += known_points(facts);
  add_steps(facts, chosen, choice.reason, wal_reason, tablespaces, plan);
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
