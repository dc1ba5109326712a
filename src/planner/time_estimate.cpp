#include "planner/time_estimate.hpp"

#include <cstdint>

#include <fmt/format.h>

namespace pgr::planner {

void add_time_estimate(model::Plan& plan, double bytes_per_second, const std::string& from) {
  if (plan.kind != "restore" || bytes_per_second <= 0) return;
  std::int64_t bytes = 0;
  for (const auto& s : plan.steps)
    if (s.kind == "table-data" && s.action != model::Action::no_op) bytes += s.estimate.bytes;
  if (bytes == 0) return;
  plan.params["estimated_seconds"] = fmt::format("{:.0f}", static_cast<double>(bytes) / bytes_per_second);
  plan.params["estimated_from"] = fmt::format("the throughput of {}", from);
}

}  // namespace pgr::planner
