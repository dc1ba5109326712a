// A Restore's live source (spec.from.live): the running database a clone reads from, as a
// document names it and as a plan records it (never with a password), and its tables as the
// live archive (archive/live.hpp) sees them.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "archive/live.hpp"
#include "catalog/live_source.hpp"
#include "config/documents.hpp"
#include "config/settings.hpp"
#include "model/plan.hpp"
#include "pg/pg.hpp"
#include "sources/restore_source.hpp"

namespace pgr::sources {

struct LiveSource {
  std::string conninfo;       // of the source database, with its password: never printed
  config::ConnectionRef ref;  // as the document says (conninfo without a password)
  std::string database;
  bool allow_mixed = false;
  std::string display() const;
};

LiveSource live_source(const config::ConnectionRef& ref, const std::string& database, bool allow_mixed,
                       const config::Settings& settings);
// Records where the source is in the plan's params; is_live_plan tells a live plan apart.
void record_live_source(const LiveSource& src, model::Plan& plan);
bool is_live_plan(const model::Plan& plan);
// The source as a plan recorded it; throws Error(input) for a connection not in the settings.
LiveSource live_source_of(const model::Plan& plan, const config::Settings& settings);

// The source server's globals as a restore source carries a backup's (role definitions with
// their attributes, settings and memberships; tablespaces), read like a backup takes them
// (engine::capture_globals) through `source`, a read-only session: password hashes only when the
// source role may read pg_authid, and never into a plan (role_passwords reads them at apply).
RestoreSource live_globals(pg::Connection& source, const std::string& database);

// The tables as the live archive reads them. With binary_copy, a table whose column types allow
// it (SourceTable::binary_io) is read and loaded in COPY's binary format.
std::vector<archive::LiveTable> live_tables(const std::vector<catalog::SourceTable>& tables, bool binary_copy);
// Whether rows may travel in COPY's binary format between these two servers: the same major
// version (binary forms of built-in types are only promised within one), and a source of 14 or
// later (the split loader then reads by page ranges, each range a complete binary COPY).
bool binary_copy_allowed(const pg::Connection& source, const pg::Connection& target);
std::vector<std::pair<std::string, std::string>> table_names(const std::vector<catalog::SourceTable>& tables);

}  // namespace pgr::sources
