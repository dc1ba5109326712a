// `pgrecover check` output: text for people, JSON for CI, and the Prometheus text exposition
// format (version 0.0.4) for node_exporter's textfile collector.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "model/health.hpp"

namespace pgr::report {

std::string render_health_text(const model::HealthReport& r);
nlohmann::json health_json(const model::HealthReport& r);  // {"format_version":1,...}
std::string render_health_prometheus(const model::HealthReport& r);

}  // namespace pgr::report
