// A whole-cluster logical backup (`databases: all` or a list): the globals once, then every
// chosen database by its own pg_dump, `jobs` of them at once, into one backup whose manifest
// lists each database (repository/cluster_manifest.hpp). The manifest is written last, only
// when every database dumped: a failure or cancel keeps nothing.
#pragma once

#include <vector>

#include "config/database_selection.hpp"
#include "engine/request.hpp"
#include "pg/pg.hpp"
#include "repository/repository.hpp"
#include "util/progress.hpp"

namespace pgr::engine {

// pg_database of the server `conn` is connected to, for config::choose_databases.
std::vector<config::SourceDatabase> read_source_databases(pg::Connection& conn);

repository::BackupInfo take_cluster_backup(const repository::Repository& repo, const BackupRequest& req,
                                           ProgressCounters* progress);

}  // namespace pgr::engine
