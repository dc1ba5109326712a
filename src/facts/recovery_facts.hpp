// What the PITR planner is told: the physical backups (from the first copy of the policy that
// holds one), the WAL archive's view, the restore points, and this host's side (the data
// directory, the tablespace folders, who runs restore_command). Reads only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "config/documents.hpp"
#include "config/settings.hpp"
#include "planner/pitr_planner.hpp"
#include "repository/repository.hpp"
#include "repository/wal_view.hpp"

namespace pgr::facts {

// Owns what `facts` points to, so it is neither copied nor moved.
struct RecoveryFacts {
  config::PointInTimeRecovery document;  // as planned: reading from the chosen copy first
  std::optional<repository::Repository> repository;
  std::unique_ptr<repository::StoredWalArchives> wal;
  planner::PitrFacts facts;

  RecoveryFacts() = default;
  RecoveryFacts(const RecoveryFacts&) = delete;
  RecoveryFacts& operator=(const RecoveryFacts&) = delete;
};

// Everything but what depends on the chosen backup. `only_backup`: that backup id ("" any).
std::unique_ptr<RecoveryFacts> gather_recovery_facts(const config::PointInTimeRecovery& doc,
                                                     const config::Settings& settings, const std::string& only_backup);

// In-place recovery: the segments of the data directory's pg_wal that the archive of the chosen
// backup's WAL cluster lacks (planner::PitrFacts::unarchived_wal).
void add_unarchived_wal(RecoveryFacts& r, std::size_t chosen);

// Throws Error(input) when a PostgreSQL server runs in `data_directory` (read from postmaster.pid).
void refuse_running_server(const std::filesystem::path& data_directory, const std::string& who);

}  // namespace pgr::facts
