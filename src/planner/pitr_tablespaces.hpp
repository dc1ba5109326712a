// The tablespaces of a point-in-time recovery: where each of the chosen backup's tablespaces goes
// (to.tablespace_mapping, else its original location), refused at plan time when that folder is
// not empty (a side recovery must never write into a live cluster's tablespace) or when a mapping
// names no tablespace of the backup. Part of the PITR planner (planner/pitr_planner.cpp).
#pragma once

#include <string>
#include <vector>

#include "model/plan.hpp"
#include "planner/pitr_planner.hpp"

namespace pgr::planner {

struct TablespacePlacement {
  repository::PhysicalTablespace tablespace;
  std::string location;  // where it is recovered
  bool mapped = false;   // by to.tablespace_mapping
  // In place: the old cluster's folder at `location` is renamed to this (kept, never deleted),
  // and the old data directory's link pg_tblspc/<old_oid> is pointed at it. Empty: nothing moves.
  std::string moved_aside_to, old_oid;
};

// Throws Error(input), before anything is touched, naming the tablespace and the folder. In an
// in-place recovery, an occupied original location that the old data directory links to is
// moved aside instead (TablespacePlacement::moved_aside_to).
std::vector<TablespacePlacement> place_tablespaces(const PitrFacts& facts, const PhysicalBackup& chosen);

// The plan's "tablespaces" parameter (a JSON array the runner reads) and one
// "tablespace-<oid>" step per tablespace, which the extract step depends on (one that moves an
// old folder aside waits for the data-directory step, which moves the old data directory).
void add_tablespace_steps(const std::vector<TablespacePlacement>& placed, model::Plan& plan);

}  // namespace pgr::planner
