// A backup repository: backups and the WAL archive, stored through a storage::Storage (a local
// folder, or an object store) and never touched any other way (STYLE.md 16).
//
// Layout (keys, docs/backups.md):
//   backups/<policy>/<id>/...                  the files of one backup, 0600 on POSIX
//   backups/<policy>/<id>/manifest.json        written LAST: a backup without one is not listed
//   backups/<policy>/<id>/verification.json    written after drills / verify (optional)
//   wal/<cluster>/                             the WAL archive; reserved, never a policy
// Backups live under backups/ so that no policy name can collide with wal/ or anything else
// at the top level. Object stores have no rename, so a backup becomes visible by its manifest
// alone: the files are staged and stored first, the manifest is stored last, and a reader
// ignores a backup folder without one (a crashed backup; the next backup of the policy removes
// it). Removal deletes the manifest first, so a half-removed backup is never listed either.
//
// Backup ids are UTC timestamps "YYYYMMDDTHHMMSSZ" of the start of the backup, with a "-NN"
// suffix when two backups (of any policy: ids are unique in a repository) start in the same second. Ids from users are checked
// against that pattern before they are ever used in a key.
//
// This layer only knows files: taking backups (pg_dump, pg_basebackup, libpq) is the app's.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/storage.hpp"

namespace pgr::repository {

namespace fs = std::filesystem;

inline constexpr int kManifestVersion = 1;
inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kVerificationFile = "verification.json";
inline constexpr const char* kBackupsDir = "backups";
inline constexpr const char* kWalDir = "wal";
inline constexpr const char* kPartialPrefix = ".partial-";

// ---- ids, names, times -----------------------------------------------------------------------

bool valid_backup_id(std::string_view id);      // YYYYMMDDTHHMMSSZ[-NN], a real date and time
bool valid_policy_name(std::string_view name);  // [A-Za-z0-9][A-Za-z0-9._-]{0,127}, not "." / ".."
// Throw pgr::Error(input) naming the bad value.
void check_backup_id(std::string_view id);
void check_policy_name(std::string_view name);

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::sys_seconds;
std::string format_iso(TimePoint t);           // "2025-01-31T12:00:00Z"
std::string format_id(TimePoint t);            // "20250131T120000Z"
// ISO-8601 with Z or +HH:MM / -HH:MM (fractions of a second ignored); throws Error(input).
TimePoint parse_iso(std::string_view text);
TimePoint parse_id_time(std::string_view id);  // the timestamp part of a backup id

// ---- manifest --------------------------------------------------------------------------------

struct FileEntry {
  std::string path;        // relative to the backup folder, '/'-separated, never ".." or absolute
  std::uint64_t size = 0;
  std::string sha256;      // lower-case hex
  bool operator==(const FileEntry&) const = default;
};

// Cluster globals as captured with libpq (logical backups).
struct RoleMembership {
  std::string role;        // the role granted (member_of)
  std::string grantor;
  bool admin_option = false;
  bool operator==(const RoleMembership&) const = default;
};
struct RoleSetting {
  std::string database;    // empty: for every database
  std::string setting;     // "name=value" as in pg_db_role_setting
  bool operator==(const RoleSetting&) const = default;
};
struct Role {
  std::string name;
  bool superuser = false, inherit = true, createrole = false, createdb = false, login = false,
       replication = false, bypassrls = false;
  int connection_limit = -1;
  std::string valid_until;                 // empty: none
  std::optional<std::string> password;     // hash; absent when it could not be read
  std::vector<RoleMembership> member_of;
  std::vector<RoleSetting> settings;
  std::string comment;
  bool operator==(const Role&) const = default;
};
struct Tablespace {
  std::string name, owner, location;
  std::vector<std::string> options;
  bool operator==(const Tablespace&) const = default;
};
struct Globals {
  std::vector<Role> roles;
  std::vector<Tablespace> tablespaces;
  std::vector<RoleSetting> database_settings;  // settings of the backed-up database (role empty)
  bool passwords_included = false;             // false: the source role could not read them
  std::string sql_file;                        // pg_dumpall --globals-only output, e.g. "globals.sql"
  bool operator==(const Globals&) const = default;
};

struct Manifest {
  int format_version = kManifestVersion;
  std::string id, policy;
  std::string kind = "logical";            // "logical" | "physical"
  std::string server_version;              // "15.6"
  int server_version_num = 0;              // 150006
  std::string system_identifier;           // pg_control_system(), as text
  std::string database;                    // logical: the dumped database; physical: empty
  std::string started_at, finished_at;     // ISO-8601 UTC
  std::string tool;                        // "pg_dump 15.6", "pg_basebackup 15.6"
  std::vector<std::string> pg_dump_options;  // the options given (no conninfo, no password)
  std::string format;                      // logical: directory | custom | tar | plain
  std::string data;                        // the archive, relative: "data" (directory) or "data.dump"
  std::vector<FileEntry> files;            // every file of the backup except manifest/verification
  std::map<std::string, std::int64_t> row_counts;  // "schema.table" -> exact rows in the dump
  std::optional<Globals> globals;
  // Kind-specific fields. Physical: start_lsn, stop_lsn, timeline, wal_cluster,
  // backup_label, ... Logical backups leave it an empty object.
  nlohmann::json extra = nlohmann::json::object();
  // The id of the key the backup's files were encrypted with (docs/backups.md#encryption), never
  // the key; empty: stored in clear.
  std::string encryption_key_id;

  std::uint64_t bytes() const;  // sum of file sizes
  bool operator==(const Manifest&) const = default;
};

nlohmann::json to_json(const Manifest& m);
// Throws pgr::Error(input) naming the field; checks ids and that every file path stays inside.
Manifest manifest_from_json(const nlohmann::json& j);

// What verification recorded about a backup (verification.json, rewritten atomically).
struct Verification {
  std::string verified_at;        // last successful restore drill (ISO-8601 UTC); empty: never
  std::string drill_run;          // plan id of that drill
  std::string checked_at;         // last successful `backups verify` (checksums + archive read)
  std::string last_failure_at, last_failure;  // most recent failed check, if any
  // False when its last check failed after it last passed.
  bool good() const { return last_failure_at.empty() || (!verified_at.empty() && verified_at > last_failure_at); }
  bool operator==(const Verification&) const = default;
};
nlohmann::json to_json(const Verification& v);
Verification verification_from_json(const nlohmann::json& j);

// ---- listing ---------------------------------------------------------------------------------

struct BackupInfo {
  std::string id, policy, kind, database;
  std::string started_at, finished_at;
  std::uint64_t bytes = 0;
  std::string verified_at;  // from verification.json; empty: never drilled
  std::string location;     // where it is, for people: "/srv/repo/backups/p/ID" or "s3://..."
  std::string encryption_key_id;  // empty: stored in clear
  bool operator==(const BackupInfo&) const = default;
};
nlohmann::json to_json(const BackupInfo& b);  // {"id","policy","kind","database",...,"verified_at"}

// ---- the repository --------------------------------------------------------------------------

class PendingBackup;

struct VerifyProblem {
  std::string file;     // relative path, or "" for the backup as a whole
  std::string message;  // "size 1234, manifest says 1200", "SHA-256 differs", "missing", ...
};

class Repository {
 public:
  Repository(std::shared_ptr<storage::Storage> storage, std::string name);
  // A repository in a local folder (created 0700 when absent and `create`; otherwise an absent
  // folder is an empty repository). `name` is the settings name, for messages.
  static Repository open(const fs::path& root, std::string name = {}, bool create = true);

  storage::Storage& storage() const { return *storage_; }
  const std::shared_ptr<storage::Storage>& storage_ptr() const { return storage_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return storage_->describe(); }
  // "backups/<policy>/<id>/" (checks both), and the key of a file of a backup.
  static std::string backup_prefix(std::string_view policy, std::string_view id);
  static std::string file_key(const BackupInfo& b, std::string_view relative);

  // Complete backups (a readable manifest), oldest first (by started_at, then id). Empty policy:
  // every policy. A backup with an unreadable manifest is skipped with a warning; when none could
  // be read because of the repository's encryption keys (storage::KeyError), that error is thrown.
  std::vector<BackupInfo> list(std::string_view policy = {}) const;
  // "ID" or "POLICY/ID"; throws Error(input) when the id is malformed, unknown or ambiguous.
  BackupInfo find(std::string_view ref) const;
  Manifest read_manifest(const BackupInfo& b) const;
  Verification read_verification(const BackupInfo& b) const;  // default when absent
  void write_verification(const BackupInfo& b, const Verification& v) const;

  // Starts a backup of `policy` at `started` (id allocated from it). The returned object owns
  // the staging folder and removes it unless committed.
  PendingBackup begin(std::string_view policy, TimePoint started) const;

  // Removes a complete backup: its manifest first (so it disappears from listings at once),
  // then everything else.
  void remove(const BackupInfo& b) const;

  // Sizes and SHA-256 of every file against the manifest, plus files present but not listed.
  // Empty: all good.
  std::vector<VerifyProblem> verify_files(const BackupInfo& b) const;

  // sha256 over the complete backups of a policy (ids, manifest hashes, verification), for
  // stale-plan checks: any backup added, removed or verified changes it.
  std::string fingerprint(std::string_view policy) const;

  // What crashed backups of a policy left (backup folders without a manifest, staging folders),
  // described for people; remove_unfinished deletes it (the next backup does).
  std::vector<std::string> unfinished(std::string_view policy) const;
  // `keep`: ids whose unfinished folders stay (a half copy its copy step will complete).
  void remove_unfinished(std::string_view policy, const std::set<std::string>& keep = {}) const;

 private:
  bool id_taken(const std::string& id) const;
  std::shared_ptr<storage::Storage> storage_;
  std::string name_;
};

// A backup being written: programs write its files under dir() (a local staging folder);
// commit() chmods everything (0700 folders, 0600 files), hashes every file into the manifest's
// `files`, stores the files, then stores manifest.json last. Destroying an uncommitted
// PendingBackup removes the staging folder.
class PendingBackup {
 public:
  PendingBackup(PendingBackup&&) noexcept = default;
  PendingBackup& operator=(PendingBackup&&) = delete;
  PendingBackup(const PendingBackup&) = delete;
  ~PendingBackup() = default;

  const std::string& id() const { return id_; }
  const std::string& policy() const { return policy_; }
  const fs::path& dir() const { return staging_->dir(); }
  // Fills files (size + sha256 of everything under dir()), id, policy; stores them and the manifest.
  BackupInfo commit(Manifest manifest);
  void abandon() noexcept;  // remove the staging folder now

 private:
  friend class Repository;
  PendingBackup(std::shared_ptr<storage::Storage> storage, std::unique_ptr<storage::Staging> staging, std::string policy,
                std::string id)
      : storage_(std::move(storage)), staging_(std::move(staging)), policy_(std::move(policy)), id_(std::move(id)) {}
  std::shared_ptr<storage::Storage> storage_;
  std::unique_ptr<storage::Staging> staging_;
  std::string policy_, id_;
};

// Every regular file under `dir` (relative, sorted), with size and SHA-256, skipping the
// manifest and verification files at the top. Throws on symlinks or other special files.
std::vector<FileEntry> scan_files(const fs::path& dir);
// chmod -R: folders 0700, files 0600.
void make_private(const fs::path& dir);

// ---- retention (pure) ------------------------------------------------------------------------

struct RetentionRules {
  std::optional<int> keep_last, keep_daily, keep_weekly, keep_monthly;
  bool any() const { return keep_last || keep_daily || keep_weekly || keep_monthly; }
};

struct RetentionCandidate {
  std::string id;
  TimePoint started;
  bool verified = false;
};

struct RetentionDecision {
  std::string id;
  bool keep = true;
  std::string reason;  // "keep_last 2 (newest #1)", "keep_daily 7 (2025-01-31)", "outside retention"
  bool operator==(const RetentionDecision&) const = default;
};

// One decision per candidate, in the candidates' order. No rules at all: keep everything.
// keep_last N: the N newest. keep_daily N: the newest backup of each of the N most recent UTC
// days that have a backup (weekly: ISO weeks, monthly: calendar months). A backup kept by any
// rule stays. The newest verified backup is always kept.
std::vector<RetentionDecision> select_retention(const std::vector<RetentionCandidate>& candidates,
                                                const RetentionRules& rules);

}  // namespace pgr::repository
