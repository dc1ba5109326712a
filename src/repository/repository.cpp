// The repository folder: listing, atomic completion by rename, removal, file verification.
#include "repository/repository.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

void remove_tree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) log::warn("could not remove \"{}\": {}", p.string(), ec.message());
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

namespace {

void fsync_tree(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> dirs{dir};
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    auto st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(st)) dirs.push_back(it->path());
    else if (fs::is_regular_file(st)) fsync_file(it->path());
  }
  if (ec) fail(ErrorKind::io, fmt::format("could not list {}", io_what(dir, ec)));
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) fsync_dir(*it);
}

}  // namespace

// ---- Repository ------------------------------------------------------------------------------

Repository Repository::open(const fs::path& root, std::string name, bool create) {
  if (root.empty() || !root.is_absolute()) {
    fail(ErrorKind::input, fmt::format("repository \"{}\": path \"{}\" must be absolute", name, root.string()));
  }
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_directory(root, ec)) {
    fail(ErrorKind::io, fmt::format("repository \"{}\": \"{}\" is not a folder", name, root.string()));
  }
  if (create) create_private_dirs(root / kBackupsDir);
  return Repository(root, std::move(name));
}

fs::path Repository::policy_dir(std::string_view policy) const {
  check_policy_name(policy);
  return root_ / kBackupsDir / std::string(policy);
}

fs::path Repository::backup_dir(std::string_view policy, std::string_view id) const {
  check_backup_id(id);
  return policy_dir(policy) / std::string(id);
}

fs::path Repository::wal_dir(std::string_view cluster) const {
  check_policy_name(cluster);
  return root_ / kWalDir / std::string(cluster);
}

std::vector<BackupInfo> Repository::list(std::string_view policy) const {
  std::vector<BackupInfo> out;
  std::vector<std::string> policies;
  if (!policy.empty()) {
    policies.emplace_back(policy);
  } else {
    std::error_code ec;
    if (!fs::is_directory(root_ / kBackupsDir, ec)) return out;
    for (const auto& e : fs::directory_iterator(root_ / kBackupsDir, ec)) {
      std::string n = e.path().filename().string();
      if (e.is_directory() && valid_policy_name(n)) policies.push_back(n);
    }
    if (ec) fail(ErrorKind::io, fmt::format("could not list {}", io_what(root_ / kBackupsDir, ec)));
  }
  for (const auto& p : policies) {
    fs::path pdir = policy_dir(p);
    std::error_code ec;
    if (!fs::is_directory(pdir, ec)) continue;
    for (const auto& e : fs::directory_iterator(pdir, ec)) {
      std::string id = e.path().filename().string();
      if (!valid_backup_id(id) || !e.is_directory()) continue;  // .partial-*, stray files
      try {
        Manifest m = manifest_from_json(nlohmann::json::parse(read_file(e.path() / kManifestFile)));
        if (m.id != id || m.policy != p) {
          fail(ErrorKind::input, fmt::format("its manifest names backup {}/{}", m.policy, m.id));
        }
        BackupInfo b{m.id, m.policy, m.kind, m.database, m.started_at, m.finished_at, m.bytes(), "", e.path()};
        b.verified_at = read_verification(b).verified_at;
        out.push_back(std::move(b));
      } catch (const std::exception& ex) {
        log::warn("skipping backup folder \"{}\": {}", e.path().string(), ex.what());
      }
    }
    if (ec) fail(ErrorKind::io, fmt::format("could not list {}", io_what(pdir, ec)));
  }
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
    fail(ErrorKind::input, fmt::format("no backup {} in repository \"{}\" ({})", ref, name_, root_.string()),
         "see pgrecover backups list");
  }
  if (hits.size() > 1) {
    fail(ErrorKind::input, fmt::format("backup id {} exists in several policies ({}, {})", id, hits[0].policy, hits[1].policy),
         fmt::format("name it as POLICY/ID, e.g. {}/{}", hits[0].policy, id));
  }
  return hits.front();
}

Manifest Repository::read_manifest(const BackupInfo& b) const {
  fs::path p = backup_dir(b.policy, b.id) / kManifestFile;
  try {
    return manifest_from_json(nlohmann::json::parse(read_file(p)));
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::input, fmt::format("manifest \"{}\" is not valid JSON: {}", p.string(), e.what()));
  }
}

Verification Repository::read_verification(const BackupInfo& b) const {
  fs::path p = backup_dir(b.policy, b.id) / kVerificationFile;
  std::error_code ec;
  if (!fs::exists(p, ec)) return {};
  try {
    return verification_from_json(nlohmann::json::parse(read_file(p)));
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::input, fmt::format("\"{}\" is not valid JSON: {}", p.string(), e.what()));
  }
}

void Repository::write_verification(const BackupInfo& b, const Verification& v) const {
  write_file_atomic(backup_dir(b.policy, b.id) / kVerificationFile, to_json(v).dump(2) + "\n", 0600);
}

// Ids are unique in the whole repository (not only per policy), so `backups show ID` needs no
// policy; two policies starting a backup in the same second get -01, -02, ...
bool Repository::id_taken(const std::string& id) const {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / kBackupsDir, ec)) {
    if (!e.is_directory()) continue;
    if (fs::exists(e.path() / id, ec) || fs::exists(e.path() / (std::string(kPartialPrefix) + id), ec)) return true;
  }
  return false;
}

PendingBackup Repository::begin(std::string_view policy, TimePoint started) const {
  fs::path pdir = policy_dir(policy);
  create_private_dirs(pdir);
  std::string base = format_id(started);
  for (int n = 0; n < 100; ++n) {
    std::string id = n == 0 ? base : fmt::format("{}-{:02d}", base, n);
    fs::path final_dir = pdir / id;
    fs::path temp = pdir / (std::string(kPartialPrefix) + id);
    if (id_taken(id)) continue;
    if (::mkdir(temp.c_str(), 0700) != 0) {
      if (errno == EEXIST) continue;  // another backup of this policy is being written with this id
      fail(ErrorKind::io, fmt::format("could not create \"{}\": {}", temp.string(), errno_text(errno)));
    }
    return PendingBackup(temp, final_dir, std::string(policy), id);
  }
  fail(ErrorKind::io, fmt::format("could not allocate a backup id for policy \"{}\" at {}", policy, base));
}

void Repository::remove(const BackupInfo& b) const {
  fs::path dir = backup_dir(b.policy, b.id);
  fs::path temp = policy_dir(b.policy) / (std::string(kPartialPrefix) + b.id + ".deleting");
  std::error_code ec;
  fs::rename(dir, temp, ec);
  if (ec) fail(ErrorKind::io, fmt::format("could not remove backup {}: {}", b.id, io_what(dir, ec)));
  fsync_dir(policy_dir(b.policy));
  fs::remove_all(temp, ec);
  if (ec) fail(ErrorKind::io, fmt::format("could not remove backup {}: {}", b.id, io_what(temp, ec)));
}

std::vector<VerifyProblem> Repository::verify_files(const BackupInfo& b) const {
  Manifest m = read_manifest(b);
  fs::path dir = backup_dir(b.policy, b.id);
  std::vector<VerifyProblem> problems;
  std::set<std::string> listed;
  for (const auto& f : m.files) {
    listed.insert(f.path);
    fs::path p = dir / f.path;
    std::error_code ec;
    auto st = fs::symlink_status(p, ec);
    if (ec || !fs::is_regular_file(st)) {
      problems.push_back({f.path, "missing"});
      continue;
    }
    std::uint64_t size = 0;
    std::string sum = sha256_file(p, &size);
    if (size != f.size) {
      problems.push_back({f.path, fmt::format("size {} bytes, the manifest says {}", size, f.size)});
    } else if (sum != f.sha256) {
      problems.push_back({f.path, fmt::format("SHA-256 {} differs from the manifest's {}", sum, f.sha256)});
    }
  }
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string rel = fs::relative(it->path(), dir).generic_string();
    if (it->is_directory() || top_level_meta(rel)) continue;
    if (!listed.count(rel)) problems.push_back({rel, "not in the manifest"});
  }
  return problems;
}

std::string Repository::fingerprint(std::string_view policy) const {
  Sha256 h;
  for (const auto& b : list(policy)) {
    h.update(b.policy + "/" + b.id + "\n");
    h.update(sha256_file(backup_dir(b.policy, b.id) / kManifestFile) + "\n");
    h.update(b.verified_at + "\n");
  }
  return h.hex();
}

std::vector<fs::path> Repository::partial_folders(std::string_view policy) const {
  std::vector<fs::path> out;
  fs::path pdir = policy_dir(policy);
  std::error_code ec;
  if (!fs::is_directory(pdir, ec)) return out;
  for (const auto& e : fs::directory_iterator(pdir, ec))
    if (e.path().filename().string().rfind(kPartialPrefix, 0) == 0) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// ---- PendingBackup ---------------------------------------------------------------------------

PendingBackup::PendingBackup(PendingBackup&& o) noexcept
    : dir_(std::move(o.dir_)), final_dir_(std::move(o.final_dir_)), policy_(std::move(o.policy_)), id_(std::move(o.id_)),
      done_(o.done_) {
  o.done_ = true;
}

PendingBackup::~PendingBackup() { abandon(); }

void PendingBackup::abandon() noexcept {
  if (done_) return;
  done_ = true;
  remove_tree(dir_);
}

BackupInfo PendingBackup::commit(Manifest m) {
  if (done_) fail(ErrorKind::internal, fmt::format("backup {} was already committed or abandoned", id_));
  m.id = id_;
  m.policy = policy_;
  make_private(dir_);
  m.files = scan_files(dir_);
  write_file_atomic(dir_ / kManifestFile, to_json(m).dump(2) + "\n", 0600);
  fsync_tree(dir_);
  std::error_code ec;
  fs::rename(dir_, final_dir_, ec);
  if (ec) fail(ErrorKind::io, fmt::format("could not complete backup {}: {}", id_, io_what(dir_, ec)));
  done_ = true;
  fsync_dir(final_dir_.parent_path());
  return BackupInfo{m.id, m.policy, m.kind, m.database, m.started_at, m.finished_at, m.bytes(), "", final_dir_};
}

}  // namespace pgr::repository
