// The schema of a live restore source (spec.from.live): pg_dump in custom format with the rows of
// every table and the large objects left out (--exclude-table-data, one exact pattern per table;
// --no-blobs: the clone streams them), in the snapshot the data will be read in (--snapshot) when
// one is given. Sequence values (SEQUENCE SET) are not transactional: pg_dump reads them when it
// gets to them (just after the snapshot, never behind it).
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

namespace pgr::engine {

struct LiveSchemaDump {
  std::string conninfo;          // of the source database, with its password (never on argv)
  std::string database;          // for messages
  std::filesystem::path bin_dir; // where PostgreSQL's programs are ("" : found as usual)
  std::string snapshot;          // pg_export_snapshot() of the coordinating session; "" none
  // "schema"."table" of every table whose rows are streamed instead (unquoted pairs).
  std::vector<std::pair<std::string, std::string>> tables_without_data;
  const std::atomic<bool>* cancel = nullptr;
};

// An exact pg_dump pattern for one table: both parts double-quoted, inner quotes doubled (inside
// quotes pg_dump takes every character literally, wildcards too).
std::string exact_table_pattern(const std::string& schema, const std::string& table);

// Runs pg_dump into `out` (0600), its session read-only (PGOPTIONS=-c
// default_transaction_read_only=on, besides pg_dump's own read-only transaction). Throws Error(database) with pg_dump's message on failure.
void dump_live_schema(const LiveSchemaDump& req, const std::filesystem::path& out);

}  // namespace pgr::engine
