// Restore planning for a plain SQL source (spec.from.sql_file, or a plain-format backup): the
// roles the script needs, the database, one journaled step that runs the script through psql,
// ANALYZE and the row-count verification. Pure, like the archive planner.
#pragma once

#include "model/plan.hpp"
#include "planner/restore_planner.hpp"

namespace pgr::planner {

// in.script must be set (in.toc is not used). Throws Error(input) for what a script cannot do
// (select, existing other than fail, roles: no-owner, single_transaction with \connect) and for
// a target that would make the script fail at once (a non-empty database, databases the script
// creates that exist).
model::Plan plan_sql_restore(const RestoreInputs& in);

}  // namespace pgr::planner
