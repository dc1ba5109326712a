// What a server says about its WAL archiving (pg_settings and pg_stat_archiver), for `check`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "pg/pg.hpp"

namespace pgr::catalog {

struct ArchiverStatus {
  std::string archive_mode;                  // on | always | off
  std::int64_t archive_timeout_seconds = 0;  // 0: off
  std::int64_t failed_count = 0;
  std::string last_failed_wal, last_failed_time, last_archived_wal, last_archived_time;
  bool failing = false;                      // the last failure is newer than the last success
  std::string current_segment;               // pg_walfile_name(pg_current_wal_lsn()); "" on a standby
};

ArchiverStatus read_archiver(pg::Connection& conn);
// current_setting('archive_command').
std::string read_archive_command(pg::Connection& conn);
// The timeline the server writes WAL on; nullopt on a standby.
std::optional<std::uint32_t> read_current_timeline(pg::Connection& conn);

}  // namespace pgr::catalog
