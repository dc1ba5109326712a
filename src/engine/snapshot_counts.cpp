#include "engine/snapshot_counts.hpp"

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "config/selection.hpp"
#include "util/log.hpp"

namespace pgr::engine {

std::optional<SnapshotCounts> SnapshotCounts::begin(pg::Connection& conn) {
  try {
    // One round trip: this runs before pg_dump starts. Counting is background work beside
    // pg_dump: one core at most, and no timeout of the role's.
    std::string id = conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
                               "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL statement_timeout = 0; "
                               "SET LOCAL lock_timeout = 0; SELECT pg_catalog.pg_export_snapshot()")
                         .str(0, 0);
    return SnapshotCounts(conn, std::move(id));
  } catch (const pg::DbError& e) {
    log::info("the source cannot export a snapshot ({}): row counts are read from the archive after pg_dump", e.primary());
    try {
      conn.exec("ROLLBACK");
    } catch (const Error&) {
    }
    return std::nullopt;
  }
}

void SnapshotCounts::count(const config::BackupPolicySpec& spec, const std::function<bool()>& dump_began,
                           const std::atomic<bool>& stop, ProgressCounters* progress) {
  while (!stop && !dump_began()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (stop) return;
  try {
    // Whatever fails while counting is rolled back to here: the transaction, and with it the
    // snapshot, stays alive (an error at top level would end its xmin).
    conn_->exec("SAVEPOINT pgrecover_counts");
    // The tables whose data pg_dump dumps as it is: ordinary tables, not temporary, not an
    // extension's (a configuration table's dump may be filtered), readable without row security
    // (pg_dump turns it off and fails on such a table rather than dump part of it).
    auto tables = conn_->exec(
        "SELECT n.nspname, c.relname, c.oid FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND NOT c.relrowsecurity "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp' "
        "AND pg_catalog.has_table_privilege(c.oid, 'SELECT') "
        "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
        "AND d.objid = c.oid AND d.deptype = 'e') "
        "ORDER BY c.relpages DESC, 1, 2");
    for (int i = 0; i < tables.rows() && !stop; ++i) {
      std::string schema = tables.str(i, 0), name = tables.str(i, 1);
      if (!config::selects_table(spec.select, schema, name)) continue;
      // ONLY: pg_dump copies an inheritance parent's own rows, not its children's. The table is
      // locked from parsing on: its file now is the one pg_dump reads (pg_dump holds its lock).
      auto r = conn_->exec(fmt::format("SELECT count(*), (SELECT c.relfilenode = pg_catalog.pg_relation_filenode(c.oid) "
                                       "FROM pg_catalog.pg_class c WHERE c.oid = {}) FROM ONLY {}",
                                       tables.str(i, 2), pg::qualified(schema, name)));
      if (!r.boolean(0, 1)) {
        log::info("table {} was rewritten since the backup's snapshot: its rows are counted in the archive",
                  pg::qualified(schema, name));
        continue;
      }
      auto n = r.int64(0, 0);
      counts_[schema + "." + name] = n;
      if (progress) progress->rows += n;
    }
  } catch (const Error& e) {
    if (!stop) log::debug("counting rows in the dump's snapshot stopped: {}; the rest are read from the archive", e.what());
    try {
      conn_->exec("ROLLBACK TO SAVEPOINT pgrecover_counts");
    } catch (const Error&) {
    }
  }
}

void SnapshotCounts::guarded(const std::function<void()>& work) {
  conn_->exec("SAVEPOINT pgrecover_guard");
  try {
    work();
  } catch (...) {
    try {
      conn_->exec("ROLLBACK TO SAVEPOINT pgrecover_guard");
    } catch (const Error&) {
    }
    throw;
  }
  conn_->exec("RELEASE SAVEPOINT pgrecover_guard");
}

void SnapshotCounts::finish() {
  try {
    conn_->exec("COMMIT");
  } catch (const Error& e) {
    log::debug("ending the counting transaction: {}", e.what());
  }
}

}  // namespace pgr::engine
