// `pgrecover runs list|show`: what applies did, read from the state directory (plan.json and the
// journal of each run folder), for change tickets and CI logs.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgr::app {

struct RunInfo {
  std::string id, kind, document, database, status;  // status: ok, failed, cancelled, interrupted
  std::string started_at, finished_at;
  int runs = 0, steps_total = 0, steps_done = 0;
  std::int64_t rows = 0, bytes = 0, ms = 0;
};

std::vector<RunInfo> list_runs(const std::string& state_dir);
nlohmann::json run_json(const std::string& state_dir, const std::string& id);  // throws for an unknown id

int runs_list_command(const std::string& config_path, bool json, std::ostream& out);
int runs_show_command(const std::string& config_path, const std::string& id, const std::string& format, std::ostream& out);

}  // namespace pgr::app
