#include "pg/pg.hpp"

#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include "util/log.hpp"
#include "util/redact.hpp"

namespace pgr::pg {
namespace {

std::string field(const PGresult* r, int code) {
  const char* v = PQresultErrorField(r, code);
  return v ? std::string(v) : std::string();
}

std::string trim_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Server notices (NOTICE, WARNING, ...) go to the log instead of stderr.
void notice_receiver(void*, const PGresult* r) {
  std::string severity = field(r, PG_DIAG_SEVERITY_NONLOCALIZED);
  std::string message = trim_newlines(field(r, PG_DIAG_MESSAGE_PRIMARY));
  std::string detail = field(r, PG_DIAG_MESSAGE_DETAIL);
  std::string text = fmt::format("server {}: {}{}{}", severity, message, detail.empty() ? "" : " DETAIL: ",
                                 detail);
  if (severity == "WARNING") {
    log::warn("{}", text);
  } else if (severity == "NOTICE" || severity == "INFO") {
    log::debug("{}", text);
  } else {
    log::trace("{}", text);
  }
}

std::map<std::string, std::string> parse_conninfo(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string msg = err ? trim_newlines(err) : "out of memory";
    if (err) PQfreemem(err);
    fail(ErrorKind::input, fmt::format("invalid connection string: {}", redact_secrets(msg)),
         "use key=value pairs (host=... dbname=...) or a postgresql:// URI");
  }
  std::map<std::string, std::string> out;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (o->val && *o->val) out[o->keyword] = o->val;
  }
  PQconninfoFree(opts);
  return out;
}

std::string quote_kv(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

}  // namespace

// Reads results until PQgetResult returns NULL (libpq requires it); returns the first result
// that is not COMMAND_OK (the caller owns it), or nullptr.
PGresult* drain_results(PGconn* conn, std::int64_t* rows = nullptr) {
  PGresult* r;
  PGresult* failed = nullptr;
  while ((r = PQgetResult(conn)) != nullptr) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !failed) {
      failed = r;
    } else {
      if (rows && PQresultStatus(r) == PGRES_COMMAND_OK) {
        const char* n = PQcmdTuples(r);
        if (n && *n) *rows = std::strtoll(n, nullptr, 10);
      }
      PQclear(r);
    }
  }
  return failed;
}

long long Result::int64(int row, int col) const {
  std::string s = str(row, col);
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || (end && *end)) {
    fail(ErrorKind::internal, fmt::format("expected an integer in column {} but got \"{}\"", col, s));
  }
  return v;
}

int Result::column(std::string_view name) const {
  int c = PQfnumber(r_.get(), std::string(name).c_str());
  if (c < 0) fail(ErrorKind::internal, fmt::format("result has no column \"{}\"", name));
  return c;
}

std::string describe_conninfo(const std::string& conninfo) {
  std::map<std::string, std::string> o;
  try {
    o = parse_conninfo(conninfo);
  } catch (const Error&) {
    return "(unparseable connection string)";
  }
  auto env_or = [](const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return std::string(v && *v ? v : fallback);
  };
  std::string host = o.count("host") ? o["host"] : (o.count("hostaddr") ? o["hostaddr"] : env_or("PGHOST", "(default socket)"));
  std::string port = o.count("port") ? o["port"] : env_or("PGPORT", "5432");
  std::string user = o.count("user") ? o["user"] : env_or("PGUSER", "(current user)");
  std::string db = o.count("dbname") ? o["dbname"] : env_or("PGDATABASE", user.c_str());
  return fmt::format("host={} port={} dbname={} user={}", host, port, db, user);
}

std::string with_dbname(const std::string& conninfo, const std::string& dbname) {
  auto o = parse_conninfo(conninfo);
  o["dbname"] = dbname;
  std::string out;
  for (auto& [k, v] : o) {
    if (!out.empty()) out += ' ';
    out += k + "=" + quote_kv(v);
  }
  return out;
}

Connection Connection::open(const std::string& conninfo, const std::string& application_name) {
  // expand_dbname=1: the first dbname may itself be a full conninfo or URI; the later
  // fallback_application_name fills in only when the conninfo has none.
  const char* keys[] = {"dbname", "fallback_application_name", nullptr};
  const char* vals[] = {conninfo.c_str(), application_name.c_str(), nullptr};
  Connection c;
  c.conn_.reset(PQconnectdbParams(keys, vals, 1));
  if (!c.conn_) fail(ErrorKind::database, "could not allocate a libpq connection (out of memory)");
  if (PQstatus(c.conn_.get()) != CONNECTION_OK) {
    std::string msg = trim_newlines(PQerrorMessage(c.conn_.get()));
    throw DbError(redact_secrets(fmt::format("could not connect to {}: {}", describe_conninfo(conninfo), msg)),
                  "check that the server is running and accepts connections there, and the "
                  "credentials (a password comes from password_env, passfile or ~/.pgpass)",
                  "08001", msg, "", "");
  }
  PQsetNoticeReceiver(c.conn_.get(), notice_receiver, nullptr);
  c.cancel_.reset(PQgetCancel(c.conn_.get()));
  return c;
}

Connection::~Connection() = default;

std::string Connection::target() const {
  PGconn* c = conn_.get();
  if (!c) return "(not connected)";
  return fmt::format("host={} port={} dbname={} user={}", PQhost(c), PQport(c), PQdb(c), PQuser(c));
}

bool Connection::in_transaction() const {
  return PQtransactionStatus(conn_.get()) != PQTRANS_IDLE;
}

void Connection::cancel() const {
  if (!cancel_) return;
  char err[256];
  PQcancel(cancel_.get(), err, sizeof err);
}

void Connection::throw_from_result(PGresult* r, std::string_view sql) const {
  std::string sqlstate = field(r, PG_DIAG_SQLSTATE);
  std::string primary = trim_newlines(field(r, PG_DIAG_MESSAGE_PRIMARY));
  if (primary.empty()) primary = trim_newlines(PQerrorMessage(conn_.get()));
  std::string detail = trim_newlines(field(r, PG_DIAG_MESSAGE_DETAIL));
  std::string hint = trim_newlines(field(r, PG_DIAG_MESSAGE_HINT));
  std::string context = trim_newlines(field(r, PG_DIAG_CONTEXT));
  PQclear(r);
  std::string statement(sql.substr(0, 200));
  if (sql.size() > 200) statement += "...";
  std::string msg = primary;
  if (!sqlstate.empty()) msg += fmt::format(" (SQLSTATE {})", sqlstate);
  if (!detail.empty()) msg += "\nDETAIL: " + detail;
  if (!context.empty()) msg += "\nCONTEXT: " + context;
  (void)statement;
  throw DbError(redact_secrets(msg), redact_secrets(hint), sqlstate, redact_secrets(primary),
                redact_secrets(detail), redact_secrets(context));
}

void Connection::throw_from_conn(std::string_view what) const {
  std::string msg = trim_newlines(PQerrorMessage(conn_.get()));
  throw DbError(redact_secrets(fmt::format("{} on {}: {}", what, target(), msg)), "", "", msg, "", "");
}

Result Connection::check(PGresult* r, std::string_view sql) const {
  if (!r) throw_from_conn("query failed");
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return Result(r);
  if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
    PQclear(r);
    fail(ErrorKind::internal, "COPY must be started with copy_in()/copy_out()");
  }
  throw_from_result(r, sql);
}

Result Connection::exec(std::string_view sql) {
  std::string s(sql);
  return check(PQexec(conn_.get(), s.c_str()), sql);
}

Result Connection::exec(std::string_view sql, const Params& params) {
  std::string s(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return check(PQexecParams(conn_.get(), s.c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0),
               sql);
}

std::string Connection::quote_ident(std::string_view name) const {
  char* q = PQescapeIdentifier(conn_.get(), name.data(), name.size());
  if (!q) throw_from_conn("could not quote an identifier");
  std::string out(q);
  PQfreemem(q);
  return out;
}

std::string Connection::quote_literal(std::string_view value) const {
  char* q = PQescapeLiteral(conn_.get(), value.data(), value.size());
  if (!q) throw_from_conn("could not quote a literal");
  std::string out(q);
  PQfreemem(q);
  return out;
}

CopyIn Connection::copy_in(std::string_view copy_sql) {
  std::string s(copy_sql);
  PGresult* r = PQexec(conn_.get(), s.c_str());
  if (!r) throw_from_conn("COPY failed");
  if (PQresultStatus(r) != PGRES_COPY_IN) throw_from_result(r, copy_sql);
  PQclear(r);
  return CopyIn(this, s);
}

CopyOut Connection::copy_out(std::string_view copy_sql) {
  std::string s(copy_sql);
  PGresult* r = PQexec(conn_.get(), s.c_str());
  if (!r) throw_from_conn("COPY failed");
  if (PQresultStatus(r) != PGRES_COPY_OUT) throw_from_result(r, copy_sql);
  PQclear(r);
  return CopyOut(this, s);
}

// --- COPY FROM STDIN -------------------------------------------------------------------------

CopyIn::~CopyIn() {
  if (!done_) {
    try {
      abort("pgrecover: COPY abandoned");
    } catch (...) {
      // destructor: the connection is left in a failed transaction, which the owner rolls back
    }
  }
}

void CopyIn::put(std::string_view data) {
  if (done_) fail(ErrorKind::internal, "COPY already finished");
  while (!data.empty()) {
    // PQputCopyData takes an int length; feed huge buffers in slices.
    size_t n = std::min<size_t>(data.size(), 1u << 30);
    int rc = PQputCopyData(conn_->raw(), data.data(), static_cast<int>(n));
    if (rc != 1) {
      done_ = true;
      // Fetch the server's verdict: it usually explains why the stream broke.
      PGresult* r;
      while ((r = PQgetResult(conn_->raw())) != nullptr) {
        if (PQresultStatus(r) == PGRES_FATAL_ERROR) conn_->throw_from_result(r, sql_);
        PQclear(r);
      }
      conn_->throw_from_conn("could not send COPY data");
    }
    data.remove_prefix(n);
  }
}

std::int64_t CopyIn::finish() {
  if (done_) return -1;
  done_ = true;
  if (PQputCopyEnd(conn_->raw(), nullptr) != 1) conn_->throw_from_conn("could not end COPY");
  std::int64_t rows = -1;
  if (PGresult* failed = drain_results(conn_->raw(), &rows)) conn_->throw_from_result(failed, sql_);
  return rows;
}

void CopyIn::abort(const std::string& reason) {
  if (done_) return;
  done_ = true;
  PQputCopyEnd(conn_->raw(), reason.c_str());
  PGresult* r;
  while ((r = PQgetResult(conn_->raw())) != nullptr) PQclear(r);  // the expected error
}

// --- COPY TO STDOUT --------------------------------------------------------------------------

CopyOut::~CopyOut() {
  if (!done_) {
    // Not fully read: cancel and drain so the connection is usable again.
    conn_->cancel();
    char* buf = nullptr;
    while (PQgetCopyData(conn_->raw(), &buf, 0) > 0) PQfreemem(buf);
    PGresult* r;
    while ((r = PQgetResult(conn_->raw())) != nullptr) PQclear(r);
  }
}

bool CopyOut::next(std::string& row) {
  if (done_) return false;
  char* buf = nullptr;
  int n = PQgetCopyData(conn_->raw(), &buf, 0);
  if (n > 0) {
    row.assign(buf, static_cast<size_t>(n));
    PQfreemem(buf);
    return true;
  }
  done_ = true;
  if (n == -2) conn_->throw_from_conn("COPY TO STDOUT failed");
  drain();
  return false;
}

void CopyOut::drain() {
  if (PGresult* failed = drain_results(conn_->raw(), &rows_)) conn_->throw_from_result(failed, sql_);
}

// --- pure quoting ----------------------------------------------------------------------------

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string quote_literal(std::string_view value) {
  bool backslash = value.find('\\') != std::string_view::npos;
  std::string out = backslash ? "E'" : "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    if (c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

std::string qualified(std::string_view schema, std::string_view name) {
  return quote_ident(schema) + "." + quote_ident(name);
}

std::optional<std::string> parse_identifier(const std::string& s, size_t& pos) {
  while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos]))) ++pos;
  if (pos >= s.size()) return std::nullopt;
  std::string out;
  if (s[pos] == '"') {
    ++pos;
    while (pos < s.size()) {
      if (s[pos] == '"') {
        if (pos + 1 < s.size() && s[pos + 1] == '"') {
          out += '"';
          pos += 2;
          continue;
        }
        ++pos;
        return out;
      }
      out += s[pos++];
    }
    return std::nullopt;
  }
  while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '_' || s[pos] == '$' ||
                            static_cast<unsigned char>(s[pos]) >= 0x80)) {
    out += s[pos++];
  }
  if (out.empty()) return std::nullopt;
  return out;
}

SplitConninfo split_password(const std::string& conninfo) {
  SplitConninfo out;
  for (const auto& [key, val] : parse_conninfo(conninfo)) {
    if (key == "password") {
      out.password = val;
      continue;
    }
    out.conninfo += (out.conninfo.empty() ? "" : " ") + key + "=" + quote_kv(val);
  }
  return out;
}

}  // namespace pgr::pg
