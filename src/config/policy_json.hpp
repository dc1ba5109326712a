// A BackupPolicy as JSON, for a backup plan's params: `apply PLANFILE` runs exactly the policy
// that was reviewed. Written as given: the planner removes any password from the source's
// conninfo before the policy goes into a plan.
#pragma once

#include <nlohmann/json.hpp>

#include "config/documents.hpp"

namespace pgr::config {

nlohmann::json policy_to_json(const BackupPolicy& p);
// Throws Error(input) when the JSON is not one policy_to_json wrote.
BackupPolicy policy_from_json(const nlohmann::json& j);

}  // namespace pgr::config
