#include "engine/restore_point.hpp"

#include <thread>

#include <fmt/format.h>

#include "repository/wal_archive.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::engine {

repository::RestorePoint mark_restore_point(pg::Connection& source, const RestorePointRequest& req) {
  repository::check_restore_point_name(req.name);
  auto r = source.exec(
      "WITH p AS (SELECT pg_catalog.pg_create_restore_point($1) AS lsn) "
      "SELECT p.lsn::text, pg_catalog.pg_walfile_name(p.lsn), "
      "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM p",
      {req.name});
  repository::RestorePoint point;
  point.name = req.name;
  point.cluster = req.cluster;
  point.policy = req.policy;
  point.lsn = r.str(0, 0);
  point.created_at = r.str(0, 2);
  // pg_walfile_name names the segment on the server's current timeline.
  std::string segment = r.str(0, 1);
  point.segment = segment;
  point.timeline = static_cast<std::uint32_t>(std::stoul(segment.substr(0, 8), nullptr, 16));
  // The restore point record ends before the switch: the segment holding it is complete now.
  source.exec("SELECT pg_catalog.pg_switch_wal()");
  return point;
}

void await_archived(pg::Connection& source, const RestorePointRequest& req, const repository::RestorePoint& point) {
  const std::string& segment = point.segment;
  log::info("restore point \"{}\" at {} (segment {}); waiting for the segment to be archived", point.name, point.lsn, segment);
  repository::WalArchive archive(req.repository->storage_ptr(), req.cluster);
  auto deadline = std::chrono::steady_clock::now() + req.timeout;
  while (!archive.find(segment)) {
    if (req.cancel && req.cancel->load()) fail(ErrorKind::cancelled, "interrupted while waiting for the restore point's segment");
    if (std::chrono::steady_clock::now() >= deadline) {
      auto a = source.exec("SELECT failed_count, coalesce(last_failed_wal, ''), coalesce(last_archived_wal, '') "
                           "FROM pg_catalog.pg_stat_archiver");
      fail(ErrorKind::io,
           fmt::format("restore point \"{}\" was created at {}, but its segment {} did not reach the WAL archive of "
                       "cluster \"{}\" within {}s (archiver: {} failures, last failed {}, last archived {}); it is not "
                       "recorded",
                       point.name, point.lsn, segment, req.cluster, req.timeout.count(), a.str(0, 0),
                       a.str(0, 1).empty() ? "-" : a.str(0, 1), a.str(0, 2).empty() ? "-" : a.str(0, 2)),
           "check the source's archive_command (pgrecover check shows the archiver), then create the restore point "
           "again");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

repository::RestorePoint create_restore_point(pg::Connection& source, const RestorePointRequest& req) {
  repository::check_restore_point_name(req.name);
  if (repository::find_restore_point(req.repository->storage(), req.cluster, req.name)) {
    fail(ErrorKind::input,
         fmt::format("restore point \"{}\" is already recorded for cluster \"{}\"", req.name, req.cluster),
         "choose another name: recovery to a name stops at the first restore point of that name");
  }
  auto point = mark_restore_point(source, req);
  await_archived(source, req, point);
  repository::record_restore_point(req.repository->storage(), point);
  return point;
}

}  // namespace pgr::engine
