// Several copies of a policy's backups (spec.repositories): the copy steps, each repository's own
// retention, and the 3-2-1 warnings. Pure, like the rest of the backup planner.
#include "planner/backup_copies.hpp"

#include <set>

#include <fmt/format.h>

namespace pgr::planner {

using model::Action;

namespace {

std::string place(const std::string& name, const std::string& type, const std::string& where) {
  return type == "posix" ? fmt::format("{} (posix {})", name, where) : fmt::format("{} ({})", name, where);
}

model::Step copy_step(const BackupFacts& facts, const CopyFacts& c, const std::string& id, const std::string& reason) {
  model::Step x;
  x.id = id.empty() ? "copy:" + c.repository : fmt::format("copy:{}:{}", c.repository, id);
  x.kind = "backup-copy";
  x.phase = "copy";
  x.object = fmt::format("{}/{} to {}", facts.policy->metadata.name, id.empty() ? "(the new backup)" : id, c.repository);
  x.action = Action::create;
  x.reason = reason;
  x.params = {{"repository", c.repository}, {"backup", id.empty() ? "new" : id}};
  return x;
}

// One copy: catch-up copies and deletes by the policy's retention over what R holds, what it
// lacks of the first repository's backups and the backup being made.
void add_one_copy(const BackupFacts& facts, const CopyFacts& c, const model::Step& backup, model::Plan& plan,
                  std::vector<std::string>& copy_ids) {
  const auto& s = facts.policy->spec;
  bool creating = backup.action == Action::create;
  std::vector<std::string> own;  // copy steps into R: R's deletes wait for them
  if (creating) {
    auto x = copy_step(facts, c, "", c.unreachable.empty()
                                          ? fmt::format("copied from {} once taken, read back and checked against the manifest",
                                                        facts.repository)
                                          : fmt::format("copied once taken; {} could not be listed when planning: {}",
                                                        c.repository, c.unreachable));
    x.depends_on.push_back(backup.id);
    x.estimate.bytes = backup.estimate.bytes;
    own.push_back(x.id);
    plan.steps.push_back(std::move(x));
  }
  if (!c.unreachable.empty()) {
    // Nothing is known of what R holds: no catch-up copies, and nothing is deleted there.
    copy_ids.insert(copy_ids.end(), own.begin(), own.end());
    return;
  }
  std::set<std::string> present, verified;
  for (const auto& b : c.backups) {
    present.insert(b.id);
    if (!b.verified_at.empty()) verified.insert(b.id);
  }
  for (const auto& b : facts.backups)
    if (!b.verified_at.empty()) verified.insert(b.id);
  // Candidates: R's backups (same order as c.backups), then the first repository's that R lacks,
  // then the new one.
  std::vector<repository::BackupInfo> all = c.backups;
  for (const auto& b : facts.backups)
    if (!present.count(b.id)) all.push_back(b);
  std::vector<repository::RetentionCandidate> cands;
  for (const auto& b : all) cands.push_back({b.id, repository::parse_iso(b.started_at), verified.count(b.id) > 0});
  if (creating) cands.push_back({"~new", facts.now, false});
  repository::RetentionRules rules{s.keep_last, s.keep_daily, s.keep_weekly, s.keep_monthly};
  auto decisions = repository::select_retention(cands, rules);
  for (size_t i = c.backups.size(); i < all.size(); ++i) {
    if (!decisions[i].keep) continue;
    auto x = copy_step(facts, c, all[i].id,
                       fmt::format("{} lacks this backup (an earlier copy failed, or the repository is new to the policy); "
                                   "kept there: {}", c.repository, decisions[i].reason));
    x.estimate.bytes = static_cast<std::int64_t>(all[i].bytes);
    own.push_back(x.id);
    plan.steps.push_back(std::move(x));
  }
  std::vector<std::string> wal_deps = own;
  for (size_t i = 0; i < c.backups.size(); ++i) {
    const auto& id = c.backups[i].id;
    model::Step x;
    x.id = fmt::format("delete:{}:{}", c.repository, id);
    x.kind = "backup-delete";
    x.phase = "retention";
    x.object = fmt::format("{}/{} in {}", facts.policy->metadata.name, id, c.repository);
    x.action = decisions[i].keep ? Action::no_op : Action::remove;
    x.reason = decisions[i].keep ? "kept: " + decisions[i].reason : "outside retention (" + describe_rules(rules) + ")";
    x.params = {{"backup", id}, {"repository", c.repository}};
    x.estimate.bytes = 1;
    if (x.action == Action::remove) {
      x.depends_on = own;  // nothing old goes from R before the new copy is safely there
      wal_deps.push_back(x.id);
    }
    plan.steps.push_back(std::move(x));
  }
  if (s.method == config::BackupMethod::physical) {
    // R's WAL: older than R's oldest kept base backup, counting the ones being copied there.
    std::map<std::string, repository::PhysicalInfo> physical = facts.physical;
    for (const auto& [id, info] : c.physical) physical[id] = info;
    add_wal_deletion({all, physical, c.wal_files, decisions, c.repository, wal_deps}, plan);
  }
  copy_ids.insert(copy_ids.end(), own.begin(), own.end());
}

}  // namespace

std::vector<std::string> add_copy_steps(const BackupFacts& facts, const model::Step& backup, model::Plan& plan) {
  std::vector<std::string> ids;
  for (const auto& c : facts.copies) add_one_copy(facts, c, backup, plan, ids);
  return ids;
}

std::string describe_copies(const BackupFacts& facts) {
  if (facts.copies.empty()) return fmt::format("repository {} ({})", facts.repository, facts.repository_path);
  std::string out = fmt::format("{} copies: {}", facts.copies.size() + 1,
                                place(facts.repository, facts.repository_type, facts.repository_path));
  for (const auto& c : facts.copies) out += ", " + place(c.repository, c.type, c.where);
  return out;
}

std::vector<std::string> placement_warnings(const std::vector<RepositoryPlacement>& repos, const std::string& data_directory) {
  std::vector<std::string> out;
  if (repos.empty()) return out;
  bool all_same_fs = true, all_on_host = true;
  std::string names, places;
  for (const auto& r : repos) {
    all_same_fs = all_same_fs && r.same_filesystem;
    all_on_host = all_on_host && (r.on_source_host || r.same_filesystem);
    names += (names.empty() ? "" : ", ") + r.name;
    places += (places.empty() ? "" : ", ") + fmt::format("{}: {}", r.name, r.where);
  }
  if (repos.size() == 1 && all_same_fs) {
    out.push_back(fmt::format(
        "repository \"{}\" is on the same filesystem as the source's data directory ({}): one disk failure would "
        "take both the database and its backups; put the repository on another disk or machine",
        repos.front().name, data_directory));
  } else if (all_same_fs) {
    out.push_back(fmt::format(
        "every copy ({}) is on the same filesystem as the source's data directory ({}): one disk failure would take "
        "the database and all {} copies (3-2-1 rule: keep copies on other media, one of them off-site, e.g. an s3 "
        "repository)",
        names, data_directory, repos.size()));
  } else if (all_on_host) {
    out.push_back(fmt::format(
        "{} ({}) {} on this host, like the source's data directory ({}): losing the machine loses the database and "
        "every backup (3-2-1 rule: keep one copy off-site, on another machine or an s3 repository)",
        repos.size() == 1 ? "the only copy" : fmt::format("all {} copies", repos.size()), places,
        repos.size() == 1 ? "is" : "are", data_directory));
  }
  // Off-site copies leave the building: in an object store without a key, the table data, the
  // globals (password hashes) and the WAL are readable by whoever can read the bucket.
  for (const auto& r : repos) {
    if (r.type == "s3" && !r.encrypted) {
      out.push_back(fmt::format(
          "repository \"{}\" ({}) is an object store without client-side encryption: whoever can read the bucket "
          "reads the table data, the password hashes of the globals and the WAL (3-2-1: the off-site copy encrypted); "
          "set encryption_key_file for it (docs/backups.md, Encryption)",
          r.name, r.where));
    }
  }
  return out;
}

}  // namespace pgr::planner
