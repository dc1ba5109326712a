// Wall-clock time as pgrecover writes it in plans, journals and reports.
#pragma once

#include <chrono>
#include <string>

namespace pgr {

// "2026-05-01T13:00:00.123Z": UTC with milliseconds.
std::string now_iso8601();
std::string format_iso8601(std::chrono::system_clock::time_point t);

// Seconds since 1970 of "2024-05-01T13:00:00Z", "2024-05-01 15:00:00.25+02", "...+02:00" (a time
// zone is required). Throws pgr::Error(input) on anything else.
double parse_iso8601(const std::string& text);
// Seconds since 1970, now.
double now_epoch();

}  // namespace pgr
