// Exact row counts of a logical backup taken in the dump's own snapshot while pg_dump runs.
//
// A session opens a REPEATABLE READ, READ ONLY transaction and exports its snapshot; pg_dump is
// started with --snapshot=<that id>, so it reads exactly the rows this transaction sees, and the
// session counts the selected tables (SELECT count(*) FROM ONLY t) meanwhile. The counts then are
// the dump's rows, whatever is written to the source during the backup, and they cost no time
// after pg_dump has finished. A table the session could not count (an extension's configuration
// table, whose dump is filtered; a table it may not read) is counted from the archive afterwards.
//
// Two things would break the equality, and neither is allowed to: counting starts only once
// pg_dump has locked every table it dumps (it writes its archive after that), so the session's
// locks never make pg_dump wait behind a lock request that waits for the session; and a table
// rewritten since the snapshot (TRUNCATE, VACUUM FULL, a rewriting ALTER TABLE: not MVCC-safe,
// they give the table a new file) is not taken from the count but read from the archive.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "config/documents.hpp"
#include "pg/pg.hpp"
#include "util/progress.hpp"

namespace pgr::engine {

class SnapshotCounts {
 public:
  // Begins the transaction on `conn` and exports its snapshot; nullopt (logged) when the server
  // cannot export one: the counts are then read from the archive as before. `conn` must stay
  // open and unused by others until finish().
  static std::optional<SnapshotCounts> begin(pg::Connection& conn);

  const std::string& snapshot() const { return snapshot_; }

  // Waits until `dump_began` says pg_dump has taken its locks, then counts every table the
  // selection may dump, largest first, in the snapshot; stops early when `stop` is set (a table
  // being counted is cancelled). Never throws: a table that fails is left out and counted from
  // the archive later. Called on one thread while pg_dump runs.
  void count(const config::BackupPolicySpec& spec, const std::function<bool()>& dump_began, const std::atomic<bool>& stop,
             ProgressCounters* progress);

  // Runs `work` (queries on the same connection) inside a savepoint: when it throws, the
  // transaction is rolled back to the savepoint, so the snapshot pg_dump imports stays valid.
  void guarded(const std::function<void()>& work);

  // Asks the server to cancel the count in progress (from another thread).
  void cancel() const { conn_->cancel(); }

  // Ends the transaction (the snapshot with it): call once pg_dump has finished.
  void finish();

  // "schema.table" → rows, for the tables counted.
  const std::map<std::string, std::int64_t>& counts() const { return counts_; }

 private:
  explicit SnapshotCounts(pg::Connection& conn, std::string snapshot) : conn_(&conn), snapshot_(std::move(snapshot)) {}
  pg::Connection* conn_;
  std::string snapshot_;
  std::map<std::string, std::int64_t> counts_;
};

}  // namespace pgr::engine
