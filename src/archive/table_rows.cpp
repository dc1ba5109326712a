#include "archive/table_rows.hpp"

#include <algorithm>
#include <vector>

namespace pgr::archive {

std::int64_t count_rows(const Archive& a, const TocEntry& e) {
  auto reader = a.open_data(e);
  std::vector<char> buf(1 << 20);
  std::int64_t rows = 0;
  for (size_t n; (n = reader->read(buf.data(), buf.size())) > 0;) rows += std::count(buf.data(), buf.data() + n, '\n');
  return rows;
}

std::optional<std::string> copy_columns(const TocEntry& e) {
  auto open = e.copy_stmt.find(" (");
  auto close = e.copy_stmt.rfind(") FROM stdin");
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  return e.copy_stmt.substr(open + 2, close - open - 2);
}

MultisetDigest row_digest(const Archive& a, const TocEntry& e) {
  MultisetDigest d;
  auto reader = a.open_data(e);
  for (std::string row; reader->next_row(row);) d.add(row);
  return d;
}

}  // namespace pgr::archive
