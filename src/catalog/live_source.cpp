#include "catalog/live_source.hpp"

#include <map>

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::catalog {

std::vector<SourceTable> read_source_tables(pg::Connection& c) {
  auto r = c.exec(
      "SELECT c.oid::text, n.nspname, c.relname, pg_catalog.pg_relation_size(c.oid), "
      "pg_catalog.pg_total_relation_size(c.oid), c.reltuples::bigint, "
      "pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::bigint "
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
    t.pages = r.int64(i, 6);
    by_oid[t.oid] = out.size();
    out.push_back(std::move(t));
  }
  // Binary COPY is safe for a column whose type is built in (oid below FirstNormalObjectId, so
  // the same on every server of one major version), a base, range or multirange type with binary
  // I/O, and not a reg* type (whose binary form is an oid, meaningless on another server); an
  // array's element type must be such a type too (array_send writes its oid).
  auto cols = c.exec(
      "SELECT a.attrelid::text, a.attname, "
      "t.oid < 16384 AND t.typtype IN ('b', 'r', 'm') AND t.typsend <> 0 AND t.typreceive <> 0 "
      "AND t.typname !~ '^_?reg' AND (t.typelem = 0 OR (e.oid < 16384 AND e.typsend <> 0 AND e.typreceive <> 0 "
      "AND e.typname !~ '^reg')) "
      "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
      "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem "
      "WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
      "ORDER BY a.attrelid, a.attnum");
  std::vector<bool> binary(out.size(), true);
  for (int i = 0; i < cols.rows(); ++i) {
    auto it = by_oid.find(cols.str(i, 0));
    if (it == by_oid.end()) continue;
    out[it->second].columns.push_back(cols.str(i, 1));
    if (!cols.boolean(i, 2)) binary[it->second] = false;
  }
  for (size_t k = 0; k < out.size(); ++k) out[k].binary_io = binary[k] && !out[k].columns.empty();
  return out;
}

std::set<std::string> large_object_roles(pg::Connection& c) {
  auto r = c.exec(
      "SELECT pg_catalog.pg_get_userbyid(lomowner) FROM pg_catalog.pg_largeobject_metadata "
      "UNION SELECT pg_catalog.pg_get_userbyid(a.grantee) FROM pg_catalog.pg_largeobject_metadata m, "
      "pg_catalog.aclexplode(m.lomacl) a WHERE a.grantee <> 0 "
      "UNION SELECT pg_catalog.pg_get_userbyid(a.grantor) FROM pg_catalog.pg_largeobject_metadata m, "
      "pg_catalog.aclexplode(m.lomacl) a");
  std::set<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.insert(r.str(i, 0));
  return out;
}

bool has_large_objects(pg::Connection& c) {
  return c.exec("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata)").boolean(0, 0);
}

std::string system_identifier(pg::Connection& c) {
  // Asked only when allowed (pg_control_system is for superusers and pg_monitor by default).
  auto r = c.exec("SELECT CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE') "
                  "THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) ELSE '' END");
  return r.str(0, 0);
}

void refuse_clone_onto_source(pg::Connection& source, pg::Connection& target_admin, const std::string& source_database,
                              const std::string& target_database) {
  if (source_database != target_database) return;
  auto sys_s = system_identifier(source);
  auto sys_t = system_identifier(target_admin);
  bool same;
  if (!sys_s.empty() && !sys_t.empty()) {
    same = sys_s == sys_t;
  } else {
    const char* q = "SELECT coalesce(pg_catalog.inet_server_addr()::text, '') || ':' || "
                    "pg_catalog.current_setting('port') || ':' || pg_catalog.current_setting('cluster_name')";
    same = source.exec(q).str(0, 0) == target_admin.exec(q).str(0, 0);
  }
  if (same) {
    fail(ErrorKind::input,
         fmt::format("the target database \"{}\" is the live source itself (same server{}): a clone onto its source "
                     "would empty the tables it reads",
                     target_database, sys_s.empty() ? "" : ", system identifier " + sys_s),
         "restore into another database (spec.to.database) or onto another server; nothing was changed");
  }
}

}  // namespace pgr::catalog
