#include "executor/live_copy.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "pg/read_only.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"


namespace pgr::executor {

namespace {

// Every transaction reading rows: COPY writes what pg_dump would (dates in ISO, floats exactly,
// reg* values schema-qualified as with pg_dump's empty search_path, which the target's load
// sessions have too), and rows hidden by row-level security are an error rather than silently
// left out.
constexpr const char* kReadSettings =
    "SET LOCAL DateStyle = ISO; SET LOCAL IntervalStyle = postgres; SET LOCAL extra_float_digits = 3; "
    "SET LOCAL row_security = off; SET LOCAL search_path = ''";

// The rows of one table, read through COPY TO STDOUT in the session it owns.
class SourceRows : public archive::RowReader {
 public:
  SourceRows(std::unique_ptr<pg::Connection> c, const std::string& sql)
      : conn_(std::move(c)), out_(conn_->copy_out(sql)) {}

  bool next_row(std::string& row) override {
    if (pos_ < pending_.size()) {  // after a read() that stopped inside a row: not mixed by callers
      row = pending_.substr(pos_);
      pending_.clear();
      pos_ = 0;
      return true;
    }
    if (!out_.next(row)) return finish();
    return true;
  }

  size_t read(char* buf, size_t cap) override {
    size_t n = 0;
    while (n < cap) {
      if (pos_ == pending_.size()) {
        pending_.clear();
        pos_ = 0;
        if (ended_ || !out_.next(pending_)) {
          finish();
          break;
        }
      }
      size_t take = std::min(cap - n, pending_.size() - pos_);
      std::memcpy(buf + n, pending_.data() + pos_, take);
      n += take;
      pos_ += take;
    }
    return n;
  }

  std::int64_t rows_sent() const override { return out_.rows(); }

 private:
  bool finish() {
    if (!ended_) {
      ended_ = true;
      conn_->exec("COMMIT");  // a read-only transaction: ends it, nothing written
    }
    return false;
  }

  std::unique_ptr<pg::Connection> conn_;
  pg::CopyOut out_;
  std::string pending_;
  size_t pos_ = 0;
  bool ended_ = false;
};

// One large object, read with lo_get in slices (the session's transaction holds the snapshot).
class SourceBlob : public archive::BlobStream {
 public:
  SourceBlob(pg::Connection& c, std::string oid, archive::LargeObjectMeta meta)
      : c_(c), oid_(std::move(oid)), meta_(std::move(meta)) {}
  const archive::LargeObjectMeta* meta() const override { return &meta_; }
  size_t read(char* buf, size_t cap) override {
    size_t n = 0;
    while (n < cap) {
      if (pos_ == slice_.size()) {
        if (ended_ || !next_slice()) break;
      }
      size_t take = std::min(cap - n, slice_.size() - pos_);
      std::memcpy(buf + n, slice_.data() + pos_, take);
      n += take;
      pos_ += take;
    }
    return n;
  }

 private:
  static constexpr std::int64_t kSlice = 1 << 20;
  bool next_slice() {
    auto r = c_.exec("SELECT encode(pg_catalog.lo_get($1::oid, $2::bigint, $3::int), 'hex')",
                     {oid_, std::to_string(offset_), std::to_string(kSlice)});
    std::string_view hex = r.get(0, 0);
    slice_.resize(hex.size() / 2);
    auto nibble = [](char ch) { return ch <= '9' ? ch - '0' : ch - 'a' + 10; };
    for (size_t i = 0; i < slice_.size(); ++i) slice_[i] = static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
    pos_ = 0;
    offset_ += static_cast<std::int64_t>(slice_.size());
    if (static_cast<std::int64_t>(slice_.size()) < kSlice) ended_ = true;
    return !slice_.empty();
  }
  pg::Connection& c_;
  std::string oid_;
  archive::LargeObjectMeta meta_;
  std::string slice_;
  size_t pos_ = 0;
  std::int64_t offset_ = 0;
  bool ended_ = false;
};

}  // namespace

std::vector<std::string> large_object_metadata_sql(std::uint32_t oid, const archive::LargeObjectMeta& meta, bool with_roles) {
  std::vector<std::string> out;
  if (with_roles && !meta.owner.empty()) {
    out.push_back(fmt::format("ALTER LARGE OBJECT {} OWNER TO {}", oid, pg::quote_ident(meta.owner)));
    if (meta.acl_set) {
      out.push_back(fmt::format("REVOKE ALL ON LARGE OBJECT {} FROM PUBLIC", oid));
      out.push_back(fmt::format("REVOKE ALL ON LARGE OBJECT {} FROM {}", oid, pg::quote_ident(meta.owner)));
      for (const auto& g : meta.grants) {
        if (g.privilege != "SELECT" && g.privilege != "UPDATE") {
          fail(ErrorKind::database, fmt::format("large object {}: unknown privilege \"{}\" in its ACL", oid, g.privilege));
        }
        std::string grant = fmt::format("GRANT {} ON LARGE OBJECT {} TO {}{}", g.privilege, oid,
                                        g.grantee.empty() ? "PUBLIC" : pg::quote_ident(g.grantee),
                                        g.grantable ? " WITH GRANT OPTION" : "");
        // A superuser's GRANT is recorded as made by the owner; another grantor grants itself.
        bool as_other = !g.grantor.empty() && g.grantor != meta.owner;
        if (as_other) out.push_back("SET ROLE " + pg::quote_ident(g.grantor));
        out.push_back(std::move(grant));
        if (as_other) out.push_back("RESET ROLE");
      }
    }
  }
  if (meta.comment) out.push_back(fmt::format("COMMENT ON LARGE OBJECT {} IS {}", oid, pg::quote_literal(*meta.comment)));
  return out;
}

pg::Connection open_source_session(const std::string& conninfo, const std::string& application_name) {
  return pg::open_read_only(conninfo, application_name);
}

SourceSnapshot SourceSnapshot::open(const std::string& conninfo, const std::string& application_name) {
  auto c = open_source_session(conninfo, application_name);
  c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  std::string id = c.exec("SELECT pg_catalog.pg_export_snapshot()").str(0, 0);
  // Test hook (tests only, docs/development.md): hold here so a test writes to the source.
  if (const char* dir = std::getenv("PGRECOVER_TEST_LIVE_PAUSE"); dir && *dir) {
    std::filesystem::path d(dir);
    write_file_atomic(d / "snapshot", "taken\n");
    for (int i = 0; i < 600 && !std::filesystem::exists(d / "go"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return SourceSnapshot(std::move(c), std::move(id));
}

pg::Connection SnapshotRows::session() const {
  auto c = open_source_session(conninfo_, app_);
  c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!snapshot_.empty()) c.exec(fmt::format("SET TRANSACTION SNAPSHOT {}", pg::quote_literal(snapshot_)));
  return c;
}

void SnapshotRows::for_each_blob(const std::function<void(std::uint32_t, archive::BlobStream&)>& fn) const {
  auto c = session();
  auto oids = c.exec(
      "SELECT oid::text, pg_catalog.pg_get_userbyid(lomowner), lomacl IS NOT NULL, "
      "pg_catalog.obj_description(oid, 'pg_largeobject') FROM pg_catalog.pg_largeobject_metadata ORDER BY oid");
  for (int i = 0; i < oids.rows(); ++i) {
    archive::LargeObjectMeta meta;
    meta.owner = oids.str(i, 1);
    meta.acl_set = oids.boolean(i, 2);
    if (!oids.is_null(i, 3)) meta.comment = oids.str(i, 3);
    if (meta.acl_set) {
      auto g = c.exec(
          "SELECT pg_catalog.pg_get_userbyid(a.grantor), CASE WHEN a.grantee = 0 THEN '' "
          "ELSE pg_catalog.pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable "
          "FROM pg_catalog.pg_largeobject_metadata m, pg_catalog.aclexplode(m.lomacl) WITH ORDINALITY a "
          "WHERE m.oid = $1::oid ORDER BY a.ordinality",
          {oids.str(i, 0)});
      for (int j = 0; j < g.rows(); ++j) meta.grants.push_back({g.str(j, 0), g.str(j, 1), g.str(j, 2), g.boolean(j, 3)});
    }
    SourceBlob blob(c, oids.str(i, 0), std::move(meta));
    fn(static_cast<std::uint32_t>(std::stoul(oids.str(i, 0))), blob);
  }
  c.exec("COMMIT");
}

std::unique_ptr<archive::RowReader> SnapshotRows::open(const archive::LiveTable& t) const {
  return open_pages(t, 0, -1);
}

std::string page_range_copy(const archive::LiveTable& t, std::int64_t first, std::int64_t end) {
  std::string cols;
  for (const auto& col : t.columns) cols += (cols.empty() ? "" : ", ") + pg::quote_ident(col);
  std::string sql = fmt::format("COPY (SELECT {} FROM ONLY {}", cols, pg::qualified(t.schema, t.name));
  if (first > 0 || end >= 0) {
    sql += " WHERE ";
    if (first > 0) sql += fmt::format("ctid >= '({},0)'::pg_catalog.tid", first);
    if (first > 0 && end >= 0) sql += " AND ";
    if (end >= 0) sql += fmt::format("ctid < '({},0)'::pg_catalog.tid", end);
  }
  // Binary (archive::LiveTable::binary): no text conversion of each value on either server.
  return sql + (t.binary ? ") TO STDOUT (FORMAT binary)" : ") TO STDOUT");
}

std::unique_ptr<archive::RowReader> SnapshotRows::open_pages(const archive::LiveTable& t, std::int64_t first,
                                                             std::int64_t end) const {
  auto c = std::make_unique<pg::Connection>(session());
  c->exec(kReadSettings);
  return std::make_unique<SourceRows>(std::move(c), page_range_copy(t, first, end));
}

}  // namespace pgr::executor
