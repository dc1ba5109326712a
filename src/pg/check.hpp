// The one meaning of a user's SQL check (Restore post.verify.sql, PointInTimeRecovery
// verify.sql, BackupPolicy verify.drill.sql): the statement runs in a READ ONLY transaction that
// is rolled back, with the server's default search_path, and passes only when it returns exactly
// one row of one boolean column whose value is true. NULL, no row, several rows, a count or a
// text 't' all fail, each with a message that says what came back. A cancelled statement
// (SQLSTATE 57014) is not a verdict: its DbError is rethrown.
#pragma once

#include <string>

#include "pg/pg.hpp"

namespace pgr::pg {

struct CheckResult {
  bool passed = false;
  std::string problem;  // empty when passed: "returned NULL", "returned 3 rows", "failed: <server message>"
};

CheckResult run_check(Connection& conn, const std::string& sql);

}  // namespace pgr::pg
