// Which databases a whole-cluster logical backup (`databases: all` or a list) dumps, decided as
// pg_dumpall does: every database that accepts connections except template0; template1 and
// postgres are dumped unless excluded. Pure, so the plan and the backup decide the same way.
#pragma once

#include <string>
#include <vector>

#include "config/documents.hpp"

namespace pgr::config {

struct SourceDatabase {
  std::string name;
  bool allow_connections = true;  // pg_database.datallowconn
  bool operator==(const SourceDatabase&) const = default;
};

struct DatabaseChoice {
  std::string name;
  bool dump = false;
  std::string reason;  // why it is skipped (empty when dumped)
  bool operator==(const DatabaseChoice&) const = default;
};

// One choice per database of the source (sorted by name) and per listed name the source lacks
// (never dumped: "not on the source").
std::vector<DatabaseChoice> choose_databases(const BackupPolicySpec& spec, const std::vector<SourceDatabase>& source);

}  // namespace pgr::config
