// What a Restore document reads from: an archive or SQL file it names, or a backup of a policy
// chosen across the policy's repositories (the one named first, then its other copies when one is
// unreachable or lacks the backup), with what that backup's manifest knows (row counts, globals).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "config/documents.hpp"
#include "config/settings.hpp"
#include "model/plan.hpp"
#include "repository/repository.hpp"

namespace pgr::sources {

// Where a Restore's data comes from: an archive path, plus what a repository backup knows.
struct RestoreSource {
  std::string archive;                                 // pg_dump archive to read (a path, or where a backup is)
  std::string repository;                              // set: the archive is file `data` of backup POLICY/ID
  std::string backup_ref, data;                        //   "POLICY/ID", "data" / "data.dump" / "data.tar"
  std::string backup_id;                               // empty for from: {archive: PATH}
  std::map<std::string, std::int64_t> expected_rows;   // "schema.table" -> exact rows (manifest)
  std::map<std::string, std::string> role_definitions; // role -> CREATE ROLE ... (backup globals)
  std::optional<repository::Globals> globals;          // the backup's globals, when it has them
  bool plain = false;                                  // a plain SQL script (restore_sql.cpp)
  // Why the backup is read from another copy than the one named (shown in the plan and logged):
  // "repository \"offsite\" unreachable (...): reading from \"local\"".
  std::vector<std::string> fallback_notes;
};
RestoreSource resolve_restore_source(const config::Restore& doc, const config::Settings& settings);
// The archive of a source, read in place (a repository backup is read from its storage).
std::unique_ptr<archive::Archive> open_source_archive(const RestoreSource& src, const config::Settings& settings);

// Role password hashes a plan's role steps ask for, from the manifest of the backup it names.
std::map<std::string, std::string> role_passwords(const model::Plan& plan, const config::Settings& settings);

// A plan records where its archive is (a repository backup's repository, backup and data file)
// so that apply reopens it the same way.
void record_source(const RestoreSource& src, model::Plan& plan);
RestoreSource source_of(const model::Plan& plan);

}  // namespace pgr::sources
