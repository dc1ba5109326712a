#include "model/health.hpp"

#include <algorithm>

namespace pgr::model {

const char* to_string(CheckStatus s) noexcept {
  switch (s) {
    case CheckStatus::ok: return "ok";
    case CheckStatus::out_of_bounds: return "out_of_bounds";
    case CheckStatus::unknown: return "unknown";
  }
  return "?";
}

bool PolicyHealth::in_bounds() const {
  return std::none_of(checks.begin(), checks.end(), [](const HealthCheck& c) { return c.status == CheckStatus::out_of_bounds; });
}

bool HealthReport::in_bounds() const {
  return std::all_of(policies.begin(), policies.end(), [](const PolicyHealth& p) { return p.in_bounds(); });
}

}  // namespace pgr::model
