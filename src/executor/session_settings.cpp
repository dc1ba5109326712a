#include "executor/session_settings.hpp"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>

namespace pgr::executor {

namespace {

constexpr std::int64_t kMB = std::int64_t{1} << 20;

std::string mb(std::int64_t bytes) { return fmt::format("{}MB", std::max<std::int64_t>(1, bytes / kMB)); }

std::int64_t meminfo_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return 0;
}

}  // namespace

LoadSettings choose_load_settings(const TargetResources& t, int jobs, const std::map<std::string, std::string>& doc) {
  LoadSettings out;
  out.session = doc;
  jobs = std::max(1, jobs);
  // pgrecover already runs `jobs` steps at once: parallel workers inside each index build would
  // oversubscribe the cores and slow the critical path (measured with bench/: a GIN-bound restore
  // went from 6.33 s to 5.55 s median on 2 cores). With one job, the server's default stays.
  if (jobs > 1) out.session.try_emplace("max_parallel_maintenance_workers", "0");
  if (doc.count("maintenance_work_mem")) {
    out.summary = fmt::format("maintenance_work_mem {} (from the document) for every index build",
                              doc.at("maintenance_work_mem"));
    return out;
  }
  // Every index build, whatever its access method, gets the server's own value brought into
  // [64MB, 128MB]: measured on the big-table bench (bench/results/bigtable-*), two B-tree builds
  // side by side on an 8M-row table took 11-13 s with 32MB, 64MB or 128MB, 17 s with 1GB and 20-25 s
  // with 256MB: a sort of many cache-sized runs merged at the end beats one huge in-memory sort.
  const std::int64_t server = std::max(t.maintenance_work_mem, std::int64_t{1} * kMB);
  const std::int64_t chosen = std::clamp(server, 64 * kMB, 128 * kMB);
  out.session["maintenance_work_mem"] = mb(chosen);
  out.summary = fmt::format("maintenance_work_mem {} for every index build (the server's {} within 64MB-128MB)",
                            mb(chosen), mb(server));
  return out;
}

TargetResources read_target_resources(pg::Connection& c) {
  TargetResources t;
  auto r = c.exec(
      "SELECT pg_catalog.pg_size_bytes(pg_catalog.current_setting('shared_buffers')), "
      "pg_catalog.pg_size_bytes(pg_catalog.current_setting('maintenance_work_mem')), "
      "pg_catalog.current_setting('max_parallel_maintenance_workers')::int, "
      "coalesce(pg_catalog.host(pg_catalog.inet_server_addr()), 'local') IN ('local', '127.0.0.1', '::1')");
  t.shared_buffers = r.int64(0, 0);
  t.maintenance_work_mem = r.int64(0, 1);
  t.max_parallel_maintenance_workers = static_cast<int>(r.int64(0, 2));
  if (r.boolean(0, 3)) t.host_available = meminfo_available();
  return t;
}

std::string index_access_method(const std::string& sql) {
  static const std::regex create(R"(CREATE (UNIQUE )?INDEX [^;]*? ON (ONLY )?[^;]*? USING ([a-z_0-9]+) )",
                                 std::regex::optimize);
  std::smatch m;
  if (std::regex_search(sql, m, create)) return m[3];
  if (sql.find("CREATE INDEX") != std::string::npos || sql.find("CREATE UNIQUE INDEX") != std::string::npos) {
    return "btree";
  }
  return "";
}

}  // namespace pgr::executor
