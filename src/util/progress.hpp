// Counters a long-running piece of work bumps as it goes (rows and bytes), read by a progress
// reporter on another thread. Lower layers take a pointer to one (null: nobody watches).
#pragma once

#include <atomic>
#include <cstdint>

namespace pgr {

struct ProgressCounters {
  std::atomic<std::int64_t> rows{0};
  std::atomic<std::int64_t> bytes{0};
};

}  // namespace pgr
