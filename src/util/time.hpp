// Wall-clock time as pgrecover writes it in plans, journals and reports.
#pragma once

#include <string>

namespace pgr {

// "2026-05-01T13:00:00.123Z": UTC with milliseconds.
std::string now_iso8601();

}  // namespace pgr
