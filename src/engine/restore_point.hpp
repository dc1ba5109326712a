// Named restore points on the source of a physical policy: pg_create_restore_point, then
// pg_switch_wal so the segment holding it is archived at once, then wait until that segment is
// in the repository's WAL archive, then record it (repository/restore_points). Used by
// `pgrecover restore-point` and by documents that ask for one before their first step.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "pg/pg.hpp"
#include "repository/repository.hpp"
#include "repository/restore_points.hpp"

namespace pgr::engine {

struct RestorePointRequest {
  const repository::Repository* repository = nullptr;  // the policy's repository
  std::string policy, cluster, name;
  std::chrono::seconds timeout{300};       // for the segment to reach the archive
  const std::atomic<bool>* cancel = nullptr;
};

// Throws Error(input) for a bad or already recorded name (before touching the source),
// Error(database) when the source refuses (not a primary, wal_level minimal, ...), and
// Error(io) naming the segment when it is not archived within the timeout (the restore point
// then exists on the source but is not recorded: check archive_command and run it again with
// another name).
repository::RestorePoint create_restore_point(pg::Connection& source, const RestorePointRequest& req);

// The parts of create_restore_point, for the restore-point step of a plan (which journals in
// between): pg_create_restore_point + pg_switch_wal (no check, no wait, nothing recorded; the
// cluster may be empty for a server whose archive pgrecover does not keep) ...
repository::RestorePoint mark_restore_point(pg::Connection& source, const RestorePointRequest& req);
// ... and the wait until its segment is in the WAL archive of req.cluster (Error(io) on timeout).
void await_archived(pg::Connection& source, const RestorePointRequest& req, const repository::RestorePoint& point);

}  // namespace pgr::engine
