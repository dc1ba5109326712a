// `before: {restore_point: NAME}` of a Restore or PointInTimeRecovery: the "restore-point" step
// that the plan runs first (every step that had no dependency now waits for it), so a change
// ticket's risky work can be undone with a PointInTimeRecovery to that name. Pure: the facts
// (restore points already recorded, the server's WAL settings) are gathered by app/.
#pragma once

#include <string>
#include <vector>

#include "config/documents.hpp"
#include "model/plan.hpp"
#include "repository/restore_points.hpp"

namespace pgr::planner {

struct RestorePointFacts {
  const config::RestorePointBefore* before = nullptr;
  std::string document;  // "Restore \"chg-1\"", for messages
  // The restore points recorded for before->cluster in before->repository (empty when not recorded).
  std::vector<repository::RestorePoint> recorded;
  // Of the server that gets the restore point: SHOW wal_level, archive_mode ("" when unknown).
  std::string wal_level, archive_mode;
  int timeout_seconds = 300;  // for its segment to reach the archive
  // The plan's work is already done (a finished run of it): the step is a no-op and the name,
  // recorded by that run, is not refused.
  bool already_done = false;
};

// Inserts the step first and writes its plan params (model/restore_point_params.hpp). Throws
// Error(input), before anything is touched, when the name is already recorded for the cluster,
// when the server's wal_level is minimal, or when a recorded restore point's server does not
// archive (archive_mode off: its segment would never reach the archive). Warns when a restore
// point that is not recorded is made on a server that does not archive.
void add_restore_point_step(model::Plan& plan, const RestorePointFacts& facts);

}  // namespace pgr::planner
