#include "engine/access_check.hpp"

#include <set>

#include <fmt/format.h>

#include "config/selection.hpp"

namespace pgr::engine {

std::vector<std::string> unreadable_selected(pg::Connection& conn, const config::BackupPolicySpec& spec) {
  auto rows = conn.exec(
      "SELECT n.nspname, c.relname, c.relkind = 'S', "
      "pg_catalog.has_schema_privilege(n.oid, 'USAGE'), pg_catalog.has_table_privilege(c.oid, 'SELECT'), "
      "current_user "
      "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind IN ('r', 'p', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
      "AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp' "
      "ORDER BY 1, 2");
  std::vector<std::string> out;
  std::set<std::string> schemas_said;
  size_t more = 0;
  for (int i = 0; i < rows.rows(); ++i) {
    std::string schema = rows.str(i, 0), name = rows.str(i, 1), role = rows.str(i, 5);
    if (!config::selects_table(spec.select, schema, name)) continue;
    std::string qualified = pg::qualified(schema, name);
    bool no_usage = !rows.boolean(i, 3), no_select = !rows.boolean(i, 4);
    if (!no_usage && !no_select) continue;
    if (no_usage && schemas_said.count(schema)) continue;
    if (out.size() >= 20) {
      ++more;
      continue;
    }
    if (no_usage) {
      schemas_said.insert(schema);
      out.push_back(fmt::format("the backup role \"{}\" may not use schema \"{}\", so pg_dump cannot read {}: "
                                "GRANT USAGE ON SCHEMA {} TO {}, or leave it out with select.exclude_schemas",
                                role, schema, qualified, pg::quote_ident(schema), pg::quote_ident(role)));
    } else {
      out.push_back(fmt::format("the backup role \"{}\" may not read {} {}: the backup will fail at apply; "
                                "GRANT SELECT ON {} TO {}, or GRANT pg_read_all_data TO {}, or leave it out with "
                                "select.exclude_tables",
                                role, rows.boolean(i, 2) ? "sequence" : "table", qualified, qualified,
                                pg::quote_ident(role), pg::quote_ident(role)));
    }
  }
  if (more) out.push_back(fmt::format("... and {} more objects the backup role may not read", more));
  return out;
}

}  // namespace pgr::engine
