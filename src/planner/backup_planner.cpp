#include "planner/backup_planner.hpp"

#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/policy_json.hpp"
#include "planner/backup_copies.hpp"
#include "pg/pg.hpp"
#include "repository/wal_retention.hpp"
#include "util/hash.hpp"

namespace pgr::planner {

using model::Action;

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

void add_wal_deletion(const WalRetentionInput& in, model::Plan& plan) {
  const repository::PhysicalInfo* oldest = nullptr;
  for (size_t i = 0; i < in.backups.size(); ++i) {
    auto it = in.physical.find(in.backups[i].id);
    if (!in.decisions[i].keep || in.backups[i].kind != "physical" || it == in.physical.end()) continue;
    if (!oldest || repository::parse_lsn(it->second.start_lsn) < repository::parse_lsn(oldest->start_lsn)) oldest = &it->second;
  }
  if (!oldest) return;
  static const std::vector<repository::WalArchive::Entry> none;
  auto files = in.wal_files.find(oldest->wal_cluster);
  auto del = repository::wal_deletion(*oldest, files == in.wal_files.end() ? none : files->second);
  if (!del) return;
  model::Step w;
  w.id = in.repository.empty() ? "wal-delete:" + del->cluster : fmt::format("wal-delete:{}:{}", in.repository, del->cluster);
  w.kind = "wal-delete";
  w.phase = "retention";
  w.object = fmt::format("{}wal/{} before {}", in.repository.empty() ? "" : in.repository + ": ", del->cluster, del->first_kept);
  w.action = Action::remove;
  w.reason = fmt::format("{} WAL files ({} bytes) older than the oldest kept base backup", del->files, del->bytes);
  w.params = {{"cluster", del->cluster},
              {"before_segno", std::to_string(del->before_segno)},
              {"seg_size", std::to_string(del->seg_size)},
              {"first_kept", del->first_kept}};
  if (!in.repository.empty()) w.params["repository"] = in.repository;
  w.estimate.bytes = 1;
  w.depends_on = in.depends_on;
  plan.steps.push_back(std::move(w));
}

std::string age_text(std::chrono::seconds s) {
  auto v = s.count();
  if (v < 0) v = 0;
  if (v < 120) return fmt::format("{}s", v);
  if (v < 2 * 3600) return fmt::format("{}m", v / 60);
  if (v < 2 * 86400) return fmt::format("{}h", v / 3600);
  return fmt::format("{}d", v / 86400);
}

namespace {

// The databases a whole-cluster backup dumps, as the plan names them: "a, b, c".
std::string cluster_list(const BackupFacts& facts) {
  std::string out;
  for (const auto& d : facts.databases)
    if (d.dump) out += (out.empty() ? "" : ", ") + d.name;
  return out.empty() ? "no database" : out;
}

// 1. Is a backup due? (the schedule, against the newest backup)
model::Step backup_step(const BackupFacts& facts) {
  const auto& s = facts.policy->spec;
  const std::string& name = facts.policy->metadata.name;
  model::Step b;
  b.id = "backup:" + name;
  b.kind = "backup";
  b.phase = "backup";
  b.object = s.method == config::BackupMethod::physical
                 ? fmt::format("{} (base backup, WAL cluster {})", name, s.cluster.empty() ? name : s.cluster)
                 : s.whole_cluster() ? fmt::format("{} (cluster: {})", name, cluster_list(facts))
                                     : fmt::format("{} (database {})", name, s.database);
  if (s.whole_cluster()) b.params["databases"] = cluster_list(facts);
  if (facts.backups.empty()) {
    b.action = Action::create;
    b.reason = "no backup of this policy yet";
    return b;
  }
  auto age = facts.now - repository::parse_iso(facts.backups.back().started_at);
  b.estimate.bytes = static_cast<std::int64_t>(facts.backups.back().bytes);
  if (s.schedule_every.count() == 0) {
    b.action = Action::create;
    b.reason = fmt::format("newest backup {} old; no schedule: a backup on every apply", age_text(age));
  } else {
    b.action = age >= s.schedule_every ? Action::create : Action::no_op;
    b.reason = fmt::format("newest backup {} old, schedule every {}", age_text(age), age_text(s.schedule_every));
  }
  auto newest = facts.physical.find(facts.backups.back().id);
  if (b.action == Action::no_op && facts.source_timeline > 0 && newest != facts.physical.end() &&
      newest->second.timeline < facts.source_timeline) {
    b.action = Action::create;
    b.reason = fmt::format("the source writes on timeline {} (promoted since), the newest base backup is from timeline {}",
                           facts.source_timeline, newest->second.timeline);
  }
  return b;
}

// 2. A restore drill: due when no backup passed one within drill.every. It drills the backup this
// plan makes (`creating`), else the newest one. None without a backup. A logical backup is
// restored, a physical one recovered to consistency (app/drill).
std::optional<model::Step> drill_step(const BackupFacts& facts, const model::Step& backup) {
  const auto& s = facts.policy->spec;
  const std::string& name = facts.policy->metadata.name;
  bool creating = backup.action == Action::create;
  if (s.drill_every.count() == 0) return std::nullopt;
  if (!creating && facts.backups.empty()) return std::nullopt;
  std::string last;
  for (const auto& x : facts.backups) last = std::max(last, x.verified_at);
  model::Step d;
  d.id = "drill:" + name;
  d.kind = "drill";
  d.phase = "verify";
  std::string target = creating ? "new" : facts.backups.back().id;
  d.object = fmt::format("{}/{}", name, creating ? "(the new backup)" : target);
  d.params["backup"] = target;
  d.estimate.bytes = backup.estimate.bytes;
  if (last.empty()) {
    d.action = Action::run;
    d.reason = fmt::format("no backup of this policy was restored in a drill yet; drill every {}", age_text(s.drill_every));
  } else {
    auto age = facts.now - repository::parse_iso(last);
    d.action = age >= s.drill_every ? Action::run : Action::no_op;
    d.reason = fmt::format("last successful drill {} ago, drill every {}", age_text(age), age_text(s.drill_every));
  }
  if (creating) d.depends_on.push_back(backup.id);
  return d;
}

// 3. Retention, counting the backup this plan makes (so a re-plan right after is clean). The
// deletes wait for the new backup (and its drill): nothing old goes before something new is
// safely there.
std::vector<repository::RetentionDecision> add_retention_steps(const BackupFacts& facts, const model::Step& backup,
                                                               const model::Step* new_drill,
                                                               const std::vector<std::string>& copies, model::Plan& plan) {
  const auto& s = facts.policy->spec;
  bool creating = backup.action == Action::create;
  std::vector<repository::RetentionCandidate> cands;
  for (const auto& x : facts.backups) cands.push_back({x.id, repository::parse_iso(x.started_at), !x.verified_at.empty()});
  // "~new" sorts after every real id: among backups of the same second it is the newest.
  if (creating) cands.push_back({"~new", facts.now, new_drill != nullptr});
  repository::RetentionRules rules{s.keep_last, s.keep_daily, s.keep_weekly, s.keep_monthly};
  auto decisions = repository::select_retention(cands, rules);
  for (size_t i = 0; i < facts.backups.size(); ++i) {
    const auto& id = facts.backups[i].id;
    model::Step x;
    x.id = "delete:" + id;
    x.kind = "backup-delete";
    x.phase = "retention";
    x.object = fmt::format("{}/{}", facts.policy->metadata.name, id);
    x.action = decisions[i].keep ? Action::no_op : Action::remove;
    x.reason = decisions[i].keep ? "kept: " + decisions[i].reason : "outside retention (" + describe_rules(rules) + ")";
    x.params["backup"] = id;
    x.estimate.bytes = 1;
    if (x.action == Action::remove) {
      if (creating) x.depends_on.push_back(backup.id);
      if (new_drill) x.depends_on.push_back(new_drill->id);
      // A backup leaves the first repository only once every copy of this plan has landed: a
      // failed copy keeps it (the next plan copies what is missing, then deletes).
      x.depends_on.insert(x.depends_on.end(), copies.begin(), copies.end());
    }
    plan.steps.push_back(std::move(x));
  }
  return decisions;
}

}  // namespace

model::Plan plan_backup_policy(const BackupFacts& facts) {
  const config::BackupPolicy& policy = *facts.policy;
  const auto& s = policy.spec;
  model::Plan plan;
  plan.kind = "backup";
  plan.document = policy.metadata.name;
  plan.annotations = policy.metadata.annotations;
  plan.created_at = facts.created_at;
  plan.source = describe_copies(facts);
  plan.target.connection = s.source.connection;
  plan.target.conninfo = s.source.connection.empty() ? pg::split_password(s.source.conninfo).conninfo : "";
  plan.target.database = s.database;
  config::BackupPolicy reviewed = policy;  // what the plan records: never a password
  reviewed.spec.source.conninfo = plan.target.conninfo;
  nlohmann::json pj = config::policy_to_json(reviewed);
  plan.params["policy"] = pj.dump();
  plan.params["jobs"] = "1";
  plan.fingerprints["documents"] = sha256_hex(pj.dump());
  plan.fingerprints["repository"] = facts.repository_fingerprint;
  std::string copy_prints;
  for (const auto& c : facts.copies) {
    plan.fingerprints["repository:" + c.repository] = c.fingerprint;
    copy_prints += c.repository + "=" + c.fingerprint + "\n";
  }

  bool physical = s.method == config::BackupMethod::physical;
  model::Step b = backup_step(facts);
  bool creating = b.action == Action::create;
  auto d = drill_step(facts, b);
  bool drill_new = d && d->action == Action::run && creating;  // the new backup's drill, before any delete
  plan.steps.push_back(b);
  if (d) plan.steps.push_back(*d);
  auto copies = add_copy_steps(facts, b, plan);
  auto decisions = add_retention_steps(facts, b, drill_new ? &*d : nullptr, copies, plan);
  if (physical) {
    std::vector<std::string> deps;
    if (creating) deps.push_back(b.id);
    for (const auto& st : plan.steps)
      if (st.kind == "backup-delete" && st.action == Action::remove && !st.params.count("repository")) deps.push_back(st.id);
    add_wal_deletion({facts.backups, facts.physical, facts.wal_files, decisions, "", deps}, plan);
  }
  for (const auto& w : facts.warnings) plan.warnings.push_back(w);
  for (const auto& d : facts.databases)  // template0 never is, as with pg_dumpall: no news
    if (!d.dump && d.name != "template0") plan.warnings.push_back(fmt::format("database \"{}\" is not dumped: {}", d.name, d.reason));
  std::string actions;
  for (const auto& st : plan.steps) actions += st.id + "=" + model::to_string(st.action) + "\n";
  plan.id = "b-" + sha256_hex(fmt::format("backup\n{}\n{}\n{}{}", plan.fingerprints["documents"],
                                          plan.fingerprints["repository"], copy_prints, actions))
                       .substr(0, 16);
  return plan;
}

}  // namespace pgr::planner
