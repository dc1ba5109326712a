#include <nlohmann/json.hpp>

#include "pg/pg.hpp"
#include "planner/restore_planner.hpp"
#include "util/hash.hpp"

namespace pgr::planner {

std::string restore_fingerprint(const config::Restore& doc) {
  const auto& s = doc.spec;
  nlohmann::json j = {{"name", doc.metadata.name},
                      {"archive", s.archive},
                      {"repository", s.repository},
                      {"policy", s.policy},
                      {"backup", {static_cast<int>(s.backup.kind), s.backup.id, s.backup.before}},
                      {"to", {s.to.connection, pg::split_password(s.to.conninfo).conninfo}},
                      {"database", s.database},
                      {"create", s.create},
                      {"select", {s.select.schemas, s.select.tables, s.select.exclude_schemas, s.select.exclude_tables}},
                      {"existing", config::to_string(s.existing)},
                      {"roles", config::to_string(s.roles)},
                      {"post", {s.fix_sequences, s.analyze, s.verify_row_counts, s.verify_sql}},
                      {"settings", s.session_settings}};
  // Fields added later count only when set, so the plan ids of existing documents stay the same.
  if (s.sections.size() != 3) j["sections"] = s.sections;
  if (s.single_transaction) j["single_transaction"] = true;
  if (s.allow_dropping_dependents) j["allow_dropping_dependents"] = true;
  if (!s.sql_file.empty()) j["sql_file"] = s.sql_file;
  if (s.is_live()) {
    j["live"] = {s.live.source.connection, pg::split_password(s.live.source.conninfo).conninfo, s.live.database,
                 s.live.allow_mixed};
  }
  if (!s.before.name.empty()) j["before"] = {s.before.name, s.before.resolved_policy};
  if (s.tablespaces_default || !s.tablespace_map.empty()) j["tablespaces"] = {s.tablespaces_default, s.tablespace_map};
  if (!s.encoding.empty() || !s.locale.empty()) j["new_database"] = {s.encoding, s.locale};
  return sha256_hex(j.dump());
}

}  // namespace pgr::planner
