// Reading a live restore source (spec.from.live) in one snapshot:
//   - SourceSnapshot is the coordinating session: BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
//     SELECT pg_export_snapshot(), held open for the whole apply (the snapshot dies with it);
//   - SnapshotRows streams a table's rows: each call opens its own session, BEGIN ISOLATION LEVEL
//     REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '<id>'; COPY (SELECT cols FROM ONLY t)
//     TO STDOUT (a big table split by the plan: one such COPY per range of heap pages, by ctid),
//     which the restore runner pipes into COPY ... FROM STDIN on the target, 1 MiB at a time
//     (bounded memory, no file in between); large objects likewise, 1 MiB at a time, each
//     with its owner, privileges and comment (pg_largeobject_metadata in the same snapshot).
// Every source session is read-only (default_transaction_read_only, read-only transactions): a
// clone never writes to its source.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "archive/live.hpp"
#include "pg/pg.hpp"

namespace pgr::executor {

// The COPY that reads the rows of `table` in heap pages [first, end) (end < 0: to the end; 0 and
// -1: the whole table, no WHERE), identifiers quoted.
std::string page_range_copy(const archive::LiveTable& table, std::int64_t first, std::int64_t end);

// Opens a session on the source that can only read (pg::open_read_only): every session of a
// clone on its source is opened here or by SnapshotRows::session.
pg::Connection open_source_session(const std::string& conninfo, const std::string& application_name);

// The statements that give large object `oid`, just written on the target, the owner,
// privileges and comment it has on the source: ALTER LARGE OBJECT ... OWNER TO; when its ACL is
// set, REVOKE ALL from PUBLIC and the owner and then every grant in the source's order (a grant
// made by another role than the owner under SET ROLE to that role); COMMENT ON LARGE OBJECT.
// Without roles (roles: no-owner), only the comment. Identifiers quoted, the comment a literal.
std::vector<std::string> large_object_metadata_sql(std::uint32_t oid, const archive::LargeObjectMeta& meta, bool with_roles);

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
  // A new session on the source in a read-only REPEATABLE READ transaction in the snapshot: the
  // one every read of rows and large objects goes through.
  pg::Connection session() const;
  std::unique_ptr<archive::RowReader> open(const archive::LiveTable& table) const override;
  // COPY (SELECT cols FROM ONLY t WHERE ctid >= '(first,0)' AND ctid < '(end,0)') TO STDOUT: a
  // TID range scan (PostgreSQL 14 and later) of those pages only, in the snapshot.
  std::unique_ptr<archive::RowReader> open_pages(const archive::LiveTable& table, std::int64_t first,
                                                 std::int64_t end) const override;
  // In one session in the snapshot: the oids of pg_largeobject_metadata with their owners, ACLs
  // and comments, then each one's contents with lo_get, 1 MiB at a time.
  void for_each_blob(const std::function<void(std::uint32_t oid, archive::BlobStream& data)>& fn) const override;

 private:
  std::string conninfo_, snapshot_, app_;
};

}  // namespace pgr::executor
