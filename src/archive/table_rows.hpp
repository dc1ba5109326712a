// What one TABLE DATA entry of an archive holds, read without a server: its row count, its
// column list, and an order-independent digest of its rows (the COPY text lines), for comparing
// with the same table on a target (catalog/table_rows.hpp reads that side).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "archive/archive.hpp"
#include "util/hash.hpp"

namespace pgr::archive {

// Rows of the entry's COPY data (one per line). Reads the whole entry.
std::int64_t count_rows(const Archive& a, const TocEntry& e);
// The column list of the entry's COPY statement ("a, b, c" as pg_dump quotes them), or nullopt
// when the statement has none.
std::optional<std::string> copy_columns(const TocEntry& e);
// The multiset digest of the entry's rows.
MultisetDigest row_digest(const Archive& a, const TocEntry& e);

}  // namespace pgr::archive
