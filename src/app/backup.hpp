// Backup policies (issue 7): plan what is due (a backup, retention deletes, a restore drill)
// and apply it; and resolve a Restore's `from: {repository, policy, backup}` to an archive.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "app/restore.hpp"
#include "model/plan.hpp"
#include "spec/documents.hpp"

namespace pgr::app {

// A plan of kind "backup" for one BackupPolicy.
model::Plan plan_backup_policy(const spec::BackupPolicy& policy, const spec::Settings& settings);
// Applies a "backup" plan (journaled like a restore); returns the run summary.
ApplyResult apply_backup_plan(const model::Plan& plan, const spec::Settings& settings, const ApplyOptions& options);

// Where a Restore's data comes from: an archive path, plus what a repository backup knows.
struct RestoreSource {
  std::string archive;                                 // pg_dump archive to read
  std::string backup_id;                               // empty for from: {archive: PATH}
  std::map<std::string, std::int64_t> expected_rows;   // "schema.table" -> exact rows (manifest)
  std::map<std::string, std::string> role_definitions; // role -> CREATE ROLE ... (backup globals)
};
RestoreSource resolve_restore_source(const spec::Restore& doc, const spec::Settings& settings);

}  // namespace pgr::app
