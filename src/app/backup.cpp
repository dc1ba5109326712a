#include "app/backup.hpp"

#include "app/run_folder.hpp"

#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/backup_globals.hpp"
#include "app/backup_runner.hpp"
#include "app/physical_backup.hpp"
#include "executor/journal.hpp"
#include "pg/pg.hpp"
#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"

namespace pgr::app {

namespace {

using model::Action;
using Clock = std::chrono::system_clock;

std::string age_text(std::chrono::seconds s) {
  auto v = s.count();
  if (v < 0) v = 0;
  if (v < 120) return fmt::format("{}s", v);
  if (v < 2 * 3600) return fmt::format("{}m", v / 60);
  if (v < 2 * 86400) return fmt::format("{}h", v / 3600);
  return fmt::format("{}d", v / 86400);
}

const spec::RepositorySettings& repository_settings(const spec::Settings& settings, const std::string& name,
                                                    const std::string& who) {
  const auto* r = settings.find_repository(name);
  if (!r) {
    fail(ErrorKind::input, fmt::format("{}: repository \"{}\" is not in the settings", who, name),
         fmt::format("add [repositories.{}] path = \"...\" to pgrecover.toml", name));
  }
  return *r;
}

// The device of a path, or of its nearest existing ancestor.
std::optional<dev_t> device_of(fs::path p) {
  struct stat st {};
  while (!p.empty()) {
    if (::stat(p.c_str(), &st) == 0) return st.st_dev;
    if (p == p.parent_path()) break;
    p = p.parent_path();
  }
  return std::nullopt;
}

void same_filesystem_warning(const spec::BackupPolicy& policy, const spec::Settings& settings, const fs::path& repo,
                             std::vector<std::string>& warnings) {
  try {
    auto conn = pg::Connection::open(pg::with_dbname(settings.connect_string(policy.spec.source), "postgres"), "pgrecover plan");
    std::string data_dir = conn.exec("SELECT current_setting('data_directory')").str(0, 0);
    auto a = device_of(data_dir), b = device_of(repo);
    struct stat st {};
    if (::stat(data_dir.c_str(), &st) == 0 && a && b && *a == *b) {
      warnings.push_back(fmt::format(
          "repository \"{}\" is on the same filesystem as the source's data directory ({}): one disk failure would "
          "take both the database and its backups; put the repository on another disk or machine",
          policy.spec.repository, data_dir));
    }
  } catch (const Error& e) {
    log::debug("could not compare the repository's filesystem with the source's data directory: {}", e.what());
  }
}

std::string describe_rules(const repository::RetentionRules& r) {
  std::string out;
  auto add = [&](const char* n, const std::optional<int>& v) {
    if (v) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", n, *v);
  };
  add("keep_last", r.keep_last);
  add("keep_daily", r.keep_daily);
  add("keep_weekly", r.keep_weekly);
  add("keep_monthly", r.keep_monthly);
  return out;
}

// Physical policies (issue 8): the archiving health check, and WAL older than the oldest kept
// base backup deleted after the retention deletes.
void add_physical_parts(const spec::BackupPolicy& policy, const spec::Settings& settings,
                        const repository::Repository& repo, const std::vector<repository::BackupInfo>& backups,
                        const std::vector<repository::RetentionDecision>& decisions, const std::string& backup_step,
                        model::Plan& plan) {
  try {
    for (auto& w : check_archiving(policy, settings)) plan.warnings.push_back(std::move(w));
  } catch (const Error& e) {
    plan.warnings.push_back(fmt::format("could not check WAL archiving on the source: {}", e.what()));
  }
  std::vector<std::string> kept;
  for (size_t i = 0; i < backups.size(); ++i)
    if (decisions[i].keep && backups[i].kind == "physical") kept.push_back(backups[i].id);
  auto del = plan_wal_deletion(repo, policy.metadata.name, kept);
  if (!del) return;
  model::Step w;
  w.id = "wal-delete:" + del->cluster;
  w.kind = "wal-delete";
  w.phase = "retention";
  w.object = fmt::format("wal/{} before {}", del->cluster, del->first_kept);
  w.action = Action::remove;
  w.reason = fmt::format("{} WAL files ({} bytes) older than the oldest kept base backup", del->files, del->bytes);
  w.params = {{"cluster", del->cluster},
              {"before_segno", std::to_string(del->before_segno)},
              {"seg_size", std::to_string(del->seg_size)},
              {"first_kept", del->first_kept}};
  w.estimate.bytes = 1;
  if (!backup_step.empty()) w.depends_on.push_back(backup_step);
  for (const auto& st : plan.steps)
    if (st.kind == "backup-delete" && st.action == Action::remove) w.depends_on.push_back(st.id);
  plan.steps.push_back(std::move(w));
}

}  // namespace

model::Plan plan_backup_policy(const spec::BackupPolicy& policy, const spec::Settings& settings) {
  const auto& s = policy.spec;
  const std::string& name = policy.metadata.name;
  std::string who = fmt::format("BackupPolicy \"{}\"", name);
  bool physical = s.method == spec::BackupMethod::physical;
  repository::check_policy_name(name);
  const auto& rs = repository_settings(settings, s.repository, who);
  auto repo = repository::Repository::open(rs.path, rs.name, /*create=*/false);
  auto backups = repo.list(name);
  auto now = std::chrono::floor<std::chrono::seconds>(Clock::now());

  model::Plan plan;
  plan.kind = "backup";
  plan.document = name;
  plan.annotations = policy.metadata.annotations;
  plan.created_at = executor::now_iso8601();
  plan.source = fmt::format("repository {} ({})", rs.name, rs.path.string());
  plan.target.connection = s.source.connection;
  plan.target.conninfo = s.source.connection.empty() ? split_password(s.source.conninfo).conninfo : "";
  plan.target.database = s.database;
  nlohmann::json pj = policy_to_json(policy);
  plan.params["policy"] = pj.dump();
  plan.params["jobs"] = "1";
  plan.fingerprints["documents"] = sha256_hex(pj.dump());
  plan.fingerprints["repository"] = repo.fingerprint(name);

  // 1. Is a backup due?
  model::Step b;
  b.id = "backup:" + name;
  b.kind = "backup";
  b.phase = "backup";
  b.object = physical ? fmt::format("{} (base backup, WAL cluster {})", name, s.cluster.empty() ? name : s.cluster)
                      : fmt::format("{} (database {})", name, s.database);
  if (backups.empty()) {
    b.action = Action::create;
    b.reason = "no backup of this policy yet";
  } else {
    auto age = now - repository::parse_iso(backups.back().started_at);
    b.estimate.bytes = static_cast<std::int64_t>(backups.back().bytes);
    if (s.schedule_every.count() == 0) {
      b.action = Action::create;
      b.reason = fmt::format("newest backup {} old; no schedule: a backup on every apply", age_text(age));
    } else {
      b.action = age >= s.schedule_every ? Action::create : Action::no_op;
      b.reason = fmt::format("newest backup {} old, schedule every {}", age_text(age), age_text(s.schedule_every));
    }
  }
  bool creating = b.action == Action::create;

  // 2. A restore drill: due when no backup passed one within drill.every. It drills the backup
  // this plan makes, else the newest one.
  model::Step d;
  bool drill = !physical && s.drill_every.count() > 0 && (creating || !backups.empty());
  if (physical && s.drill_every.count() > 0) {
    plan.warnings.push_back("restore drills run for logical backups only; prove physical backups with a "
                            "PointInTimeRecovery into a scratch data directory");
  }
  if (drill) {
    std::string last;
    for (const auto& x : backups) last = std::max(last, x.verified_at);
    d.id = "drill:" + name;
    d.kind = "drill";
    d.phase = "verify";
    std::string target = creating ? "new" : backups.back().id;
    d.object = fmt::format("{}/{}", name, creating ? "(the new backup)" : target);
    d.params["backup"] = target;
    d.estimate.bytes = b.estimate.bytes;
    if (last.empty()) {
      d.action = Action::run;
      d.reason = fmt::format("no backup of this policy was restored in a drill yet; drill every {}", age_text(s.drill_every));
    } else {
      auto age = now - repository::parse_iso(last);
      d.action = age >= s.drill_every ? Action::run : Action::no_op;
      d.reason = fmt::format("last successful drill {} ago, drill every {}", age_text(age), age_text(s.drill_every));
    }
    if (creating) d.depends_on.push_back(b.id);
  }
  bool drill_new = drill && d.action == Action::run && creating;

  // 3. Retention, counting the backup this plan makes (so a re-plan right after is clean). The
  // deletes wait for the new backup (and its drill): nothing old goes before something new is
  // safely there.
  std::vector<repository::RetentionCandidate> cands;
  for (const auto& x : backups) cands.push_back({x.id, repository::parse_iso(x.started_at), !x.verified_at.empty()});
  // "~new" sorts after every real id: among backups of the same second it is the newest.
  if (creating) cands.push_back({"~new", now, drill_new});
  repository::RetentionRules rules{s.keep_last, s.keep_daily, s.keep_weekly, s.keep_monthly};
  auto decisions = repository::select_retention(cands, rules);
  plan.steps.push_back(b);
  if (drill && !drill_new) plan.steps.push_back(d);
  for (size_t i = 0; i < backups.size(); ++i) {
    model::Step x;
    x.id = "delete:" + backups[i].id;
    x.kind = "backup-delete";
    x.phase = "retention";
    x.object = fmt::format("{}/{}", name, backups[i].id);
    x.action = decisions[i].keep ? Action::no_op : Action::remove;
    x.reason = decisions[i].keep ? "kept: " + decisions[i].reason : "outside retention (" + describe_rules(rules) + ")";
    x.params["backup"] = backups[i].id;
    x.estimate.bytes = 1;
    if (x.action == Action::remove) {
      if (creating) x.depends_on.push_back(b.id);
      if (drill_new) x.depends_on.push_back(d.id);
    }
    plan.steps.push_back(std::move(x));
  }
  if (drill_new) plan.steps.insert(plan.steps.begin() + 1, d);
  if (physical) add_physical_parts(policy, settings, repo, backups, decisions, creating ? b.id : "", plan);

  same_filesystem_warning(policy, settings, rs.path, plan.warnings);
  for (const auto& p : repo.partial_folders(name))
    plan.warnings.push_back(fmt::format("an unfinished backup folder is left from an interrupted run: {} (ignored; "
                                        "removed by the next backup)", p.string()));
  std::string actions;
  for (const auto& st : plan.steps) actions += st.id + "=" + model::to_string(st.action) + "\n";
  plan.id = "b-" + sha256_hex(fmt::format("backup\n{}\n{}\n{}", plan.fingerprints["documents"],
                                          plan.fingerprints["repository"], actions))
                       .substr(0, 16);
  return plan;
}

ApplyResult apply_backup_plan(const model::Plan& plan, const spec::Settings& settings, const ApplyOptions& options) {
  if (plan.kind != "backup") fail(ErrorKind::input, fmt::format("plan {} is a {} plan, not a backup plan", plan.id, plan.kind));
  if (!plan.params.count("policy")) fail(ErrorKind::input, fmt::format("backup plan {} has no policy", plan.id));
  RunFolder folder(settings, plan);
  if (folder.finished()) return folder.finished_result();
  auto& journal = folder.journal();

  BackupRunState state;
  state.plan = &plan;
  state.settings = &settings;
  state.policy = policy_from_json(nlohmann::json::parse(plan.params.at("policy")));
  const std::string& name = state.policy.metadata.name;
  const auto& rs = repository_settings(settings, state.policy.spec.repository, fmt::format("plan {}", plan.id));
  state.repo = std::make_unique<repository::Repository>(repository::Repository::open(rs.path, rs.name));
  create_private_dirs(state.repo->policy_dir(name));
  FileLock policy_lock(state.repo->policy_dir(name) / ".lock", fmt::format("backup policy \"{}\"", name));
  spec::ConnectionRef src{plan.target.connection, plan.target.conninfo};
  state.source_conninfo = settings.connect_string(src);

  if (!folder.resumed()) {
    if (state.repo->fingerprint(name) != plan.fingerprints.at("repository")) {
      fail(ErrorKind::stale_plan,
           fmt::format("plan is stale: the backups of policy \"{}\" in repository \"{}\" changed since the plan was made",
                       name, rs.name),
           "plan again and review the new plan");
    }
    // Leftovers of crashed backups: never listed, removed here.
    for (const auto& p : state.repo->partial_folders(name)) {
      log::info("removing the unfinished backup folder {}", p.string());
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } else {
    for (const auto& r : journal.records())
      if (r.type == "done" && r.step == "backup:" + name && r.note.rfind("backup ", 0) == 0) state.new_backup_id = r.note.substr(7);
  }

  folder.start();
  auto runner = make_backup_runner(state);
  // jobs 1: the steps depend on each other or are quick; pg_dump itself runs with the policy's jobs
  return folder.run(*runner, options, 1, {{"repository", rs.name}, {"backup", state.new_backup_id}});
}

RestoreSource resolve_restore_source(const spec::Restore& doc, const spec::Settings& settings) {
  if (!doc.spec.archive.empty()) return RestoreSource{doc.spec.archive, "", {}, {}};
  std::string who = fmt::format("Restore \"{}\"", doc.metadata.name);
  const auto& rs = repository_settings(settings, doc.spec.repository, who);
  auto repo = repository::Repository::open(rs.path, rs.name, /*create=*/false);
  std::vector<repository::BackupInfo> backups;
  for (auto& b : repo.list(doc.spec.policy))
    if (b.kind == "logical") backups.push_back(std::move(b));
  const auto& ref = doc.spec.backup;
  const repository::BackupInfo* chosen = nullptr;
  if (ref.kind == spec::BackupRef::Kind::latest) {
    if (!backups.empty()) chosen = &backups.back();
  } else if (ref.kind == spec::BackupRef::Kind::id) {
    repository::check_backup_id(ref.id);
    for (const auto& b : backups)
      if (b.id == ref.id) chosen = &b;
  } else {
    auto before = repository::parse_iso(ref.before);
    for (const auto& b : backups)  // oldest first: the last one started before T
      if (repository::parse_iso(b.started_at) < before) chosen = &b;
  }
  if (!chosen) {
    std::string what = ref.kind == spec::BackupRef::Kind::latest ? "any logical backup"
                       : ref.kind == spec::BackupRef::Kind::id   ? "backup " + ref.id
                                                                 : "a logical backup started before " + ref.before;
    fail(ErrorKind::input,
         fmt::format("{}: repository \"{}\" has no {} of policy \"{}\"", who, rs.name, what, doc.spec.policy),
         "see pgrecover backups list --repository " + rs.name);
  }
  auto m = repo.read_manifest(*chosen);
  if (m.format == "plain") {
    fail(ErrorKind::input, fmt::format("{}: backup {} is a plain SQL dump, which pgrecover cannot restore by table", who, m.id),
         fmt::format("restore it with psql -f {}", (chosen->dir / m.data).string()));
  }
  RestoreSource src;
  src.archive = (chosen->dir / m.data).string();
  src.backup_id = m.id;
  src.expected_rows = m.row_counts;
  if (m.globals) src.role_definitions = role_definitions(*m.globals);
  return src;
}

}  // namespace pgr::app
