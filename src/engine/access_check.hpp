// Plan-time check that the backup role can read what a logical policy selects, so a missing
// grant is seen when the plan is reviewed rather than when pg_dump stops half-way at apply.
#pragma once

#include <string>
#include <vector>

#include "config/documents.hpp"
#include "pg/pg.hpp"

namespace pgr::engine {

// One warning per selected table, view or sequence (matching the policy's select, or every one
// when it selects everything) whose schema the connected role may not use or that it may not
// SELECT; each names the GRANT that fixes it.
std::vector<std::string> unreadable_selected(pg::Connection& conn, const config::BackupPolicySpec& spec);

}  // namespace pgr::engine
