#include "catalog/live_source.hpp"

#include <map>

namespace pgr::catalog {

std::vector<SourceTable> read_source_tables(pg::Connection& c) {
  auto r = c.exec(
      "SELECT c.oid::text, n.nspname, c.relname, pg_catalog.pg_relation_size(c.oid), "
      "pg_catalog.pg_total_relation_size(c.oid), c.reltuples::bigint "
      "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
      "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' "
      "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass "
      "AND d.objid = c.oid AND d.deptype = 'e') "
      "ORDER BY n.nspname, c.relname");
  std::vector<SourceTable> out;
  std::map<std::string, size_t> by_oid;
  for (int i = 0; i < r.rows(); ++i) {
    SourceTable t;
    t.oid = r.str(i, 0);
    t.schema = r.str(i, 1);
    t.name = r.str(i, 2);
    t.bytes = r.int64(i, 3);
    t.total_bytes = r.int64(i, 4);
    t.estimated_rows = r.int64(i, 5);
    by_oid[t.oid] = out.size();
    out.push_back(std::move(t));
  }
  auto cols = c.exec(
      "SELECT a.attrelid::text, a.attname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
      "WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
      "ORDER BY a.attrelid, a.attnum");
  for (int i = 0; i < cols.rows(); ++i) {
    auto it = by_oid.find(cols.str(i, 0));
    if (it != by_oid.end()) out[it->second].columns.push_back(cols.str(i, 1));
  }
  return out;
}

std::string system_identifier(pg::Connection& c) {
  // Asked only when allowed (pg_control_system is for superusers and pg_monitor by default).
  auto r = c.exec("SELECT CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE') "
                  "THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) ELSE '' END");
  return r.str(0, 0);
}

}  // namespace pgr::catalog
