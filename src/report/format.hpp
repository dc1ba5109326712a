// Sizes and durations as people read them, for every rendering.
#pragma once

#include <cstdint>
#include <string>

namespace pgr::report {

std::string human_bytes(std::int64_t bytes);  // "512 B", "1.5 MB"; "?" when negative
std::string human_duration(double seconds);   // "4.2s", "3m05s", "2h10m"

}  // namespace pgr::report
