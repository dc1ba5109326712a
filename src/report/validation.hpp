// What `pgrecover validate` prints: each valid document described in one line (what it backs up
// or restores, where to, how often, what it keeps), or every problem with its file and line;
// the same as JSON with --json.
#pragma once

#include <string>

#include "config/documents.hpp"
#include "config/settings.hpp"

namespace pgr::report {

std::string render_validation(const config::ValidationReport& report, const config::Settings& settings, bool json);

}  // namespace pgr::report
