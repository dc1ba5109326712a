// What every backup engine is asked to do: back up the policy's source with its spec.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>

#include "config/documents.hpp"

namespace pgr::engine {

struct BackupRequest {
  std::string policy;
  config::BackupPolicySpec spec;
  std::string source_conninfo;      // with any password: never printed
  std::filesystem::path bin_dir;    // settings [instance] bin_dir; empty: found like the instance's
  const std::atomic<bool>* cancel = nullptr;  // set: the engine's program is stopped, nothing is kept
};

}  // namespace pgr::engine
