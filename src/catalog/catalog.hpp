// What exists on a target server, read with libpq: roles, databases, and inside one database its
// schemas, relations (with row estimates and sizes), columns, indexes, constraints, triggers,
// policies, functions, types, sequences with values, extensions and large objects. The planner
// diffs an archive against this; the fingerprint tells apply whether the target changed since
// the plan was made.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "catalog/dependencies.hpp"
#include "pg/pg.hpp"

namespace pgr::catalog {

struct Role {
  std::string name;
  bool superuser = false, login = false;
  bool operator==(const Role&) const = default;
};

struct Relation {
  std::string schema, name;
  char relkind = 'r';          // r, p, v, m, S, f, i, I
  std::int64_t estimated_rows = -1;  // pg_class.reltuples (-1: never analyzed)
  std::int64_t bytes = 0;      // pg_total_relation_size
  bool has_rows = false;       // exact: at least one visible row (tables only)
  bool analyzed = false;       // last_analyze or last_autoanalyze set
  std::vector<std::string> columns;  // user columns in order (tables, views)
  std::vector<std::string> generated_columns;  // those of them that are GENERATED (never in COPY)
  bool operator==(const Relation&) const = default;
};

struct Sequence {
  std::string schema, name;
  std::int64_t last_value = 0;
  bool is_called = false;
  bool operator==(const Sequence&) const = default;
};

struct Cluster {
  int server_version = 0;
  std::map<std::string, Role> roles;
  std::set<std::string> databases;
  std::set<std::string> tablespaces;
  std::string system_identifier;
};

struct Database {
  std::string name;
  bool exists = false;
  std::set<std::string> schemas;
  std::map<std::string, Relation> relations;   // key: schema.name (unquoted, dot-joined)
  std::set<std::string> constraints;           // schema.table.conname
  std::set<std::string> triggers;              // schema.table.tgname
  std::set<std::string> policies;              // schema.table.polname
  std::set<std::string> rules;                 // schema.table.rulename
  std::set<std::string> functions;             // schema.name(argtypes) as pg_dump tags them
  std::set<std::string> types;                 // schema.name (types, domains, enums)
  std::set<std::string> extensions;
  std::map<std::string, Sequence> sequences;   // key: schema.name
  std::int64_t large_objects = 0;
  std::vector<ForeignKey> foreign_keys;        // between tables of the database
  std::set<std::string> default_acls;          // role|schema|objtype of ALTER DEFAULT PRIVILEGES ("" schema: all)
  // Does anything user-made live here (beyond an empty public schema)?
  bool empty() const;
};

Cluster read_cluster(pg::Connection& conn);
// Reads the database `name` through a connection to it; `exists` is set by the caller when the
// database is missing (then nothing is read).
Database read_database(pg::Connection& conn);

// sha256 of the parts of the target state a plan's actions depend on (object sets, row
// presence, sequence values); equal fingerprints mean the plan is still valid.
std::string fingerprint(const Cluster& cluster, const Database& db);
// The same, in parts ("roles", "database", "objects", "rows", "sequences"), so a stale plan can
// say what changed.
std::map<std::string, std::string> fingerprint_parts(const Cluster& cluster, const Database& db);
// Reads the cluster (through admin_conninfo) and `database` (through target_conninfo, when it
// exists) again and names the parts whose fingerprint differs from `recorded` (part -> hash);
// parts not recorded are not compared.
std::vector<std::string> changed_parts(const std::string& admin_conninfo, const std::string& target_conninfo,
                                       const std::string& database, const std::map<std::string, std::string>& recorded);

std::string key(const std::string& schema, const std::string& name);

}  // namespace pgr::catalog
