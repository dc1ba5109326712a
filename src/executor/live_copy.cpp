#include "executor/live_copy.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "util/fs.hpp"


namespace pgr::executor {

namespace {

// Every transaction reading rows: COPY writes what pg_dump would (dates in ISO, floats exactly),
// and rows hidden by row-level security are an error rather than silently left out.
constexpr const char* kReadSettings =
    "SET LOCAL DateStyle = ISO; SET LOCAL IntervalStyle = postgres; SET LOCAL extra_float_digits = 3; "
    "SET LOCAL row_security = off";

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
  SourceBlob(pg::Connection& c, std::string oid) : c_(c), oid_(std::move(oid)) {}
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
  std::string slice_;
  size_t pos_ = 0;
  std::int64_t offset_ = 0;
  bool ended_ = false;
};

}  // namespace

pg::Connection open_source_session(const std::string& conninfo, const std::string& application_name) {
  auto c = pg::Connection::open(conninfo, application_name);
  c.exec("SET default_transaction_read_only = on");
  c.exec("SELECT pg_catalog.set_config('client_encoding', pg_catalog.current_setting('server_encoding'), false)");
  return c;
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

void SnapshotRows::for_each_blob(const std::function<void(std::uint32_t, archive::BlobStream&)>& fn) const {
  auto c = open_source_session(conninfo_, app_);
  c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!snapshot_.empty()) c.exec(fmt::format("SET TRANSACTION SNAPSHOT {}", pg::quote_literal(snapshot_)));
  auto oids = c.exec("SELECT oid::text FROM pg_catalog.pg_largeobject_metadata ORDER BY oid");
  for (int i = 0; i < oids.rows(); ++i) {
    SourceBlob blob(c, oids.str(i, 0));
    fn(static_cast<std::uint32_t>(std::stoul(oids.str(i, 0))), blob);
  }
  c.exec("COMMIT");
}

std::unique_ptr<archive::RowReader> SnapshotRows::open(const archive::LiveTable& t) const {
  auto c = std::make_unique<pg::Connection>(open_source_session(conninfo_, app_));
  c->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!snapshot_.empty()) c->exec(fmt::format("SET TRANSACTION SNAPSHOT {}", pg::quote_literal(snapshot_)));
  c->exec(kReadSettings);
  std::string cols;
  for (const auto& col : t.columns) cols += (cols.empty() ? "" : ", ") + pg::quote_ident(col);
  std::string sql = fmt::format("COPY (SELECT {} FROM ONLY {}) TO STDOUT", cols, pg::qualified(t.schema, t.name));
  return std::make_unique<SourceRows>(std::move(c), sql);
}

}  // namespace pgr::executor
