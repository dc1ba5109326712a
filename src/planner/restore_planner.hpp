// Restore planning: a Restore document + an archive's TOC + the live target's catalog -> a Plan.
// Pure: it does no I/O of its own; row counts it may need come through the RowCounter it is
// handed, so it is tested on fixtures.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "archive/archive.hpp"
#include "archive/plain_script.hpp"
#include "catalog/catalog.hpp"
#include "catalog/dependencies.hpp"
#include "config/documents.hpp"
#include "model/plan.hpp"

namespace pgr::planner {

// Exact row counts, asked for only where a table already has rows in the target and the
// planner must tell "the same data" from "other data".
// Tables whose archive data is larger than this are compared by row count only.
inline constexpr std::int64_t kContentCompareLimit = std::int64_t{256} << 20;

class RowCounter {
 public:
  virtual ~RowCounter() = default;
  virtual std::int64_t archive_rows(const archive::TocEntry& data_entry) = 0;
  virtual std::int64_t target_rows(const std::string& schema, const std::string& table) = 0;
  // Whether the target table holds exactly the rows of the archive's data entry (as multisets
  // of COPY text rows); nullopt when not compared (too large, or this counter cannot).
  virtual std::optional<bool> same_contents(const archive::TocEntry& /*data_entry*/) { return std::nullopt; }
};

// What a DROP TABLE ... CASCADE of tables would take with it in the target (existing: replace),
// read from the target's pg_depend; asked for once, with every table the plan replaces.
class TargetDependencies {
 public:
  virtual ~TargetDependencies() = default;
  virtual std::vector<catalog::DroppedObject> drop_cascade(
      const std::vector<std::pair<std::string, std::string>>& tables) = 0;
};

struct RestoreInputs {
  const config::Restore* document = nullptr;
  const archive::Toc* toc = nullptr;
  const archive::PlainScript* script = nullptr;  // instead of toc: a plain SQL source (restore_sql.hpp)
  bool script_restored_before = false;  // a finished run of this plan id ran the script (SQL sources)
  // SQL sources: the id of an unfinished run of this document into this target that created the
  // database and failed in its script; the new plan starts over (drops and re-creates it).
  std::string half_restored_by;
  const catalog::Cluster* cluster = nullptr;
  const catalog::Database* database = nullptr;  // exists == false when the database is missing
  RowCounter* counter = nullptr;
  TargetDependencies* dependencies = nullptr;  // null: nothing depends on replaced tables
  // The role the restore connects as, and whether it is a superuser (session_replication_role).
  std::string target_role;
  bool target_superuser = false;
  // CREATE ROLE statements from the backup's globals, by role name (empty: no globals).
  std::map<std::string, std::string> role_definitions;
  // From the same globals: the roles each role is a member of (created along with it), the
  // roles whose password hash the backup holds (set at apply, never written into the plan), and
  // CREATE TABLESPACE statements with the tablespace's owner.
  std::map<std::string, std::vector<std::string>> role_member_of;
  std::set<std::string> roles_with_password;
  struct TablespaceDefinition {
    std::string owner, sql;
  };
  std::map<std::string, TablespaceDefinition> tablespace_definitions;
  // Roles that restored objects outside the TOC name (a live source's large objects: owners,
  // grantees and grantors), needed like the roles the TOC's entries name.
  std::set<std::string> roles_outside_toc;
  // Where role_definitions come from, as the plan's reasons say it.
  std::string globals_origin = "the backup's globals";
  bool globals_live = false;
  // The source reads a table's rows by ranges of heap pages (a live source on PostgreSQL 14 or
  // later: TID range scans): split tables are split on the source side too ("chunk_pages").
  bool source_page_ranges = false;  // from a live source's server: passwords are read from it at apply
  // A live source: its tables are split only when the document sets split_tables_larger_than
  // (measured slower than one session per table here, docs/performance.md).
  bool live_source = false;
  std::string globals_backup;      // POLICY/ID of the backup whose manifest holds those globals (empty: none)
  std::string globals_repository;  // the repository that backup is in
  // Exact row counts per "schema.table" from a backup manifest (empty: unknown).
  std::map<std::string, std::int64_t> expected_rows;
  std::string source;                 // the archive path, as recorded in the plan
  std::string documents_fingerprint;
  std::string target_fingerprint;
  model::Target target;
  std::string created_at;
};

// Throws pgr::Error(input) for a plan that must not be applied: conflicts under
// existing: fail (listing every conflicting object), missing roles under roles: require, a
// missing database without to.create.
model::Plan plan_restore(const RestoreInputs& in);

// The id of a restore plan: the same document, archive and target give the same id, so an
// interrupted apply is found and resumed by a re-plan.
std::string restore_plan_id(const std::string& documents_fingerprint, const std::string& toc_checksum,
                            const model::Target& target);

// sha256 of everything in a Restore document that changes what a plan does (part of the plan id).
std::string restore_fingerprint(const config::Restore& doc);

}  // namespace pgr::planner
