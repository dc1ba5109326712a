// Restore drills: a backup restored with pgrecover's own restore into a throwaway instance, row
// counts and the policy's SQL checks verified. The backup runner calls it through
// executor::Driller, so the executor never reaches up into app/.
#pragma once

#include "config/settings.hpp"
#include "executor/backup_runner.hpp"

namespace pgr::app {

class RestoreDriller : public executor::Driller {
 public:
  explicit RestoreDriller(const config::Settings& settings) : settings_(settings) {}
  std::string restore_and_check(const config::BackupPolicy& policy, const repository::BackupInfo& backup,
                                std::atomic<bool>& cancel) override;

 private:
  const config::Settings& settings_;
};

}  // namespace pgr::app
