// `pgrecover check`: is each BackupPolicy within its bounds? Pure: it judges the facts app/
// gathers (the repository's backups and WAL, the source's archiver, measured restore throughput),
// so every verdict is tested on fixtures. Like the planners it does no I/O of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "catalog/archiver.hpp"
#include "config/documents.hpp"
#include "model/health.hpp"
#include "repository/repository.hpp"

namespace pgr::planner {

struct HealthBackup {
  repository::BackupInfo backup;
  bool good = true;  // false: its last verification failed after it last passed
};

// What the source says about archiving (physical policies); absent when it could not be reached.
using ArchiverFacts = catalog::ArchiverStatus;

struct PolicyHealthFacts {
  const config::BackupPolicy* policy = nullptr;
  std::string repository;
  std::vector<HealthBackup> backups;  // complete backups of the policy, oldest first
  // physical: the newest archived segment of the policy's cluster and when it was stored
  std::string newest_wal;
  std::optional<double> newest_wal_epoch;
  std::optional<ArchiverFacts> archiver;
  std::string source_error;            // why the source could not be read (empty: it could)
  // measured restore throughput (bytes per second) and where it was measured
  std::optional<double> restore_bytes_per_second;
  std::string throughput_from;
  double now_epoch = 0;
};

model::PolicyHealth evaluate_policy(const PolicyHealthFacts& facts);

// "42s", "5m", "3h 20m", "2d 4h": an age as check prints it.
std::string span_text(double seconds);

}  // namespace pgr::planner
