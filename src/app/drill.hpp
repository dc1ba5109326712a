// Restore drills. A logical backup is restored with pgrecover's own restore into a throwaway
// instance, row counts and the policy's SQL checks verified (drill.cpp). A physical backup is
// recovered to consistency with pgrecover's own PointInTimeRecovery into a throwaway data
// directory, the SQL checks and pg_amcheck run there (physical_drill.cpp). The backup runner
// calls it through executor::Driller, so the executor never reaches up into app/.
#pragma once

#include "config/settings.hpp"
#include "executor/backup_runner.hpp"

namespace pgr::app {

class RestoreDriller : public executor::Driller {
 public:
  explicit RestoreDriller(const config::Settings& settings) : settings_(settings) {}
  executor::DrillResult restore_and_check(const config::BackupPolicy& policy, const repository::BackupInfo& backup,
                                          std::atomic<bool>& cancel) override;

 private:
  executor::DrillResult logical_drill(const config::BackupPolicy& policy, const repository::BackupInfo& backup,
                                      std::atomic<bool>& cancel);
  executor::DrillResult physical_drill(const config::BackupPolicy& policy, const repository::BackupInfo& backup,
                                       std::atomic<bool>& cancel);

  const config::Settings& settings_;
};

}  // namespace pgr::app
