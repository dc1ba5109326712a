#include "engine/physical.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "instance/instance.hpp"
#include "repository/physical.hpp"
#include "repository/wal_archive.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace pgr::engine {

namespace {

// pg_basebackup's --compress: client-side (the server sends plain blocks; the same work as
// server-side on one machine, and no compression library needed in the server). zstd takes
// workers: `jobs` threads compress in parallel (only with zstd, see config/build.cpp).
std::string compress_option(const config::Compression& c, int jobs) {
  if (c.method == "none") return "none";
  std::string out = "client-" + c.method;
  if (c.method == "zstd" && jobs > 1) {
    out += ":workers=" + std::to_string(jobs);
    if (c.level >= 0) out += ",level=" + std::to_string(c.level);
  } else if (c.level >= 0) {
    out += ":" + std::to_string(c.level);
  }
  return out;
}

std::string utc_now_sql() { return "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }

// The tablespaces pg_basebackup wrote as <oid>.tar[...], with their locations from base.tar's
// tablespace_map, their names from pg_tablespace, their sizes from backup_manifest. Any other
// file fails the backup: it would not be restored.
std::vector<repository::PhysicalTablespace> tablespaces_of(pg::Connection& conn, const fs::path& dir,
                                                          const repository::PhysicalInfo& info) {
  std::vector<repository::PhysicalTablespace> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n == info.base_file || n == info.wal_file || n == "backup_manifest") continue;
    std::string oid = n.substr(0, n.find('.'));
    if (oid.empty() || oid.find_first_not_of("0123456789") != std::string::npos || repository::find_tar(dir, oid) != n) {
      fail(ErrorKind::io, fmt::format("pg_basebackup wrote \"{}\", which is neither the base, the WAL nor a tablespace", n));
    }
    out.push_back({oid, "", "", n, 0});
  }
  if (out.empty()) return out;
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return std::stoull(a.oid) < std::stoull(b.oid); });
  // Locations cannot change (there is no ALTER TABLESPACE ... LOCATION), so the catalog says
  // where each was; base.tar's tablespace_map (read only if a tablespace was dropped meanwhile,
  // as it means reading all of base.tar) says the same.
  std::string manifest = read_file(dir / "backup_manifest");
  auto rows = conn.exec("SELECT oid::text, spcname, pg_catalog.pg_tablespace_location(oid) FROM pg_catalog.pg_tablespace");
  std::vector<std::pair<std::string, std::string>> map;
  for (auto& t : out) {
    for (int row = 0; row < rows.rows(); ++row) {
      if (rows.str(row, 0) == t.oid) t.name = rows.str(row, 1), t.location = rows.str(row, 2);
    }
    if (t.location.empty()) {
      if (map.empty()) map = repository::parse_tablespace_map(repository::read_tar_member(dir / info.base_file, "tablespace_map"));
      auto m = std::find_if(map.begin(), map.end(), [&](const auto& p) { return p.first == t.oid; });
      if (m == map.end()) fail(ErrorKind::io, fmt::format("pg_basebackup wrote {} but its tablespace_map has no tablespace {}", t.file, t.oid));
      t.location = m->second;
    }
    t.bytes = repository::backup_manifest_tablespace_bytes(manifest, t.oid);
  }
  return out;
}

}  // namespace

std::vector<std::string> check_archiving(pg::Connection& c, const std::string& cluster) {
  std::vector<std::string> w;
  auto r = c.exec(
      "SELECT current_setting('wal_level'), current_setting('archive_mode'), current_setting('archive_command'), "
      "a.failed_count, coalesce(a.last_failed_wal, ''), coalesce(a.last_failed_time::text, ''), "
      "coalesce(a.last_failed_time > coalesce(a.last_archived_time, '-infinity'), false), a.archived_count "
      "FROM pg_catalog.pg_stat_archiver a");
  std::string wal_level = r.str(0, 0), mode = r.str(0, 1), command = r.str(0, 2);
  if (wal_level == "minimal") {
    w.push_back("the source has wal_level = minimal: base backups and archiving need replica or logical");
  }
  if (mode == "off") {
    w.push_back(fmt::format(
        "the source does not archive WAL (archive_mode = off): point-in-time recovery needs it; set archive_mode = on "
        "and archive_command = 'pgrecover --config FILE wal push %p --repository R --cluster {}' (restart needed)",
        cluster));
  } else if (command.find("wal push") == std::string::npos || command.find(cluster) == std::string::npos) {
    w.push_back(fmt::format("the source's archive_command ('{}') does not push into cluster \"{}\" with pgrecover; "
                            "recoveries from this policy's backups will not find the WAL",
                            command, cluster));
  }
  if (r.boolean(0, 6)) {
    w.push_back(fmt::format("archiving is failing on the source: {} failures, the last for {} at {} "
                            "(see the server log for archive_command's output)",
                            r.str(0, 3), r.str(0, 4), r.str(0, 5)));
  }
  return w;
}

repository::BackupInfo take_physical_backup(const repository::Repository& repo, const BackupRequest& req,
                                            ProgressCounters* progress) {
  const auto& s = req.spec;
  const std::string& conninfo = req.source_conninfo;
  auto conn = pg::Connection::open(conninfo, "pgrecover backup");
  repository::PhysicalInfo info;
  repository::Manifest m;
  m.kind = "physical";
  m.policy = req.policy;
  {
    auto r = conn.exec(
        "SELECT (SELECT system_identifier::text FROM pg_catalog.pg_control_system()), "
        "current_setting('server_version'), current_setting('server_version_num')::int, "
        "(SELECT setting::bigint * CASE unit WHEN 'MB' THEN 1048576 WHEN 'kB' THEN 1024 WHEN '8kB' THEN 8192 ELSE 1 END "
        " FROM pg_catalog.pg_settings WHERE name = 'wal_segment_size'), "
        "(SELECT rolname FROM pg_catalog.pg_roles WHERE oid = 10), "
        "pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text, " + utc_now_sql());
    m.system_identifier = r.str(0, 0);
    m.server_version = r.str(0, 1);
    m.server_version_num = static_cast<int>(r.int64(0, 2));
    info.wal_segment_size = static_cast<std::uint64_t>(r.int64(0, 3));
    info.superuser = r.str(0, 4);
    info.next_xid = r.str(0, 5);
    info.start_time = r.str(0, 6);
  }
  for (const auto& warning : check_archiving(conn, s.cluster)) log::warn("BackupPolicy \"{}\": {}", req.policy, warning);
  info.wal_cluster = s.cluster;
  info.compression = s.compression.method;

  auto started = std::chrono::floor<std::chrono::seconds>(repository::Clock::now());
  auto pending = repo.begin(req.policy, started);
  m.started_at = repository::format_iso(started);

  fs::path pg_basebackup = instance::tool_path("pg_basebackup", req.bin_dir);
  auto [argv_conninfo, password] = pg::split_password(conninfo);
  ProcessSpec ps;
  ps.cancel = req.cancel;
  ps.new_process_group = true;
  ps.argv = {pg_basebackup.string(),
             "--pgdata=" + pending.dir().string(),
             "--format=tar",
             "--wal-method=stream",
             "--checkpoint=fast",
             "--compress=" + compress_option(s.compression, s.jobs),
             "--manifest-checksums=SHA256",
             "--no-sync",  // the repository fsyncs every file when the backup is committed
             "--label=" + fmt::format("pgrecover {} {}", req.policy, pending.id()),
             "--dbname=" + argv_conninfo};
  if (!password.empty()) ps.env.push_back("PGPASSWORD=" + password);
  log::info("BackupPolicy \"{}\": pg_basebackup of {} into backup {}", req.policy,
            pg::describe_conninfo(conninfo), pending.id());
  ProcessResult r = run_process(ps);
  if (r.cancelled) fail(ErrorKind::cancelled, "base backup interrupted: pg_basebackup stopped, nothing was kept");
  if (!r.ok()) {
    fail(ErrorKind::database, describe_failure("pg_basebackup", r),
         "the source role needs the REPLICATION attribute and a pg_hba.conf line for replication connections");
  }
  ProcessSpec version;
  version.argv = {pg_basebackup.string(), "--version"};
  ProcessResult v = run_process(version);
  m.tool = v.ok() ? v.out.substr(0, v.out.find('\n')) : "pg_basebackup";

  auto ranges = repository::backup_manifest_wal_ranges(read_file(pending.dir() / "backup_manifest"));
  info.timeline = ranges.front().timeline;
  info.start_lsn = repository::format_lsn(ranges.front().start);
  info.stop_lsn = repository::format_lsn(ranges.back().end);
  info.base_file = repository::find_tar(pending.dir(), "base");
  info.wal_file = repository::find_tar(pending.dir(), "pg_wal");
  if (info.base_file.empty()) fail(ErrorKind::io, "pg_basebackup wrote no base.tar");
  info.tablespaces = tablespaces_of(conn, pending.dir(), info);
  {
    auto r2 = conn.exec("SELECT " + utc_now_sql() + ", extract(epoch FROM clock_timestamp())::float8");
    info.stop_time = r2.str(0, 0);
    info.stop_epoch = std::stod(r2.str(0, 1));
  }
  m.finished_at = repository::format_iso(std::chrono::floor<std::chrono::seconds>(repository::Clock::now()));
  m.extra = repository::to_extra(info);
  repository::BackupInfo done = pending.commit(std::move(m));
  if (progress) progress->bytes = static_cast<std::int64_t>(done.bytes);
  log::info("BackupPolicy \"{}\": base backup {} complete ({} bytes, WAL {} to {} on timeline {})",
            req.policy, done.id, done.bytes, info.start_lsn, info.stop_lsn, info.timeline);
  return done;
}

}  // namespace pgr::engine
