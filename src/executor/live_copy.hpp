// Reading a live restore source (spec.from.live) in one snapshot:
//   - SourceSnapshot is the coordinating session: BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
//     SELECT pg_export_snapshot(), held open for the whole apply (the snapshot dies with it);
//   - SnapshotRows streams a table's rows: each call opens its own session, BEGIN ISOLATION LEVEL
//     REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '<id>'; COPY (SELECT cols FROM ONLY t)
//     TO STDOUT, which the restore runner pipes into COPY ... FROM STDIN on the target, 1 MiB at
//     a time (bounded memory, no file in between); large objects likewise, 1 MiB at a time.
// Every source session is read-only (default_transaction_read_only, read-only transactions): a
// clone never writes to its source.
#pragma once

#include <memory>
#include <string>

#include "archive/live.hpp"
#include "pg/pg.hpp"

namespace pgr::executor {

// Opens a session on the source that can only read: default_transaction_read_only = on before
// anything else, and the source's encoding as client encoding (what pg_dump writes).
pg::Connection open_source_session(const std::string& conninfo, const std::string& application_name);

class SourceSnapshot {
 public:
  // Throws pg::DbError when the source cannot export a snapshot (e.g. max_connections reached).
  // Test hook (tests only, docs/development.md): PGRECOVER_TEST_LIVE_PAUSE=DIR creates
  // DIR/snapshot once the snapshot is exported, then waits (up to 60 s) for DIR/go.
  static SourceSnapshot open(const std::string& conninfo, const std::string& application_name);
  const std::string& id() const { return id_; }
  pg::Connection& session() { return conn_; }

 private:
  SourceSnapshot(pg::Connection c, std::string id) : conn_(std::move(c)), id_(std::move(id)) {}
  pg::Connection conn_;
  std::string id_;
};

class SnapshotRows : public archive::LiveData {
 public:
  // snapshot empty: each read sees the source as it is (planning: the counts it compares).
  SnapshotRows(std::string conninfo, std::string snapshot, std::string application_name)
      : conninfo_(std::move(conninfo)), snapshot_(std::move(snapshot)), app_(std::move(application_name)) {}
  std::unique_ptr<archive::RowReader> open(const archive::LiveTable& table) const override;
  // In one session in the snapshot: the oids of pg_largeobject_metadata, then each one's contents
  // with lo_get, 1 MiB at a time.
  void for_each_blob(const std::function<void(std::uint32_t oid, archive::BlobStream& data)>& fn) const override;

 private:
  std::string conninfo_, snapshot_, app_;
};

}  // namespace pgr::executor
