// What a live restore source (spec.from.live) holds that pg_dump --schema-only does not say:
// the tables whose rows a clone copies (with the columns COPY reads, generated ones left out, as
// pg_dump does), their sizes, and who the server is (to refuse cloning a database onto itself).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "pg/pg.hpp"

namespace pgr::catalog {

struct SourceTable {
  std::string oid;               // pg_class oid, as the TOC records it
  std::string schema, name;
  std::vector<std::string> columns;  // in attnum order; stored generated columns excluded
  std::int64_t bytes = 0;        // pg_relation_size of the heap (what COPY reads)
  std::int64_t pages = 0;        // its pages (bytes / block_size)
  std::int64_t total_bytes = 0;  // pg_total_relation_size (with indexes and TOAST)
  std::int64_t estimated_rows = -1;
  // Every column's type is a built-in one whose binary form means the same on any server of the
  // same major version (read_source_tables says which): its rows can travel in COPY's binary format.
  bool binary_io = false;
  bool operator==(const SourceTable&) const = default;
};

// Ordinary and unlogged tables (relkind r) outside the system schemas and not owned by an
// extension: the tables pg_dump writes a TABLE DATA entry for. Partitioned parents (p) hold no
// rows of their own; foreign tables are not read (as pg_dump without --include-foreign-data).
std::vector<SourceTable> read_source_tables(pg::Connection& c);

// Every role a large object of the source names: owners, grantees and grantors of their ACLs
// (the clone gives each large object its owner and privileges, so these roles must exist).
std::set<std::string> large_object_roles(pg::Connection& c);

// Whether the source holds any large object, as `c`'s snapshot sees it: the live archive gets a
// BLOBS entry only then (a target without large objects then plans no change for them).
bool has_large_objects(pg::Connection& c);

// pg_control_system().system_identifier, or "" when the role may not call it.
std::string system_identifier(pg::Connection& c);

// A clone onto its own source would empty the tables it reads: throws Error(input) when the
// target database is the source database on the same server (the same system identifier; where
// the role may not read it, the same server address, port and cluster name).
void refuse_clone_onto_source(pg::Connection& source, pg::Connection& target_admin, const std::string& source_database,
                              const std::string& target_database);

}  // namespace pgr::catalog
