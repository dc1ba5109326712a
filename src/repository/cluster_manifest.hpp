// The databases of a whole-cluster logical backup, as its manifest lists them (manifest
// "extra": {"cluster": true, "databases": [...]}). Each database's archive lives in its own
// folder of the backup, databases/<NN>-<safe name>/, never named by the database name alone
// (names are not paths). Its files' sizes and SHA-256 are in the manifest's `files` like any other.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "repository/repository.hpp"

namespace pgr::repository {

struct ClusterDatabase {
  std::string name;                  // the database's name on the source
  std::string dir;                   // "databases/01-shop" (relative to the backup)
  std::string data;                  // the archive, relative to the backup: "databases/01-shop/data"
  std::string owner, encoding, collate, ctype;
  std::uint64_t bytes = 0;           // of its files
  std::vector<std::string> files;    // relative to the backup
  std::map<std::string, std::int64_t> row_counts;  // "schema.table" -> rows
  std::int64_t rows() const;
  bool operator==(const ClusterDatabase&) const = default;
};

bool is_cluster_backup(const Manifest& m);
// Throws Error(input) when an entry is malformed or names a path outside its folder.
std::vector<ClusterDatabase> cluster_databases(const Manifest& m);
void set_cluster_databases(Manifest& m, const std::vector<ClusterDatabase>& databases);
// "databases/07-a_b": the index keeps folders unique, the name part only [A-Za-z0-9_.-].
std::string cluster_database_dir(std::size_t index, const std::string& name);

}  // namespace pgr::repository
