#include "app/errors.hpp"

#include <nlohmann/json.hpp>

#include "util/redact.hpp"

namespace pgr::app {

void report_error(std::ostream& err, bool json, const std::string& kind, const std::string& message,
                  const std::string& hint) {
  std::string msg = redact_secrets(message);
  std::string h = redact_secrets(hint);
  if (json) {
    nlohmann::json j = {{"format_version", 1}, {"event", "error"}, {"kind", kind}, {"message", msg}};
    if (!h.empty()) j["hint"] = h;
    err << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  } else {
    err << "pgrecover: error: " << msg << "\n";
    if (!h.empty()) err << "hint: " << h << "\n";
  }
}

}  // namespace pgr::app
