// The settings of a restore's load sessions, chosen from what the target server has instead of
// one fixed value.
//
// Why: with maintenance_work_mem = 512MB fixed in every session (the value before), a GIN index
// build on a default-settings server (shared_buffers 128MB) was slower than with the server's own
// 64MB (issue 17: 10.9 s and 11.2 s against 8.2 s and 9.7 s). A GIN build collects its entries in
// an in-memory tree of maintenance_work_mem and dumps it when full; a bigger tree is walked with
// more cache misses and gains nothing from fewer dumps, so GIN builds stay at a moderate value
// (the server's own, between 64MB and 128MB; see docs/performance.md). B-tree builds were given a
// share of the host's memory (up to 1GB) on the idea that a sort gains from fewer merge passes;
// measured on the big-table bench (8M rows, two builds side by side on 2 cores), they were slower
// with 256MB and 1GB than with 32MB-128MB (bench/results/index-mwm-*.txt): one huge in-memory
// quicksort misses the CPU caches, sorted runs of cache-friendly size merged at the end do not.
// So every index build now gets the server's own maintenance_work_mem brought into [64MB, 128MB].
//
// Settings written in the Restore document (spec.settings) always win; when it sets
// maintenance_work_mem, index builds use that value whatever their access method.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "pg/pg.hpp"

namespace pgr::executor {

struct TargetResources {
  std::int64_t shared_buffers = std::int64_t{128} << 20;       // bytes
  std::int64_t maintenance_work_mem = std::int64_t{64} << 20;  // the server's own, bytes
  int max_parallel_maintenance_workers = 2;
  std::int64_t host_available = 0;  // MemAvailable of the server's host when it is this machine; 0: unknown
};

struct LoadSettings {
  std::map<std::string, std::string> session;    // SET in every load session
  std::map<std::string, std::string> index_mwm;  // index access method -> maintenance_work_mem of its builds
  std::string summary;                           // for the log: what was chosen and from what
};

// Pure: the document's settings, the target's resources and the jobs -> the sessions' settings.
LoadSettings choose_load_settings(const TargetResources& target, int jobs,
                                  const std::map<std::string, std::string>& document_settings);

// Reads shared_buffers, maintenance_work_mem and max_parallel_maintenance_workers, and the
// host's available memory when the connection is a Unix socket or loopback (this machine).
TargetResources read_target_resources(pg::Connection& c);

// The access method of a CREATE INDEX statement ("btree" when it names none); "" for other SQL.
std::string index_access_method(const std::string& create_index_sql);

}  // namespace pgr::executor
