// Internals of the backup planner shared by its .cpp files: the copies of a policy with several
// repositories, and WAL retention for any one repository.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/plan.hpp"
#include "planner/backup_planner.hpp"

namespace pgr::planner {

std::string describe_rules(const repository::RetentionRules& r);

// What WAL retention of one repository looks at.
struct WalRetentionInput {
  const std::vector<repository::BackupInfo>& backups;
  const std::map<std::string, repository::PhysicalInfo>& physical;
  const std::map<std::string, std::vector<repository::WalArchive::Entry>>& wal_files;
  const std::vector<repository::RetentionDecision>& decisions;  // one per backup, same order (or more)
  std::string repository;               // empty: the first repository (step wal-delete:<cluster>)
  std::vector<std::string> depends_on;
};
void add_wal_deletion(const WalRetentionInput& in, model::Plan& plan);

// For each copy (facts.copies): copy:<R> for the backup being made, copy:<R>:<id> for kept backups
// R lacks, delete:<R>:<id> and wal-delete:<R>:<cluster> by R's own retention. Returns the ids of
// the copy steps that will run (the first repository's deletes wait for them).
std::vector<std::string> add_copy_steps(const BackupFacts& facts, const model::Step& backup, model::Plan& plan);

// "2 copies: local (posix /srv/backups), offsite (s3://bucket/prefix)"; one repository: as before.
std::string describe_copies(const BackupFacts& facts);

}  // namespace pgr::planner
