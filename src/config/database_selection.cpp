#include "config/database_selection.hpp"

#include <algorithm>
#include <set>

namespace pgr::config {

std::vector<DatabaseChoice> choose_databases(const BackupPolicySpec& spec, const std::vector<SourceDatabase>& source) {
  std::vector<SourceDatabase> dbs = source;
  std::sort(dbs.begin(), dbs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::set<std::string> listed(spec.databases.begin(), spec.databases.end());
  std::set<std::string> excluded(spec.exclude_databases.begin(), spec.exclude_databases.end());
  std::vector<DatabaseChoice> out;
  std::set<std::string> present;
  for (const auto& d : dbs) {
    present.insert(d.name);
    DatabaseChoice c{d.name, false, ""};
    if (!spec.all_databases && !listed.count(d.name)) continue;  // a list names what it wants, nothing else
    if (d.name == "template0") c.reason = "template0 is never dumped (as pg_dumpall)";
    else if (!d.allow_connections) c.reason = "does not accept connections (datallowconn false)";
    else if (excluded.count(d.name)) c.reason = "in exclude_databases";
    else c.dump = true;
    out.push_back(std::move(c));
  }
  for (const auto& n : spec.databases)
    if (!present.count(n)) out.push_back({n, false, "not on the source"});
  return out;
}

}  // namespace pgr::config
