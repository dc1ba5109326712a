// `pgrecover runs list|show`, and the planning side of the run rule (executor/run_folder.hpp):
// a document whose plan id has an unfinished run is continued with that run's saved plan.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "config/settings.hpp"
#include "model/plan.hpp"

namespace pgr::app {

int runs_list_command(const std::string& config_path, bool json, std::ostream& out);
int runs_show_command(const std::string& config_path, const std::string& id, const std::string& format, std::ostream& out);

// The saved plan of an unfinished run of this plan id (logged), or nullopt.
std::optional<model::Plan> unfinished_run(const config::Settings& settings, const std::string& plan_id);
// The plan itself, or the saved plan of an unfinished run with its id.
model::Plan continue_unfinished(const config::Settings& settings, model::Plan plan);
// A run of this plan id finished (its folder holds a finished journal).
bool finished_run_exists(const config::Settings& settings, const std::string& plan_id);

}  // namespace pgr::app
