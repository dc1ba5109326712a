#include "catalog/archiver.hpp"

namespace pgr::catalog {

ArchiverStatus read_archiver(pg::Connection& conn) {
  auto r = conn.exec(
      "SELECT current_setting('archive_mode'), "
      "(SELECT setting::bigint * CASE unit WHEN 'min' THEN 60 WHEN 'ms' THEN 0.001 ELSE 1 END "
      "   FROM pg_catalog.pg_settings WHERE name = 'archive_timeout')::bigint, "
      "a.failed_count, coalesce(a.last_failed_wal, ''), coalesce(a.last_failed_time::text, ''), "
      "coalesce(a.last_archived_wal, ''), coalesce(a.last_archived_time::text, ''), "
      "coalesce(a.last_failed_time > coalesce(a.last_archived_time, '-infinity'), false), "
      "CASE WHEN pg_catalog.pg_is_in_recovery() THEN '' "
      "     ELSE pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()) END "
      "FROM pg_catalog.pg_stat_archiver a");
  ArchiverStatus a;
  a.archive_mode = r.str(0, 0);
  a.archive_timeout_seconds = r.int64(0, 1);
  a.failed_count = r.int64(0, 2);
  a.last_failed_wal = r.str(0, 3);
  a.last_failed_time = r.str(0, 4);
  a.last_archived_wal = r.str(0, 5);
  a.last_archived_time = r.str(0, 6);
  a.failing = r.boolean(0, 7);
  a.current_segment = r.str(0, 8);
  return a;
}

std::string read_archive_command(pg::Connection& conn) {
  return conn.exec("SELECT current_setting('archive_command')").str(0, 0);
}

std::optional<std::uint32_t> read_current_timeline(pg::Connection& conn) {
  auto r = conn.exec("SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN '' "
                     "ELSE substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8) END");
  if (r.str(0, 0).empty()) return std::nullopt;
  return static_cast<std::uint32_t>(std::stoul(r.str(0, 0), nullptr, 16));
}

}  // namespace pgr::catalog
