// pg_amcheck over every database of a running instance (heap and B-tree checks), for drills.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>

namespace pgr::instance {

struct AmcheckRequest {
  std::filesystem::path bin_dir;  // settings' instance.bin_dir (empty: found as usual)
  std::string socket_dir;
  int port = 0;
  std::string user;               // a superuser: amcheck is installed into each database
  bool heapallindexed = false;
  std::atomic<bool>* cancel = nullptr;
};

// Runs pg_amcheck --all --install-missing. Returns what was checked, for the drill's record
// ("pg_amcheck --all found no corruption", or "pg_amcheck skipped (not installed)" with a
// warning); throws Error(database) with pg_amcheck's report when it finds problems, and
// Error(cancelled) when cancelled.
std::string run_amcheck(const AmcheckRequest& request);

}  // namespace pgr::instance
