#include "executor/restore_checks.hpp"

#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pg/check.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::executor {

StepOutcome fix_sequence(pg::Connection& c, const model::Step& step) {
  const std::string& seq = step.params.at("sequence");
  const std::string& table = step.params.at("table");
  const std::string& column = step.params.at("column");
  auto info = c.exec(fmt::format("SELECT s.last_value, s.is_called, q.increment_by, "
                                 "(SELECT max({}) FROM {})::text FROM {} s, pg_catalog.pg_sequences q "
                                 "WHERE q.schemaname || '.' || q.sequencename = "
                                 "(SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c JOIN "
                                 "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass)",
                                 column, table, seq),
                     {seq});
  if (info.rows() == 0 || info.is_null(0, 3)) return {0, 0, "table is empty: nothing to check"};
  long long last = info.int64(0, 0);
  bool called = info.boolean(0, 1);
  long long inc = info.int64(0, 2);
  long long max = std::stoll(info.str(0, 3));
  bool behind = inc > 0 && (last < max || (last == max && !called));
  if (!behind) return {0, 0, fmt::format("ok: {} is at {} (max {} = {})", seq, last, column, max)};
  c.exec("SELECT pg_catalog.setval($1::regclass, $2::bigint, true)", {seq, std::to_string(max)});
  log::warn("sequence {} was behind max({}) of {}: set from {} to {}", seq, column, table, last, max);
  return {0, 0, fmt::format("fixed: {} moved from {} to {}", seq, last, max)};
}

namespace {

// The table's rows against the backup's count (or, without one, the rows its load copied);
// the failure, or "" when they match or there is nothing to compare with (existing: skip).
std::string count_rows(pg::Connection& c, const std::string& table, std::int64_t want, std::int64_t* have = nullptr) {
  if (want < 0) return "";
  std::int64_t n = c.exec(fmt::format("SELECT count(*) FROM ONLY {}", table)).int64(0, 0);
  if (have) *have = n;
  return n == want ? "" : fmt::format("{} has {} rows, expected {}", table, n, want);
}

std::int64_t expected_rows(const std::string& expected, const std::string& load_step, const RowsLoaded& rows_loaded) {
  return expected.empty() ? rows_loaded(load_step) : std::stoll(expected);
}

}  // namespace

// A big table's row count, as soon as its rows are in.
StepOutcome check_row_count(pg::Connection& c, const model::Step& step, const RowsLoaded& rows_loaded) {
  auto ex = step.params.find("expected");
  std::int64_t want = expected_rows(ex == step.params.end() ? "" : ex->second, step.params.at("step"), rows_loaded);
  if (want < 0) return {0, 0, "kept as it was: nothing to compare with"};
  std::int64_t have = 0;
  if (auto failure = count_rows(c, step.params.at("table"), want, &have); !failure.empty()) {
    fail(ErrorKind::database, "verification failed: " + failure,
         "the restored data does not match the backup; look at the table named above");
  }
  return {0, 0, fmt::format("{} rows, as expected", have)};
}

// The other tables' row counts and the document's SQL checks, once everything else is done.
StepOutcome check_restore(pg::Connection& c, const model::Step& step, const RowsLoaded& rows_loaded) {
  std::vector<std::string> failures;
  int checked = 0;
  if (auto it = step.params.find("tables"); it != step.params.end()) {
    for (const auto& t : nlohmann::json::parse(it->second)) {
      std::int64_t want = expected_rows(t.contains("expected") ? std::to_string(t.at("expected").get<std::int64_t>()) : "",
                                        t.at("step").get<std::string>(), rows_loaded);
      if (want < 0) continue;  // kept as it was (existing: skip): nothing to compare with
      ++checked;
      if (auto failure = count_rows(c, t.at("table"), want); !failure.empty()) failures.push_back(failure);
    }
  }
  int sql_checks = 0;
  if (auto it = step.params.find("sql"); it != step.params.end()) {
    // The document's checks, as every check runs (pg/check.hpp).
    for (const auto& q : nlohmann::json::parse(it->second)) {
      std::string sql = q.get<std::string>();
      ++sql_checks;
      auto verdict = pg::run_check(c, sql);
      if (!verdict.passed) failures.push_back(fmt::format("check \"{}\" {}", sql, verdict.problem));
    }
  }
  if (!failures.empty()) {
    std::string list;
    for (auto& f : failures) list += "\n  - " + f;
    fail(ErrorKind::database, fmt::format("verification failed:{}", list),
         "the restored data does not match the backup; look at the tables named above");
  }
  auto alone = step.params.find("counted_alone");
  std::string more = alone == step.params.end() || alone->second == "0"
                         ? ""
                         : fmt::format(" ({} more tables counted by their row-count steps)", alone->second);
  return {0, 0, fmt::format("{} row counts and {} SQL checks passed{}", checked, sql_checks, more)};
}

}  // namespace pgr::executor
