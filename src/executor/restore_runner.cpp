#include "executor/restore_runner.hpp"

#include <algorithm>
#include <atomic>
#include <vector>

#include <fmt/format.h>

#include "archive/read_ahead.hpp"
#include "executor/copy_convert.hpp"
#include "executor/live_copy.hpp"
#include "executor/restore_checks.hpp"
#include "executor/session_settings.hpp"
#include "executor/split_load.hpp"
#include "model/dag.hpp"
#include "pg/pg.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::executor {

bool is_duplicate_object(const std::string& s) {
  return s == "42P07" || s == "42710" || s == "42723" || s == "42P06" || s == "42P04" || s == "42P16" ||
         s == "42701";
}

std::string add_not_valid(const std::string& sql) {
  size_t semi = sql.rfind(';');
  if (semi == std::string::npos) return sql + " NOT VALID";
  return sql.substr(0, semi) + " NOT VALID" + sql.substr(semi);
}

namespace {

constexpr size_t kChunk = 1 << 20;
constexpr std::int64_t kSmallTableBytes = 2048;  // archive bytes below which rows go as text, read in place

class RestoreWorker : public Worker {
 public:
  RestoreWorker(RestoreRunner& runner, int index) : r_(runner), index_(index) {}

  StepOutcome run(const model::Step& step, StepContext& ctx) override {
    cancelled_ = false;
    try {
      return dispatch(step, ctx);
    } catch (const pg::DbError& e) {
      rollback();
      if (ctx.was_in_flight && is_duplicate_object(e.sqlstate())) {
        return {0, 0, "already present (committed by an interrupted run)"};
      }
      if ((step.kind == "role" || step.kind == "database") && is_duplicate_object(e.sqlstate())) {
        return {0, 0, "already present"};
      }
      throw pg::DbError(fmt::format("{} {} failed: {}", step.kind, step.object, e.what()), hint_for(step, e),
                        e.sqlstate(), e.primary(), e.detail(), e.context());
    } catch (...) {
      rollback();
      throw;
    }
  }

  void cancel() override {
    cancelled_ = true;
    std::lock_guard lock(mu_);
    if (active_) active_->cancel();
  }

 private:
  static std::string hint_for(const model::Step& step, const pg::DbError& e) {
    if (!e.hint().empty()) return e.hint();
    if (e.sqlstate() == "23505" && step.kind == "table-data") {
      return "the target table was not empty or another process wrote to it; use existing: truncate";
    }
    if (is_duplicate_object(e.sqlstate())) {
      return "the object already exists in the target: restore into a new database, or set existing: skip";
    }
    if (e.sqlstate() == "42704") return "a role or object the restore needs is missing; check roles: create-missing";
    return {};
  }

  pg::Connection& target() {
    if (!target_) {
      target_ = pg::Connection::open(r_.config().target_conninfo, r_.config().application_name);
      setup_session(target_);
    }
    return target_;
  }

  pg::Connection& admin() {
    if (!admin_) admin_ = pg::Connection::open(r_.config().admin_conninfo, r_.config().application_name);
    return admin_;
  }

  void setup_session(pg::Connection& c) {
    // pg_restore's fixed session state (statement_timeout = 0, client_encoding, search_path, ...)
    c.exec(r_.ddl().prelude);
    for (const auto& [k, v] : r_.config().session_settings) {
      c.exec("SELECT pg_catalog.set_config($1, $2, false)", {k, v});
    }
  }

  void rollback() {
    for (pg::Connection* c : {&target_, &admin_}) {
      if (*c && c->in_transaction()) {
        try {
          c->exec("ROLLBACK");
        } catch (const std::exception&) {
          *c = pg::Connection();  // broken: reconnect on next use
        }
      }
      if (*c && PQstatus(c->raw()) != CONNECTION_OK) *c = pg::Connection();
    }
  }

  struct Active {
    RestoreWorker& w;
    Active(RestoreWorker& worker, pg::Connection& c) : w(worker) {
      std::lock_guard lock(w.mu_);
      w.active_ = &c;
      if (w.cancelled_) c.cancel();
    }
    ~Active() {
      std::lock_guard lock(w.mu_);
      w.active_ = nullptr;
    }
  };

  bool single() const { return r_.config().single_transaction; }
  // BEGIN/COMMIT of a step's own transaction; nothing inside the plan's single transaction.
  std::string begin_sql() const { return single() ? "" : "BEGIN; "; }
  void commit(pg::Connection& c) {
    if (!single()) c.exec("COMMIT");
  }

  StepOutcome dispatch(const model::Step& step, StepContext& ctx) {
    if (cancelled_) fail(ErrorKind::cancelled, "cancelled before it started");
    if (step.action == model::Action::remove && step.params.count("lost")) {
      // Dropped by the CASCADE of the replaced table this step depends on.
      return {0, 0, fmt::format("dropped with {} (DROP TABLE ... CASCADE)", step.params.at("dropped_by"))};
    }
    if (step.kind == "begin") return begin_transaction();
    if (step.kind == "commit") return run_sql("COMMIT");
    if (step.kind == "truncate") return run_sql(begin_sql() + step.params.at("sql") + (single() ? "" : "; COMMIT"));
    if (step.kind == "fk-drop") {
      return run_sql(fmt::format("ALTER TABLE ONLY {} DROP CONSTRAINT IF EXISTS {}", step.params.at("table"),
                                 step.params.at("constraint")));
    }
    if (step.kind == "fk-restore") {
      return run_sql(fmt::format("ALTER TABLE ONLY {} ADD CONSTRAINT {} {}", step.params.at("table"),
                                 step.params.at("constraint"), step.params.at("definition")));
    }
    if (step.kind == "role") return create_role(step);
    if (step.kind == "database" || step.kind == "database-settings" || step.kind == "tablespace") {
      return run_admin(step.params.at("sql"));
    }
    if (step.kind == "barrier") return {};
    if (step.kind == "analyze") return run_sql(fmt::format("ANALYZE {}", step.params.at("table")));
    if (step.kind == "sequence-fix" || step.kind == "row-count" || step.kind == "verify") return check(step);
    if (step.kind == "fk-validate") return fk_validate(step);
    if (step.kind == "constraint-attach") return attach_constraint(step);
    const archive::TocEntry* e = r_.archive().find(step.toc_id);
    if (!e) fail(ErrorKind::input, fmt::format("step {} names archive entry {}, which is not in the archive", step.id, step.toc_id));
    if (e->desc == "TABLE DATA") return load_table(step, *e, ctx);
    if (e->desc == "BLOBS" || e->desc == "LARGE OBJECTS") return load_blobs(*e, ctx);
    if (step.params.count("index_first") && !partitioned(step.params.at("table"))) return build_unique_index(step, *e);
    return run_entry(step, *e);
  }

  StepOutcome run_admin(const std::string& sql) {
    auto& c = admin();
    Active a(*this, c);
    c.exec(sql);  // CREATE DATABASE cannot run in a transaction block; CREATE ROLE needs none
    return {};
  }

  StepOutcome begin_transaction() {
    auto& c = target();
    Active a(*this, c);
    c.exec("BEGIN");
    std::string xid = c.exec("SELECT pg_catalog.txid_current()::text").str(0, 0);
    return {0, 0, "transaction " + xid};
  }

  // Roles are created inside the plan's single transaction when there is one, else at once.
  void role_sql(const std::string& sql) {
    if (single()) {
      run_sql(sql);
    } else {
      run_admin(sql);
    }
  }

  // CREATE ROLE as in the backup's globals, then its password hash when the plan says so. A
  // role that exists already (an interrupted run) still gets its password.
  StepOutcome create_role(const model::Step& step) {
    StepOutcome out;
    try {
      role_sql(step.params.at("sql"));
    } catch (const pg::DbError& e) {
      if (single()) throw;  // the transaction is aborted: nothing more can run in it
      if (!is_duplicate_object(e.sqlstate())) throw;
      out.note = "already present";
    }
    if (step.params.count("password")) {
      auto it = r_.config().role_passwords.find(step.object);
      if (it == r_.config().role_passwords.end()) {
        fail(ErrorKind::input, fmt::format("role {}: the {} no longer hold its password", step.object,
                                           step.params.at("password") == "from-source" ? "live source's roles" : "backup's globals"),
               "plan again");
      }
      // Only the hash travels, as pg_dumpall -r writes it; the statement is never logged.
      role_sql(fmt::format("ALTER ROLE {} PASSWORD {}", pg::quote_ident(step.object), pg::quote_literal(it->second)));
    }
    return out;
  }

  std::string tablespace_of(const archive::TocEntry& e) const {
    if (r_.config().no_tablespaces || e.tablespace.empty()) return "''";
    auto it = r_.config().tablespace_map.find(e.tablespace);
    std::string t = it == r_.config().tablespace_map.end() ? e.tablespace : it->second;
    return t.empty() ? "''" : pg::quote_ident(t);
  }

  StepOutcome run_sql(const std::string& sql) {
    auto& c = target();
    Active a(*this, c);
    c.exec(sql);
    return {};
  }

  StepOutcome run_entry(const model::Step& step, const archive::TocEntry& e) {
    auto it = r_.ddl().chunks.find(e.id);
    std::string sql;
    if (it != r_.ddl().chunks.end()) {
      sql = it->second;
    } else {
      // pg_restore wrote nothing for it (e.g. "-- *not* creating schema public"): its own SQL.
      sql = e.defn;
    }
    if (step.params.count("skip_create") && !e.defn.empty() && sql.find(e.defn) != std::string::npos) {
      sql.erase(sql.find(e.defn), e.defn.size());
    }
    if (step.params.count("not_valid") && sql.find(e.defn) != std::string::npos && !e.defn.empty()) {
      sql.replace(sql.find(e.defn), e.defn.size(), add_not_valid(e.defn));
    }
    // existing: replace: the table and what depends on it go first, in the same transaction.
    if (auto d = step.params.find("drop_first"); d != step.params.end()) sql = d->second + ";\n" + sql;
    std::string prefix = fmt::format("SET default_tablespace = {};\n", tablespace_of(e));
    if (!e.table_am.empty()) prefix += fmt::format("SET default_table_access_method = {};\n", pg::quote_ident(e.table_am));
    if (e.desc == "INDEX" && !single()) {
      auto am = r_.config().index_mwm.find(index_access_method(e.defn));
      if (am != r_.config().index_mwm.end()) {
        prefix += fmt::format("SET LOCAL maintenance_work_mem = {};\n", pg::quote_literal(am->second));
      }
    }
    auto& c = target();
    Active a(*this, c);
    // One round trip: on an error the server skips the rest and the transaction is rolled back
    // by the caller (rollback()).
    c.exec(single() ? prefix + sql : "BEGIN;\n" + prefix + sql + "\nCOMMIT;");
    return {};
  }

  bool partitioned(const std::string& table) {
    auto r = target().exec("SELECT relkind = 'p' FROM pg_catalog.pg_class WHERE oid = $1::regclass", {table});
    return r.rows() > 0 && r.boolean(0, 0);
  }

  // The index of a PRIMARY KEY / UNIQUE constraint, built under a SHARE lock; the
  // constraint-attach step turns it into the constraint. Names and columns are pg_dump's own
  // SQL text from the entry (already quoted as needed).
  StepOutcome build_unique_index(const model::Step& step, const archive::TocEntry& e) {
    std::string sql = fmt::format("SET default_tablespace = {};\nCREATE UNIQUE INDEX {} ON ONLY {} USING btree ({})",
                                  tablespace_of(e), step.params.at("constraint"),
                                  step.params.at("table"), step.params.at("columns"));
    auto& c = target();
    Active a(*this, c);
    if (!single()) c.exec("BEGIN");
    c.exec(sql);
    commit(c);
    return {0, 0, "unique index built; the constraint is attached next"};
  }

  StepOutcome attach_constraint(const model::Step& step) {
    size_t pos = 0;
    std::string quoted = step.params.at("constraint");
    auto name = pg::parse_identifier(quoted, pos);
    if (!name) fail(ErrorKind::input, fmt::format("step {}: bad constraint name {}", step.id, quoted));
    auto& c = target();
    auto exists = c.exec("SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = $1::regclass AND conname = $2",
                         {step.params.at("table"), *name});
    if (exists.rows() > 0) return {0, 0, "constraint already present"};  // partitioned fallback, or resumed
    return run_sql(fmt::format("ALTER TABLE ONLY {} ADD CONSTRAINT {} {} USING INDEX {}", step.params.at("table"), quoted,
                               step.params.at("constraint_type"), quoted));
  }

  StepOutcome load_table(const model::Step& step, const archive::TocEntry& e, StepContext& ctx) {
    std::string copy = e.copy_stmt;
    while (!copy.empty() && (copy.back() == '\n' || copy.back() == ' ')) copy.pop_back();
    if (!copy.empty() && copy.back() == ';') copy.pop_back();
    // "COPY schema.table (cols) FROM stdin": is the COPY target the entry's own table? (Not with
    // --load-via-partition-root, which loads through the root: no TRUNCATE then.)
    std::string own = pg::qualified(e.namespace_, e.tag);
    size_t pos = 5;  // after "COPY "
    auto schema = copy.rfind("COPY ", 0) == 0 ? pg::parse_identifier(copy, pos) : std::nullopt;
    std::optional<std::string> name;
    if (schema && pos < copy.size() && copy[pos] == '.') {
      ++pos;
      name = pg::parse_identifier(copy, pos);
    }
    bool own_table = schema && name && *schema == e.namespace_ && *name == e.tag;
    if (!own_table) {
      log::warn("{}: the archive loads it through {} (e.g. --load-via-partition-root): no TRUNCATE, so a retry "
                "after a crash may duplicate rows", step.object, copy.substr(0, copy.find(" FROM")));
    }
    // Truncated together with the tables foreign keys connect it to, by an earlier step: no
    // TRUNCATE (and so no FREEZE) here. Rows in it after a crash are this step's, committed.
    bool truncated = step.params.count("truncated_by") > 0;
    if (step.params.count("sessions") && own_table && !single()) return load_split(step, e, copy, truncated, ctx);
    auto& c = target();
    Active a(*this, c);
    if (truncated && ctx.was_in_flight &&
        c.exec(fmt::format("SELECT EXISTS (SELECT 1 FROM ONLY {})", own)).boolean(0, 0)) {
      return {0, 0, "already loaded (committed by an interrupted run)"};
    }
    // A table with its own data entry is never a partitioned parent (pg_dump writes the rows of
    // partitions to the partitions), so FREEZE applies whenever the load truncates its table.
    bool freeze = own_table && !truncated;
    std::string start = begin_sql();
    if (own_table && !truncated) start += "TRUNCATE ONLY " + own + "; ";
    bool replica = step.params.count("replication_role") > 0;
    if (replica) start += "SET LOCAL session_replication_role = replica; ";
    if (!e.data.binary) return load_converted(step, e, c, start, copy, own_table ? own : "", freeze, replica, ctx);
    // Rows already in COPY's binary format (a live source); one round trip: the query string
    // ends in COPY mode (libpq returns at the COPY).
    std::string options = freeze ? "FORMAT binary, FREEZE" : "FORMAT binary";
    auto in = c.copy_in(start + copy + " WITH (" + options + ")");
    archive::ReadAhead reader(r_.archive().open_data(e));  // the source read while the target loads
    auto put = [&](std::string_view d) { in.put(d); };
    auto abort = [&](const std::string& reason) { in.abort(reason); };
    std::int64_t bytes = stream(reader, step, ctx, false, put, abort);
    // No newline to count: the rows the source's COPY says it sent.
    std::int64_t rows = reader.rows_sent();
    if (rows < 0) fail(ErrorKind::database, fmt::format("{}: the source did not say how many rows it sent", step.object));
    ctx.progress->rows += rows;
    check_loaded(in.finish(), rows, step.object);
    if (replica) c.exec("SET LOCAL session_replication_role = DEFAULT");
    commit(c);
    r_.record_rows(step.id, rows);
    return {rows, bytes, "rows in COPY's binary format"};
  }

  // Streams a table's bytes from `reader` into `put` to the end, in kChunk pieces; with `text`
  // its newlines count as rows in the progress. On cancellation calls `abort` and fails.
  // Returns the bytes.
  template <typename Put, typename Abort>
  std::int64_t stream(archive::RowReader& reader, const model::Step& step, StepContext& ctx, bool text, Put put,
                      Abort abort) {
    std::unique_ptr<char[]> buf(new char[kChunk]);  // not zeroed: a one-row table touches one page of it
    std::int64_t bytes = 0;
    for (;;) {
      if (cancelled_) {
        abort("cancelled by pgrecover");
        fail(ErrorKind::cancelled, fmt::format("loading {} was cancelled", step.object));
      }
      size_t n = reader.read(buf.get(), kChunk);
      if (n == 0) return bytes;
      std::string_view chunk(buf.get(), n);
      put(chunk);
      bytes += static_cast<std::int64_t>(n);
      if (text) ctx.progress->rows += std::count(chunk.begin(), chunk.end(), '\n');
      ctx.progress->bytes += static_cast<std::int64_t>(n);
    }
  }

  // COPY text rows (an archive's), converted to COPY's binary format by pgrecover when the
  // table's column types allow (copy_convert.hpp), else sent as they are.
  StepOutcome load_converted(const model::Step& step, const archive::TocEntry& e, pg::Connection& c,
                             const std::string& start, const std::string& copy, const std::string& own, bool freeze,
                             bool replica, StepContext& ctx) {
    // A table of a few rows is sent as text and read in place: the conversion's catalog query
    // and the read-ahead thread would cost more than they save (the restore bench's 5,000
    // one-row tables).
    const bool small = e.data.bytes >= 0 && e.data.bytes < kSmallTableBytes;
    std::string why = small ? fmt::format("a table of {} bytes in the archive, not worth converting", e.data.bytes) : "";
    std::optional<copyfmt::RowConverter> conv;
    if (!own.empty() && !small) conv = binary_converter(c, copy, own, &why);
    ConvertingLoad load(c, start, copy, freeze, std::move(conv), why);
    std::unique_ptr<archive::RowReader> reader = r_.archive().open_data(e);
    if (!small) reader = std::make_unique<archive::ReadAhead>(std::move(reader));
    auto put = [&](std::string_view d) { load.put(d); };
    auto abort = [&](const std::string& reason) { load.abort(reason); };
    std::int64_t bytes = stream(*reader, step, ctx, true, put, abort);
    std::int64_t rows = load.finish(step.object);
    if (replica) c.exec("SET LOCAL session_replication_role = DEFAULT");
    commit(c);
    r_.record_rows(step.id, rows);
    return {rows, bytes, load.note()};
  }

  // A big table loaded by several sessions in chunks (split_load.hpp).
  StepOutcome load_split(const model::Step& step, const archive::TocEntry& e, const std::string& copy, bool truncated,
                         StepContext& ctx) {
    SplitLoad job;
    job.binary = e.data.binary;
    job.copy_sql = job.binary ? copy + " WITH (FORMAT binary)" : copy;
    if (!truncated) job.truncate_sql = "TRUNCATE ONLY " + pg::qualified(e.namespace_, e.tag);
    if (!job.binary) job.converter = binary_converter(target(), copy, pg::qualified(e.namespace_, e.tag));
    job.replica = step.params.count("replication_role") > 0;
    job.sessions = model::sessions_of(step);
    if (auto it = step.params.find("chunk_bytes"); it != step.params.end()) job.chunk_bytes = std::stoll(it->second);
    std::function<pg::Connection()> open = [this] {
      auto c = pg::Connection::open(r_.config().target_conninfo, r_.config().application_name);
      setup_session(c);
      return c;
    };
    StepOutcome out;
    const std::int64_t pages = r_.archive().data_pages(e);
    if (auto it = step.params.find("chunk_pages"); it != step.params.end() && pages >= 0) {
      // A live source: the source is read by ranges of pages, in parallel, in its snapshot.
      auto open_range = [&](std::int64_t first, std::int64_t end) { return r_.archive().open_data_pages(e, first, end); };
      out = split_load_pages(job, pages, std::stoll(it->second), open_range, open, ctx, cancelled_);
    } else {
      // Chunks are cut at newlines: never a binary stream (binary_copy_allowed asks for page ranges).
      if (job.binary) fail(ErrorKind::internal, fmt::format("{}: binary rows cannot be cut into chunks", step.object));
      auto reader = r_.archive().open_data(e);
      out = split_load(job, *reader, open, ctx, cancelled_);
    }
    if (job.binary) out.note += "; rows in COPY's binary format";
    r_.record_rows(step.id, out.rows);
    return out;
  }

  StepOutcome load_blobs(const archive::TocEntry& e, StepContext& ctx) {
    auto& c = target();
    Active a(*this, c);
    if (!single()) c.exec("BEGIN");
    std::int64_t count = 0, bytes = 0;
    std::vector<char> buf(kChunk);
    r_.archive().for_each_blob(e, [&](std::uint32_t oid, archive::BlobStream& data) {
      std::string o = std::to_string(oid);
      // The large object was created by its pre-data entry (lo_create); create it here when the
      // archive has none (old style), then rewrite its contents from the start.
      c.exec("SELECT pg_catalog.lo_create($1::oid) WHERE NOT EXISTS "
             "(SELECT 1 FROM pg_catalog.pg_largeobject_metadata WHERE oid = $1::oid)",
             {o});
      auto fd = c.exec("SELECT pg_catalog.lo_open($1::oid, 131072)", {o}).str(0, 0);  // INV_WRITE
      c.exec("SELECT pg_catalog.lo_truncate($1::int, 0)", {fd});
      for (;;) {
        size_t n = data.read(buf.data(), buf.size());
        if (n == 0) break;
        // lowrite takes bytea: pass it as hex text
        std::string hex = "\\x";
        hex.reserve(2 + n * 2);
        static const char* digits = "0123456789abcdef";
        for (size_t i = 0; i < n; ++i) {
          auto b = static_cast<unsigned char>(buf[i]);
          hex += digits[b >> 4];
          hex += digits[b & 15];
        }
        c.exec("SELECT pg_catalog.lowrite($1::int, $2::bytea)", {fd, hex});
        bytes += static_cast<std::int64_t>(n);
        ctx.progress->bytes += static_cast<std::int64_t>(n);
      }
      c.exec("SELECT pg_catalog.lo_close($1::int)", {fd});
      if (const auto* meta = data.meta())  // a live source: owner, privileges and comment come along
        for (const auto& sql : large_object_metadata_sql(oid, *meta, !r_.config().no_owner)) c.exec(sql);
      ++count;
    });
    commit(c);
    return {count, bytes, fmt::format("{} large objects", count)};
  }

  StepOutcome fk_validate(const model::Step& step) {
    const archive::TocEntry* e = r_.archive().find(std::stoi(step.params.at("toc_id")));
    if (!e) fail(ErrorKind::input, fmt::format("step {}: archive entry is missing", step.id));
    // The tag of a constraint is "table name"; the table is the one the ADD CONSTRAINT names.
    static const std::string kAlter = "ALTER TABLE ONLY ";
    size_t pos = e->defn.find(kAlter);
    size_t end = e->defn.find('\n', pos);
    std::string table = e->defn.substr(pos + kAlter.size(), end - pos - kAlter.size());
    while (!table.empty() && (table.back() == ' ' || table.back() == '\r')) table.pop_back();
    size_t cpos = e->defn.find("ADD CONSTRAINT ");
    size_t p = cpos + 15;
    auto name = pg::parse_identifier(e->defn, p);
    if (!name) fail(ErrorKind::input, fmt::format("step {}: cannot find the constraint name", step.id));
    return run_sql(fmt::format("ALTER TABLE ONLY {} VALIDATE CONSTRAINT {}", table, pg::quote_ident(*name)));
  }

  // The steps after the loads (restore_checks.hpp), on the target session.
  StepOutcome check(const model::Step& step) {
    auto& c = target();
    Active a(*this, c);
    if (step.kind == "sequence-fix") return fix_sequence(c, step);
    auto rows_loaded = [this](const std::string& id) { return r_.rows_loaded(id); };
    if (step.kind == "row-count") return check_row_count(c, step, rows_loaded);
    return check_restore(c, step, rows_loaded);
  }

  RestoreRunner& r_;
  int index_;
  pg::Connection target_, admin_;
  std::mutex mu_;
  pg::Connection* active_ = nullptr;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

RestoreRunner::RestoreRunner(const model::Plan& plan, const archive::Archive& archive, DdlScript ddl,
                             RestoreRunnerConfig config)
    : plan_(plan), archive_(archive), ddl_(std::move(ddl)), config_(std::move(config)) {
  rows_ = config_.prior_rows;
}

std::unique_ptr<Worker> RestoreRunner::make_worker(int index) { return std::make_unique<RestoreWorker>(*this, index); }

std::int64_t RestoreRunner::rows_loaded(const std::string& step_id) const {
  std::lock_guard lock(mu_);
  auto it = rows_.find(step_id);
  return it == rows_.end() ? -1 : it->second;
}

void RestoreRunner::record_rows(const std::string& step_id, std::int64_t rows) {
  std::lock_guard lock(mu_);
  rows_[step_id] = rows;
}

void refuse_lost_dependents(const model::Plan& plan) {
  if (plan.params.count("allow_dropping_dependents")) return;
  std::vector<std::string> lost;
  for (const auto& s : plan.steps)
    if (s.params.count("lost") && s.action == model::Action::remove) lost.push_back(s.params.at("identity"));
  if (lost.empty()) return;
  std::string list;
  for (const auto& l : lost) list += "\n  - " + l;
  fail(ErrorKind::input,
       fmt::format("plan {} would drop {} object(s) of database \"{}\" that depend on replaced tables and that the "
                   "restore does not recreate:{}",
                   plan.id, lost.size(), plan.target.database, list),
       "set allow_dropping_dependents: true in the Restore document to accept their loss, or recreate them "
       "yourself after the restore; nothing was changed");
}

}  // namespace pgr::executor
