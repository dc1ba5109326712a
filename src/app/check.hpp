// `pgrecover check [PATH...] [--json | --format prometheus]`: is every BackupPolicy within its
// bounds (backup age vs schedule, WAL at risk vs rpo, archive_timeout, the archiver, drills,
// estimated restore time vs rto)? Exit 0 all within, 5 a policy is out of bounds, 1 an error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "config/documents.hpp"
#include "model/health.hpp"

namespace pgr::app {

struct CheckOptions {
  std::string config_path;
  std::vector<std::string> paths;  // empty: the current folder
  std::string format = "text";     // text | json | prometheus
};

// Reads each policy's repository and source; never throws for an unreachable source (that is a
// finding), but does for documents, settings or a repository it cannot read.
model::HealthReport check_policies(const config::DocumentSet& docs, const config::Settings& settings);

int check_command(const CheckOptions& o, std::ostream& out);

}  // namespace pgr::app
