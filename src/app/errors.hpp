// How a failed command reports itself on stderr: "pgrecover: error: ..." and "hint: ..." lines,
// or with --json one {"event": "error", "kind", "message", "hint"} object. Secrets are redacted.
#pragma once

#include <ostream>
#include <string>

namespace pgr::app {

void report_error(std::ostream& err, bool json, const std::string& kind, const std::string& message,
                  const std::string& hint);

}  // namespace pgr::app
