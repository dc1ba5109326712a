#include "catalog/table_rows.hpp"

#include <fmt/format.h>

namespace pgr::catalog {

std::int64_t count_rows(pg::Connection& conn, const std::string& schema, const std::string& table) {
  return conn.exec(fmt::format("SELECT count(*) FROM ONLY {}", pg::qualified(schema, table))).int64(0, 0);
}

std::optional<MultisetDigest> row_digest(pg::Connection& conn, const std::string& schema, const std::string& table,
                                         const std::string& columns, const std::vector<std::string>& session_sql) {
  MultisetDigest d;
  conn.exec("BEGIN READ ONLY");
  try {
    for (const auto& s : session_sql) conn.exec(s);
    conn.exec("SET LOCAL DateStyle = ISO; SET LOCAL IntervalStyle = postgres; SET LOCAL extra_float_digits = 3");
    auto out = conn.copy_out(fmt::format("COPY (SELECT {} FROM ONLY {}) TO STDOUT", columns, pg::qualified(schema, table)));
    for (std::string row; out.next(row);) d.add(row);
    conn.exec("ROLLBACK");
  } catch (const pg::DbError& x) {
    conn.exec("ROLLBACK");
    if (x.sqlstate() == "42703") return std::nullopt;
    throw;
  } catch (...) {
    conn.exec("ROLLBACK");
    throw;
  }
  return d;
}

}  // namespace pgr::catalog
