#include "pg/check.hpp"

#include <fmt/format.h>

namespace pgr::pg {

namespace {
constexpr Oid kBoolOid = 16;  // pg_type.oid of boolean (fixed in every PostgreSQL release)

std::string judge(const Result& res) {
  if (res.cols() != 1) return fmt::format("returned {} columns", res.cols());
  if (res.rows() != 1) return res.rows() == 0 ? "returned no row" : fmt::format("returned {} rows", res.rows());
  if (PQftype(res.raw(), 0) != kBoolOid) {
    return fmt::format("returned \"{}\", which is not a boolean", res.is_null(0, 0) ? "NULL" : res.str(0, 0));
  }
  if (res.is_null(0, 0)) return "returned NULL";
  if (!res.boolean(0, 0)) return "returned false";
  return {};
}
}  // namespace

CheckResult run_check(Connection& conn, const std::string& sql) {
  CheckResult out;
  conn.exec("BEGIN READ ONLY");
  try {
    conn.exec("SET LOCAL search_path TO DEFAULT");
    Result res = conn.exec(sql);
    out.problem = judge(res);
  } catch (const DbError& e) {
    if (e.sqlstate() == "57014") {  // query_canceled: an interrupted apply (or a statement_timeout), not a verdict
      conn.exec("ROLLBACK");
      throw;
    }
    out.problem = "failed: " + e.primary();
  }
  conn.exec("ROLLBACK");
  out.passed = out.problem.empty();
  if (!out.passed) out.problem += " (a check must return exactly one row holding true)";
  return out;
}

}  // namespace pgr::pg
