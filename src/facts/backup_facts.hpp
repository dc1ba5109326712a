// What the backup planner is told about a BackupPolicy: what each of its repositories holds, where
// each sits relative to the source (3-2-1), the source's WAL archiving and databases. Reads only.
#pragma once

#include "config/documents.hpp"
#include "config/settings.hpp"
#include "planner/backup_planner.hpp"

namespace pgr::facts {

// The facts for planner::plan_backup_policy, read from the settings' repositories and the source.
planner::BackupFacts gather_backup_facts(const config::BackupPolicy& policy, const config::Settings& settings);

}  // namespace pgr::facts
