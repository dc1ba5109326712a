// What applies did, read back from the state directory (each run folder's plan.json and
// journal), for `pgrecover runs` and for the time estimate of a new plan.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgr::executor {

struct RunInfo {
  std::string id, kind, document, database, status;  // status: ok, failed, cancelled, interrupted
  std::string started_at, finished_at;
  int runs = 0, steps_total = 0, steps_done = 0;
  std::int64_t rows = 0, bytes = 0, ms = 0;
};

// Every run folder, newest first; an unreadable one is listed with status "unreadable: ...".
std::vector<RunInfo> list_runs(const std::string& state_dir);
// One run in detail (the JSON of `runs show --json`); throws Error(input) for an unknown id.
nlohmann::json run_json(const std::string& state_dir, const std::string& id);

// Bytes per second of the newest successful run of `kind` ("restore", "pitr") among `runs`
// (newest first) that moved at least kMinMeasuredBytes, and which run it was ("run ID of DOC at
// TIME"); nullopt when none measured. A smaller run's time is its fixed costs, not a rate: a
// restore of 2,000 one-row tables (54 kB in 5 s) made a 385 MB plan's estimate 169 hours.
constexpr std::int64_t kMinMeasuredBytes = std::int64_t{16} << 20;
struct Throughput {
  double bytes_per_second = 0;
  std::string from;
};
std::optional<Throughput> newest_throughput(const std::vector<RunInfo>& runs, const std::string& kind);

}  // namespace pgr::executor
