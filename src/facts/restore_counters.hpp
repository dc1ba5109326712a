// What the restore planner asks of the two sides of a restore while it plans: rows (and their
// digests) in the archive and in the target, and what dropping target tables would take along.
#pragma once

#include <memory>

#include "archive/archive.hpp"
#include "pg/pg.hpp"
#include "planner/restore_planner.hpp"

namespace pgr::facts {

// Counts an archive's data entries (read end to end) and the target's tables over `target`.
std::unique_ptr<planner::RowCounter> archive_row_counter(const archive::Archive& archive, pg::Connection& target);

// Counts a live source's tables over `source` (in whatever snapshot that session is) and the
// target's over `target`.
std::unique_ptr<planner::RowCounter> live_row_counter(pg::Connection& source, pg::Connection& target);

// What DROP TABLE ... CASCADE would take with it in the target, read over `target`.
std::unique_ptr<planner::TargetDependencies> target_dependencies(pg::Connection& target);

}  // namespace pgr::facts
