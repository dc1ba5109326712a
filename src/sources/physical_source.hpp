// What a PointInTimeRecovery reads from: the physical backups of a policy in the first of its
// repositories that is reachable and holds one (the one named, then its other copies in order),
// with why each earlier copy was passed over.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "repository/physical.hpp"
#include "repository/repository.hpp"

namespace pgr::sources {

struct PhysicalSource {
  const config::RepositorySettings* settings = nullptr;  // the copy read from
  std::optional<repository::Repository> repository;
  std::vector<repository::PhysicalBackup> backups;       // oldest first; empty when no copy has one
  std::vector<std::string> skipped;                      // "repository \"x\" unreachable (...)"
};

// `names`: the repositories in the order to try; `only_backup`: just that backup id ("" any).
// The last repository's errors are thrown; earlier unreachable ones are skipped.
PhysicalSource find_physical_backups(const config::Settings& settings, const std::vector<std::string>& names,
                                     const std::string& policy, const std::string& only_backup, const std::string& who);

}  // namespace pgr::sources
