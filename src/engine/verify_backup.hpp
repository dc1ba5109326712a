// `pgrecover backups verify`: a backup's files checked against its manifest (sizes and
// SHA-256), then each logical archive read end to end with its rows compared with the manifest's
// counts; the outcome recorded in the backup's verification record.
#pragma once

#include <cstdint>
#include <vector>

#include "repository/repository.hpp"

namespace pgr::engine {

struct BackupCheck {
  repository::Manifest manifest;
  std::vector<repository::VerifyProblem> problems;  // empty: intact
  std::int64_t rows = 0;                            // rows read from the archives
};

// Records checked_at (intact) or last_failure (damaged) in the repository; a failure to record
// is logged, not thrown: the check itself stands.
BackupCheck verify_backup(const repository::Repository& repo, const repository::BackupInfo& b);

}  // namespace pgr::engine
