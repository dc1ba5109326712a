// The repository folder: listing, atomic completion by rename, removal, file verification.
#include "repository/repository.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <system_error>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"

namespace pgr::repository {

namespace {

bool top_level_meta(const std::string& rel) {
  return rel == kManifestFile || rel == kVerificationFile || rel.rfind(std::string(kVerificationFile) + ".tmp.", 0) == 0 ||
         rel.rfind(std::string(kManifestFile) + ".tmp.", 0) == 0;
}

std::string io_what(const fs::path& p, const std::error_code& ec) { return fmt::format("\"{}\": {}", p.string(), ec.message()); }

}  // namespace

// ---- files -----------------------------------------------------------------------------------

std::vector<FileEntry> scan_files(const fs::path& dir) {
  std::vector<FileEntry> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    auto st = it->symlink_status(ec);
    if (ec) break;
    std::string rel = fs::relative(it->path(), dir).generic_string();
    if (fs::is_directory(st)) continue;
    if (!fs::is_regular_file(st)) {
      fail(ErrorKind::io, fmt::format("\"{}\" in backup folder \"{}\" is not a regular file", rel, dir.string()),
           "a backup folder holds only regular files; remove what was put there by hand");
    }
    if (top_level_meta(rel)) continue;
    FileEntry e;
    e.path = rel;
    e.sha256 = sha256_file(it->path(), &e.size);
    out.push_back(std::move(e));
  }
  if (ec) fail(ErrorKind::io, fmt::format("could not list {}", io_what(dir, ec)));
  std::sort(out.begin(), out.end(), [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  return out;
}

void make_private(const fs::path& dir) {
  if (::chmod(dir.c_str(), 0700) != 0) fail(ErrorKind::io, fmt::format("could not chmod \"{}\": {}", dir.string(), errno_text(errno)));
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    auto st = it->symlink_status(ec);
    if (ec || fs::is_symlink(st)) continue;
    mode_t mode = fs::is_directory(st) ? 0700 : 0600;
    if (::chmod(it->path().c_str(), mode) != 0) {
      fail(ErrorKind::io, fmt::format("could not chmod \"{}\": {}", it->path().string(), errno_text(errno)));
    }
  }
  if (ec) fail(ErrorKind::io, fmt::format("could not list {}", io_what(dir, ec)));
}

// ---- Repository ------------------------------------------------------------------------------

namespace {

struct KeyParts {
  std::string policy, id, rest;  // backups/<policy>/<id>/<rest>
};

std::optional<KeyParts> backup_key(const std::string& key) {
  std::string_view k = key;
  std::string b = std::string(kBackupsDir) + "/";
  if (k.substr(0, b.size()) != b) return std::nullopt;
  k.remove_prefix(b.size());
  auto s1 = k.find('/');
  if (s1 == std::string_view::npos) return std::nullopt;
  auto s2 = k.find('/', s1 + 1);
  if (s2 == std::string_view::npos) return std::nullopt;
  KeyParts p{std::string(k.substr(0, s1)), std::string(k.substr(s1 + 1, s2 - s1 - 1)), std::string(k.substr(s2 + 1))};
  if (!valid_policy_name(p.policy) || !valid_backup_id(p.id)) return std::nullopt;
  return p;
}

std::string policy_prefix(std::string_view policy) {
  check_policy_name(policy);
  return std::string(kBackupsDir) + "/" + std::string(policy) + "/";
}

BackupInfo info_of(const Manifest& m, const storage::Storage& s) {
  return BackupInfo{m.id,       m.policy,      m.kind,    m.database,
                    m.started_at, m.finished_at, m.bytes(), "",
                    s.describe(std::string(kBackupsDir) + "/" + m.policy + "/" + m.id), m.encryption_key_id};
}

}  // namespace

Repository::Repository(std::shared_ptr<storage::Storage> storage, std::string name)
    : storage_(std::move(storage)), name_(std::move(name)) {}

Repository Repository::open(const fs::path& root, std::string name, bool create) {
  return Repository(storage::open(storage::posix_location(root), name, create), name);
}

std::string Repository::backup_prefix(std::string_view policy, std::string_view id) {
  check_backup_id(id);
  return policy_prefix(policy) + std::string(id) + "/";
}

std::string Repository::file_key(const BackupInfo& b, std::string_view relative) {
  return backup_prefix(b.policy, b.id) + std::string(relative);
}

std::vector<BackupInfo> Repository::list(std::string_view policy) const {
  std::vector<BackupInfo> out;
  std::optional<storage::KeyError> key_error;
  std::string prefix = policy.empty() ? std::string(kBackupsDir) + "/" : policy_prefix(policy);
  for (const auto& o : storage_->list(prefix)) {
    auto k = backup_key(o.key);
    if (!k || k->rest != kManifestFile) continue;
    try {
      auto text = storage::get(*storage_, o.key);
      if (!text) continue;  // removed while listing
      Manifest m = manifest_from_json(nlohmann::json::parse(*text));
      if (m.id != k->id || m.policy != k->policy) {
        fail(ErrorKind::input, fmt::format("its manifest names backup {}/{}", m.policy, m.id));
      }
      BackupInfo b = info_of(m, *storage_);
      b.verified_at = read_verification(b).verified_at;
      out.push_back(std::move(b));
    } catch (const storage::KeyError& ex) {
      log::warn("skipping backup {}/{} in \"{}\": {}", k->policy, k->id, storage_->describe(), ex.what());
      if (!key_error) key_error = ex;
    } catch (const std::exception& ex) {
      log::warn("skipping backup {}/{} in \"{}\": {}", k->policy, k->id, storage_->describe(), ex.what());
    }
  }
  // Not one backup readable with these keys: the settings are wrong, not every backup.
  if (out.empty() && key_error) throw *key_error;
  std::sort(out.begin(), out.end(), [](const BackupInfo& a, const BackupInfo& b) {
    return std::tie(a.started_at, a.id, a.policy) < std::tie(b.started_at, b.id, b.policy);
  });
  return out;
}

BackupInfo Repository::find(std::string_view ref) const {
  std::string_view policy, id = ref;
  if (auto slash = ref.find('/'); slash != std::string_view::npos) {
    policy = ref.substr(0, slash);
    id = ref.substr(slash + 1);
    check_policy_name(policy);
  }
  check_backup_id(id);
  std::vector<BackupInfo> hits;
  for (auto& b : list(policy))
    if (b.id == id) hits.push_back(std::move(b));
  if (hits.empty()) {
    // A backup whose manifest exists but could not be read: say why, not that it is absent.
    for (const auto& o : storage_->list(policy.empty() ? std::string(kBackupsDir) + "/" : policy_prefix(policy))) {
      auto k = backup_key(o.key);
      if (k && k->id == id && k->rest == kManifestFile) read_manifest(BackupInfo{.id = k->id, .policy = k->policy});
    }
    fail(ErrorKind::input, fmt::format("no backup {} in repository \"{}\" ({})", ref, name_, storage_->describe()),
         "see pgrecover backups list");
  }
  if (hits.size() > 1) {
    fail(ErrorKind::input, fmt::format("backup id {} exists in several policies ({}, {})", id, hits[0].policy, hits[1].policy),
         fmt::format("name it as POLICY/ID, e.g. {}/{}", hits[0].policy, id));
  }
  return hits.front();
}

Manifest Repository::read_manifest(const BackupInfo& b) const {
  std::string key = file_key(b, kManifestFile);
  auto text = storage::get(*storage_, key);
  if (!text) fail(ErrorKind::input, fmt::format("backup {}/{} has no manifest \"{}\"", b.policy, b.id, storage_->describe(key)));
  try {
    return manifest_from_json(nlohmann::json::parse(*text));
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::input, fmt::format("manifest \"{}\" is not valid JSON: {}", storage_->describe(key), e.what()));
  }
}

Verification Repository::read_verification(const BackupInfo& b) const {
  std::string key = file_key(b, kVerificationFile);
  auto text = storage::get(*storage_, key);
  if (!text) return {};
  try {
    return verification_from_json(nlohmann::json::parse(*text));
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::input, fmt::format("\"{}\" is not valid JSON: {}", storage_->describe(key), e.what()));
  }
}

void Repository::write_verification(const BackupInfo& b, const Verification& v) const {
  storage::put(*storage_, file_key(b, kVerificationFile), to_json(v).dump(2) + "\n");
}

// Ids are unique in the whole repository (not only per policy), so `backups show ID` needs no
// policy; two policies starting a backup in the same second get -01, -02, ...
bool Repository::id_taken(const std::string& id) const {
  for (const auto& o : storage_->list(std::string(kBackupsDir) + "/")) {
    auto k = backup_key(o.key);
    if (k && k->id == id) return true;
  }
  return false;
}

PendingBackup Repository::begin(std::string_view policy, TimePoint started) const {
  std::string base = format_id(started);
  for (int n = 0; n < 100; ++n) {
    std::string id = n == 0 ? base : fmt::format("{}-{:02d}", base, n);
    if (id_taken(id)) continue;
    std::unique_ptr<storage::Staging> staging;
    try {
      staging = storage_->stage(backup_prefix(policy, id));
    } catch (const Error& e) {
      log::debug("backup id {} is being written by another backup: {}", id, e.what());
      continue;
    }
    return PendingBackup(storage_, std::move(staging), std::string(policy), id);
  }
  fail(ErrorKind::io, fmt::format("could not allocate a backup id for policy \"{}\" at {}", policy, base));
}

void Repository::remove(const BackupInfo& b) const {
  storage_->remove(file_key(b, kManifestFile));
  storage_->remove_all(backup_prefix(b.policy, b.id));
}

std::vector<VerifyProblem> Repository::verify_files(const BackupInfo& b) const {
  Manifest m = read_manifest(b);
  std::string prefix = backup_prefix(b.policy, b.id);
  std::map<std::string, std::uint64_t> present;
  for (const auto& o : storage_->list(prefix)) present[o.key.substr(prefix.size())] = o.size;
  std::vector<VerifyProblem> problems;
  std::set<std::string> listed;
  for (const auto& f : m.files) {
    listed.insert(f.path);
    if (!present.count(f.path)) {
      problems.push_back({f.path, "missing"});
      continue;
    }
    std::uint64_t size = 0;
    std::string sum;
    try {
      sum = storage::sha256(*storage_, prefix + f.path, &size);
    } catch (const Error& e) {
      problems.push_back({f.path, fmt::format("cannot be read: {}", e.what())});
      continue;
    }
    if (size != f.size) {
      problems.push_back({f.path, fmt::format("size {} bytes, the manifest says {}", size, f.size)});
    } else if (sum != f.sha256) {
      problems.push_back({f.path, fmt::format("SHA-256 {} differs from the manifest's {}", sum, f.sha256)});
    }
  }
  for (const auto& [rel, size] : present)
    if (!top_level_meta(rel) && !listed.count(rel)) problems.push_back({rel, "not in the manifest"});
  return problems;
}

std::string Repository::fingerprint(std::string_view policy) const {
  Sha256 h;
  for (const auto& b : list(policy)) {
    h.update(b.policy + "/" + b.id + "\n");
    h.update(storage::sha256(*storage_, file_key(b, kManifestFile)) + "\n");
    h.update(b.verified_at + "\n");
  }
  return h.hex();
}

std::vector<std::string> Repository::unfinished(std::string_view policy) const {
  std::string prefix = policy_prefix(policy);
  std::set<std::string> ids, complete;
  for (const auto& o : storage_->list(prefix)) {
    auto k = backup_key(o.key);
    if (!k) continue;
    ids.insert(k->id);
    if (k->rest == kManifestFile) complete.insert(k->id);
  }
  std::vector<std::string> out;
  for (const auto& id : ids)
    if (!complete.count(id)) out.push_back(storage_->describe(prefix + id) + " (no manifest)");
  for (auto& s : storage_->stale_staging(prefix)) out.push_back(std::move(s));
  return out;
}

void Repository::remove_unfinished(std::string_view policy, const std::set<std::string>& keep) const {
  std::string prefix = policy_prefix(policy);
  std::set<std::string> ids, complete;
  for (const auto& o : storage_->list(prefix)) {
    auto k = backup_key(o.key);
    if (!k) continue;
    ids.insert(k->id);
    if (k->rest == kManifestFile) complete.insert(k->id);
  }
  for (const auto& id : ids) {
    if (complete.count(id) || keep.count(id)) continue;
    log::info("removing the unfinished backup {}", storage_->describe(prefix + id));
    storage_->remove_all(prefix + id + "/");
  }
  storage_->clean_stale_staging(prefix);
}

// ---- PendingBackup ---------------------------------------------------------------------------

void PendingBackup::abandon() noexcept { staging_.reset(); }

BackupInfo PendingBackup::commit(Manifest m) {
  if (!staging_) fail(ErrorKind::internal, fmt::format("backup {} was already committed or abandoned", id_));
  m.id = id_;
  m.policy = policy_;
  make_private(staging_->dir());
  m.files = scan_files(staging_->dir());
  m.encryption_key_id = storage_->encryption_key_id();
  staging_->commit();
  staging_.reset();
  // Last: the manifest is what makes the backup exist.
  storage::put(*storage_, Repository::backup_prefix(policy_, id_) + kManifestFile, to_json(m).dump(2) + "\n");
  return info_of(m, *storage_);
}

}  // namespace pgr::repository
