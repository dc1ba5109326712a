// The documents users write (YAML, apiVersion pgrecover/v1): BackupPolicy, Restore and
// PointInTimeRecovery, as typed values with every default applied. Loading validates against the
// JSON Schemas in schemas/ (embedded into the library) and then across documents and settings.
// Reference: docs/documents.md.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/settings.hpp"
#include "util/error.hpp"

namespace pgr::config {

inline constexpr std::string_view kApiVersion = "pgrecover/v1";

struct Position {
  std::string file;
  int line = 0, column = 0;  // 1-based; 0 when unknown
  bool operator==(const Position&) const = default;
};

struct Metadata {
  std::string name;
  std::map<std::string, std::string> annotations, labels;
  Position where;  // the document's first line
};

// Exactly one of the two is non-empty. libpq's environment variables (PGHOST, PGUSER, ...)
// apply to whatever the conninfo leaves out.
struct ConnectionRef {
  std::string connection;  // a name from settings [connections.NAME]
  std::string conninfo;    // inline libpq conninfo
  bool operator==(const ConnectionRef&) const = default;
};

// Include/exclude patterns in pg_dump's syntax ("pay_*", "audit.*", "public.orders",
// "\"MixedCase\".t"). See config/selection.hpp for matching.
struct Selection {
  std::vector<std::string> schemas, tables, exclude_schemas, exclude_tables;
  bool empty() const;  // nothing given: everything is selected
  bool operator==(const Selection&) const = default;
};

struct Compression {
  std::string method = "none";  // none | gzip | lz4 | zstd
  int level = -1;               // -1: the method's own default
  std::string str() const;      // "zstd:3", "gzip", "none"
  bool operator==(const Compression&) const = default;
};

struct BackupRef {
  enum class Kind { latest, id, before } kind = Kind::latest;
  std::string id;
  std::string before;  // ISO timestamp with a time zone
  bool operator==(const BackupRef&) const = default;
};

enum class ExistingPolicy { fail, skip, truncate, replace };
enum class RolesPolicy { create_missing, require, no_owner, all };
enum class BackupMethod { logical, physical };
enum class DumpFormat { directory, custom, tar, plain };
enum class RecoveryAction { pause, promote, shutdown };

const char* to_string(ExistingPolicy v) noexcept;
const char* to_string(RolesPolicy v) noexcept;  // "create-missing", "require", "no-owner", "all"
const char* to_string(BackupMethod v) noexcept;
const char* to_string(DumpFormat v) noexcept;
const char* to_string(RecoveryAction v) noexcept;

struct BackupPolicySpec {
  ConnectionRef source;
  std::string database;  // method logical: one database, or the cluster fields below
  // Whole-cluster logical backups: `databases: all` (all_databases) or a list of names; then
  // `database` is empty. exclude_databases only with all. See docs/backups.md.
  bool all_databases = false;
  std::vector<std::string> databases, exclude_databases;
  bool whole_cluster() const { return all_databases || !databases.empty(); }
  BackupMethod method = BackupMethod::logical;
  DumpFormat format = DumpFormat::directory;
  // Default: settings [defaults] compression, else gzip for directory/custom, none for tar/plain.
  Compression compression;
  int jobs = 1;          // default: settings [defaults] jobs, else 1; >1 only with directory
  bool globals = true;   // roles, memberships, role settings, tablespaces (pg_dumpall -g)
  Selection select;
  std::string repository;  // a name from settings [repositories.NAME]: the first of `repositories`
  // Every repository a backup is kept in, in order (spec.repositories, or {repository}): the
  // backup is taken into the first one and copied to the others.
  std::vector<std::string> repositories;
  std::string cluster;     // physical: WAL stream name; defaults to metadata.name
  std::chrono::seconds schedule_every{0};  // 0: no schedule (backup on every apply)
  std::optional<int> keep_last, keep_daily, keep_weekly, keep_monthly;  // unset: no rule
  bool verify_checksums = true;
  std::chrono::seconds drill_every{0};  // 0: no restore drill
  std::vector<std::string> drill_sql;   // checks run in the drill instance; each must succeed
  bool drill_heapallindexed = false;    // physical drills: pg_amcheck --heapallindexed
  // `pgrecover check` bounds; 0: not stated. rpo: how much committed data may be lost (physical:
  // the age of WAL not yet archived; logical: the newest backup's age). rto: how long a restore
  // may take (estimated from measured throughput).
  std::chrono::seconds rpo{0}, rto{0};
  bool operator==(const BackupPolicySpec&) const = default;
};

struct BackupPolicy {
  Metadata metadata;
  BackupPolicySpec spec;
};

// Every repository of a policy, the first one first: spec.repositories, or {spec.repository} for
// a policy built in code with only that.
inline std::vector<std::string> repositories_of(const BackupPolicySpec& s) {
  if (!s.repositories.empty()) return s.repositories;
  return s.repository.empty() ? std::vector<std::string>{} : std::vector<std::string>{s.repository};
}

// `before: {restore_point: NAME, policy: P}`: a named restore point created as the first step of
// a Restore or PointInTimeRecovery plan, for change tickets that do risky work (docs/documents.md).
struct RestorePointBefore {
  std::string name;    // empty: none asked for
  std::string policy;  // as written (empty: chosen when the documents are loaded)
  // Resolved when the documents are loaded: the physical policy whose source gets the restore
  // point and whose first repository records it (WAL cluster `cluster`); for a Restore whose
  // target server is no physical policy's source, `policy`, `repository` and `cluster` stay empty
  // and the restore point is made on the target server and not recorded.
  std::string resolved_policy;
  ConnectionRef server;
  std::string repository, cluster;
  // The policy's other repositories (its copies): they get the record too, so a recovery that
  // reads from a copy finds the name.
  std::vector<std::string> copies;
  bool recorded() const { return !repository.empty(); }
  bool operator==(const RestorePointBefore&) const = default;
};

struct RestoreSpec {
  // Source: either archive, or repository + policy + backup.
  std::string archive;  // absolute after loading
  std::string sql_file;  // a plain SQL script (pg_dump -Fp, pg_dumpall), absolute after loading
  // from.live: a running database read in one exported snapshot (app/restore_live.cpp).
  struct Live {
    ConnectionRef source;  // empty connection and conninfo: no live source
    std::string database;
    bool allow_mixed = false;  // consistent: allow-mixed (default strict)
    bool operator==(const Live&) const = default;
  } live;
  bool is_live() const { return !live.database.empty(); }
  std::string repository, policy;
  // The policy's other repositories, tried in order when `repository` is unreachable or lacks
  // the backup (filled when the documents are loaded; empty without the policy's document).
  std::vector<std::string> fallback_repositories;
  BackupRef backup;
  ConnectionRef to;
  std::string database;  // empty: a whole-cluster backup's databases keep their own names
  bool create = true;
  Selection select;
  std::vector<std::string> select_databases;  // select.databases (cluster backups); empty: all
  ExistingPolicy existing = ExistingPolicy::fail;
  RolesPolicy roles = RolesPolicy::create_missing;
  // Tablespaces the restored objects use: created from the backup's globals where missing
  // (restore), all in the target's default (default_only), or renamed through the map
  // (old -> new; "" is the default tablespace).
  bool tablespaces_default = false;
  std::map<std::string, std::string> tablespace_map;
  // A database the restore creates: empty means "as in the archive" (the source's).
  std::string encoding, locale;
  int jobs = 1;  // default: settings [defaults] jobs, else 1
  bool fix_sequences = true, analyze = true, verify_row_counts = true;
  std::vector<std::string> verify_sql;
  std::map<std::string, std::string> session_settings;  // GUCs SET in every load session
  // pg_restore --section: any of "pre-data", "data", "post-data" (default: all three).
  std::vector<std::string> sections = {"pre-data", "data", "post-data"};
  bool single_transaction = false;         // one transaction, jobs forced to 1 (pg_restore -1)
  bool allow_dropping_dependents = false;  // existing: replace may drop objects it cannot recreate
  // A table whose stored data is larger than this is loaded by several sessions in parallel
  // (chunks of whole rows, each its own transaction); 0 never splits.
  std::int64_t split_tables_larger_than = std::int64_t{256} << 20;
  bool split_set = false;  // the document sets split_tables_larger_than (a live source splits only then)
  RestorePointBefore before;
  bool operator==(const RestoreSpec&) const = default;
};

struct Restore {
  Metadata metadata;
  RestoreSpec spec;
};

struct RecoveryTarget {
  enum class Kind { time, xid, name, lsn, immediate, latest } kind = Kind::immediate;
  std::string value;  // empty for immediate and latest
  bool operator==(const RecoveryTarget&) const = default;
};

struct PointInTimeRecoverySpec {
  std::string repository, policy;  // the policy must use method: physical
  std::vector<std::string> fallback_repositories;  // as in RestoreSpec
  RecoveryTarget target;
  bool inclusive = true;                      // recovery_target_inclusive
  std::string timeline = "latest";            // "latest", "current" or a number
  RecoveryAction action = RecoveryAction::pause;  // recovery_target_action
  std::filesystem::path data_directory;       // absolute after loading
  int port = 0;                               // 0: a free port is chosen
  std::filesystem::path socket_directory;     // empty: the data directory
  bool move_aside_existing = false;           // rename a non-empty data_directory instead of failing
  bool keep_config = false;                   // to.config: keep (the source's configuration stays in force)
  std::string listen_addresses;               // to.listen_addresses; empty: not given
  bool listen_addresses_given = false;
  std::map<std::string, std::string> settings;  // to.settings, rendered as postgresql.conf values
  // to.tablespace_mapping: a tablespace's location on the source -> where it is recovered (both
  // absolute and lexically normal, no trailing '/').
  std::map<std::string, std::string> tablespace_mapping;
  bool archive_resume = false;                // archive: resume | off
  std::vector<std::string> verify_sql;
  std::chrono::seconds timeout{3600};         // how long to wait for the target
  RestorePointBefore before;
  bool operator==(const PointInTimeRecoverySpec&) const = default;
};

struct PointInTimeRecovery {
  Metadata metadata;
  PointInTimeRecoverySpec spec;
};

using Document = std::variant<BackupPolicy, Restore, PointInTimeRecovery>;

struct DocumentSet {
  std::vector<BackupPolicy> policies;
  std::vector<Restore> restores;
  std::vector<PointInTimeRecovery> recoveries;
  // sha256 over the normalized documents (canonical JSON, sorted by kind and name; comments,
  // key order and layout do not count), for stale-plan checks.
  std::string fingerprint;

  const BackupPolicy* find_policy(std::string_view name) const;
  const Restore* find_restore(std::string_view name) const;
  const PointInTimeRecovery* find_recovery(std::string_view name) const;
};

// "24h", "90m", "7d", "30s", "1w", and sums such as "1h30m"; must be > 0.
// Throws pgr::Error(input).
std::chrono::seconds parse_duration(std::string_view text);
// "256MB", "1GB", "512kB", "0" (units are powers of 1024, as in postgresql.conf); bytes, >= 0.
// Throws pgr::Error(input).
std::int64_t parse_size(std::string_view text);
// "zstd:3" -> {zstd, 3}. Levels: gzip 0-9, lz4 1-12, zstd 1-22, none takes none.
// Throws pgr::Error(input) on an unknown method or a level out of range.
Compression parse_compression(std::string_view text);

struct Problem {
  Position where;
  std::string message;
  std::string str() const;  // "FILE:LINE:COL: message"
  bool operator==(const Problem&) const = default;
};

class ValidationFailed : public pgr::Error {
 public:
  explicit ValidationFailed(std::vector<Problem> problems);
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::vector<Problem> problems_;
};

// One line per document for `validate`.
struct DocumentSummary {
  Position where;
  std::string kind, name;
};

// Everything validation found: the typed documents that were valid, and every problem.
struct ValidationReport {
  DocumentSet documents;
  std::vector<DocumentSummary> summaries;  // every document that parsed far enough to name
  std::vector<Problem> problems;
  bool ok() const { return problems.empty(); }
};

// Loads every document under the paths (files, or folders walked for *.yaml / *.yml in sorted
// order), validates (schemas, then cross-document checks with settings) and returns them; on any
// problem throws ValidationFailed holding ALL problems found.
DocumentSet load_documents(const std::vector<std::filesystem::path>& paths, const Settings& settings);

// The same, never throwing for document problems (I/O errors on the paths are problems too).
ValidationReport check_documents(const std::vector<std::filesystem::path>& paths,
                                 const Settings& settings);

// Validates YAML text as if it were the file `file` (tests, stdin).
ValidationReport check_text(std::string_view yaml, const std::string& file, const Settings& settings);

}  // namespace pgr::config
