// `pgrecover runs`: the list of runs and one run in detail, as text, JSON or Markdown (from
// templates/run.md.mustache), for change tickets and CI logs.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "executor/run_history.hpp"

namespace pgr::report {

nlohmann::json runs_list_json(const std::vector<executor::RunInfo>& runs);
std::string render_runs_list(const std::vector<executor::RunInfo>& runs, const std::string& state_dir);
// From executor::run_json.
std::string render_run_markdown(const nlohmann::json& run);
std::string render_run_text(const nlohmann::json& run);

}  // namespace pgr::report
