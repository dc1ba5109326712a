// RAII over libpq (libpqxx connection.cxx and pgBackRest postgres/client.c are the models):
// a Connection owns its PGconn, a Result owns its PGresult, COPY streams check every return of
// PQputCopyData/PQputCopyEnd/PQgetCopyData and always drain PQgetResult until NULL. Errors carry
// the server's SQLSTATE, message, detail, hint and context. Identifiers are quoted with
// PQescapeIdentifier; values go as parameters.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace pgr::pg {

class DbError : public Error {
 public:
  DbError(std::string message, std::string hint, std::string sqlstate, std::string primary,
          std::string detail, std::string context)
      : Error(ErrorKind::database, std::move(message), std::move(hint)),
        sqlstate_(std::move(sqlstate)),
        primary_(std::move(primary)),
        detail_(std::move(detail)),
        context_(std::move(context)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  const std::string& primary() const { return primary_; }  // the server's message alone
  const std::string& detail() const { return detail_; }
  const std::string& context() const { return context_; }

 private:
  std::string sqlstate_, primary_, detail_, context_;
};

struct PGresultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};

class Result {
 public:
  Result() = default;
  explicit Result(PGresult* r) : r_(r) {}
  int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  int cols() const { return r_ ? PQnfields(r_.get()) : 0; }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string_view get(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col))};
  }
  std::string str(int row, int col) const { return std::string(get(row, col)); }
  std::optional<std::string> opt(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return str(row, col);
  }
  long long int64(int row, int col) const;
  bool boolean(int row, int col) const { return get(row, col) == "t"; }
  int column(std::string_view name) const;  // throws when absent
  std::string command_tuples() const { return r_ ? PQcmdTuples(r_.get()) : ""; }
  PGresult* raw() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, PGresultDeleter> r_;
};

using Params = std::vector<std::optional<std::string>>;

class CopyIn;
class CopyOut;

class Connection {
 public:
  // Connects, or throws DbError naming the target (host/port/dbname/user, never the password)
  // and the server's message.
  static Connection open(const std::string& conninfo, const std::string& application_name = "pgrecover");

  Connection() = default;
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  ~Connection();

  Result exec(std::string_view sql);
  Result exec(std::string_view sql, const Params& params);
  // Runs several statements in one round trip (simple query protocol); returns the last result.
  void exec_script(std::string_view sql) { (void)exec(sql); }

  CopyIn copy_in(std::string_view copy_sql);
  CopyOut copy_out(std::string_view copy_sql);

  std::string quote_ident(std::string_view name) const;
  std::string quote_literal(std::string_view value) const;
  int server_version() const { return PQserverVersion(conn_.get()); }
  std::string target() const;  // "host=... port=... dbname=... user=..."
  bool in_transaction() const;

  // Asks the server to cancel the running statement; safe to call from another thread.
  void cancel() const;
  PGconn* raw() const { return conn_.get(); }
  explicit operator bool() const { return static_cast<bool>(conn_); }

 private:
  friend class CopyIn;
  friend class CopyOut;
  struct PGconnDeleter {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  struct CancelDeleter {
    void operator()(PGcancel* c) const { PQfreeCancel(c); }
  };
  Result check(PGresult* r, std::string_view sql) const;
  [[noreturn]] void throw_from_result(PGresult* r, std::string_view sql) const;
  [[noreturn]] void throw_from_conn(std::string_view what) const;

  std::unique_ptr<PGconn, PGconnDeleter> conn_;
  std::unique_ptr<PGcancel, CancelDeleter> cancel_;
};

// COPY ... FROM STDIN. finish() ends the copy and checks the server's verdict; destroying an
// unfinished CopyIn aborts it (the server rolls the COPY back).
class CopyIn {
 public:
  CopyIn(CopyIn&& other) noexcept : conn_(other.conn_), sql_(std::move(other.sql_)), done_(other.done_) {
    other.done_ = true;
  }
  CopyIn& operator=(CopyIn&&) = delete;
  ~CopyIn();
  void put(std::string_view data);
  // PQputCopyEnd + drain results; throws DbError. Returns the rows the server says it loaded
  // (COPY's command tag), -1 when it does not say.
  std::int64_t finish();
  void abort(const std::string& reason);      // PQputCopyEnd with an error message

 private:
  friend class Connection;
  CopyIn(const Connection* conn, std::string sql) : conn_(conn), sql_(std::move(sql)) {}
  const Connection* conn_;
  std::string sql_;
  bool done_ = false;
};

// COPY ... TO STDOUT. next() yields one server message at a time: one row (with its newline) in
// text format; in binary format also the header (with the first row) and the trailer.
class CopyOut {
 public:
  CopyOut(CopyOut&& other) noexcept
      : conn_(other.conn_), sql_(std::move(other.sql_)), done_(other.done_), rows_(other.rows_) {
    other.done_ = true;
  }
  CopyOut& operator=(CopyOut&&) = delete;
  ~CopyOut();
  bool next(std::string& row);
  // After next() returned false: the rows the server says it sent (COPY's command tag), else -1.
  std::int64_t rows() const { return rows_; }

 private:
  friend class Connection;
  CopyOut(const Connection* conn, std::string sql) : conn_(conn), sql_(std::move(sql)) {}
  void drain();
  const Connection* conn_;
  std::string sql_;
  bool done_ = false;
  std::int64_t rows_ = -1;
};

// Pure quoting (no connection), for SQL built by the planner: always double-quoted, inner
// quotes doubled. quote_literal_pure uses E'' only when a backslash is present.
std::string quote_ident(std::string_view name);
std::string quote_literal(std::string_view value);
// "schema"."name"
std::string qualified(std::string_view schema, std::string_view name);

// host/port/dbname/user of a conninfo, for messages; never the password.
std::string describe_conninfo(const std::string& conninfo);
// Returns conninfo with dbname replaced (works for key/value and URI forms).
std::string with_dbname(const std::string& conninfo, const std::string& dbname);

// A conninfo split into one without any password (key='value' form: for plans, argv and logs)
// and the password (for PGPASSWORD in a child's environment; empty when none). The only place
// that takes a password out of a conninfo.
struct SplitConninfo {
  std::string conninfo;
  std::string password;
};
SplitConninfo split_password(const std::string& conninfo);

// Parses an identifier that may be double-quoted at pos; returns it unquoted and advances pos.
std::optional<std::string> parse_identifier(const std::string& s, size_t& pos);

}  // namespace pgr::pg
