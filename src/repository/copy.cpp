#include "repository/copy.hpp"

#include <vector>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"

namespace pgr::repository {

namespace {

constexpr std::size_t kChunk = 1 << 20;

// True when `key` in `s` has exactly the manifest's size and SHA-256 (read back in full).
bool matches(const storage::Storage& s, const std::string& key, const FileEntry& f, std::string* why) {
  auto info = s.stat(key);
  if (!info) {
    if (why) *why = "missing";
    return false;
  }
  if (info->size != f.size) {
    if (why) *why = fmt::format("size {} bytes, the manifest says {}", info->size, f.size);
    return false;
  }
  std::uint64_t size = 0;
  std::string sum = storage::sha256(s, key, &size);
  if (size != f.size || sum != f.sha256) {
    if (why) *why = size != f.size ? fmt::format("{} bytes read back, the manifest says {}", size, f.size)
                                   : fmt::format("SHA-256 {} read back differs from the manifest's {}", sum, f.sha256);
    return false;
  }
  return true;
}

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load()) fail(ErrorKind::cancelled, "copy interrupted");
}

}  // namespace

CopyResult copy_backup(const Repository& from, const BackupInfo& b, const Repository& to, const std::atomic<bool>* cancel,
                       const std::function<void(std::uint64_t)>& progress) {
  CopyResult r;
  const std::string prefix = Repository::backup_prefix(b.policy, b.id);
  const std::string manifest_key = prefix + kManifestFile;
  // The manifest's exact bytes: the copy's manifest is the same object (but for its key id).
  auto manifest_text = storage::get(from.storage(), manifest_key);
  if (!manifest_text) fail(ErrorKind::input, fmt::format("backup {}/{} has no manifest in {}", b.policy, b.id, from.describe()));
  Manifest m = manifest_from_json(nlohmann::json::parse(*manifest_text));
  r.files = m.files.size();
  for (const auto& other : to.list(b.policy)) {
    if (other.id == b.id) {
      auto problems = to.verify_files(other);
      if (problems.empty()) {
        r.already_complete = true;
        r.reused = r.files;
        r.copy = other;
        return r;
      }
      // Damaged: unlisted first (manifest removed), then repaired below file by file.
      log::warn("the copy of backup {}/{} in \"{}\" does not match its manifest ({}: {}); copying it again", b.policy, b.id,
                to.name(), problems.front().file, problems.front().message);
      to.storage().remove(manifest_key);
    }
  }
  std::vector<char> buf(kChunk);
  for (const auto& f : m.files) {
    check_cancel(cancel);
    const std::string key = prefix + f.path;
    if (matches(to.storage(), key, f, nullptr)) {  // left by a copy that was interrupted
      ++r.reused;
      continue;
    }
    {
      auto in = from.storage().open(key);
      auto out = to.storage().create(key);
      for (std::size_t n; (n = in->read(buf.data(), buf.size())) > 0;) {
        check_cancel(cancel);
        out->write(buf.data(), n);
        r.bytes_copied += n;
        if (progress) progress(r.bytes_copied);
      }
      out->commit();
    }
    std::string why;
    if (!matches(to.storage(), key, f, &why)) {
      fail(ErrorKind::io, fmt::format("the copy of \"{}\" in repository \"{}\" ({}) does not match the manifest: {}", f.path,
                                      to.name(), to.storage().describe(key), why),
           "check the target repository's storage; the copy is not listed, the next apply copies it again");
    }
  }
  // Files in the target that the manifest does not list (an older, different attempt): removed so
  // that verify finds exactly the manifest's files.
  std::vector<std::string> stray;
  for (const auto& o : to.storage().list(prefix)) {
    std::string rel = o.key.substr(prefix.size());
    if (rel == kManifestFile || rel == kVerificationFile) continue;
    bool listed = false;
    for (const auto& f : m.files) listed = listed || f.path == rel;
    if (!listed) stray.push_back(o.key);
  }
  for (const auto& k : stray) to.storage().remove(k);
  check_cancel(cancel);
  // Last: the manifest makes the copy exist. It says which key encrypts this copy (none, or the
  // target repository's), whatever the first repository uses.
  std::string text = *manifest_text;
  if (std::string key_id = to.storage().encryption_key_id(); key_id != m.encryption_key_id) {
    m.encryption_key_id = key_id;
    text = to_json(m).dump(2) + "\n";
  }
  storage::put(to.storage(), manifest_key, text);
  r.copy = to.find(b.policy + "/" + b.id);
  return r;
}

}  // namespace pgr::repository
