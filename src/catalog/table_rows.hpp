// One table of a target database, read for comparison with an archive's copy of it
// (archive/table_rows.hpp reads that side): its exact row count, and an order-independent
// digest of its rows as COPY text in pg_dump's session settings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/pg.hpp"
#include "util/hash.hpp"

namespace pgr::catalog {

// SELECT count(*) FROM ONLY schema.table.
std::int64_t count_rows(pg::Connection& conn, const std::string& schema, const std::string& table);

// The digest of COPY (SELECT columns FROM ONLY schema.table), read in a read-only transaction
// after `session_sql` (the archive's ENCODING and STDSTRINGS statements) and pg_dump's DateStyle,
// IntervalStyle and extra_float_digits. nullopt when one of the columns does not exist (SQLSTATE
// 42703): the table cannot hold the same rows. `columns` is an already-quoted column list.
std::optional<MultisetDigest> row_digest(pg::Connection& conn, const std::string& schema, const std::string& table,
                                         const std::string& columns, const std::vector<std::string>& session_sql);

}  // namespace pgr::catalog
