// COPY's text rows turned into COPY's binary format on the client, so the server loads a table
// without parsing its values (the single load session's own work shrinks; the parsing moves to
// pgrecover, on another core).
//
// Only what the server would read back to the very same stored value is converted: columns of a
// handful of built-in types (binary_type), each value in the exact form PostgreSQL's own output
// functions write it (what pg_dump puts in an archive: ISO dates with DateStyle ISO, shortest
// exact floats, hex bytea, canonical uuids). Anything else (a BC date, an int with a '+', a
// domain, an escape the server would read differently) is refused, never guessed: the caller then
// sends those rows as text and the server parses them as it always does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgr::copyfmt {

enum class Type : std::uint8_t {
  boolean, bytea, int2, int4, int8, float4, float8, text, json, jsonb, date, timestamp, timestamptz, uuid
};

// The converter's type for a column of the built-in type with this oid; nullopt for every other
// type (domains, enums, arrays, numeric, extension types...). text, varchar and bpchar are all
// `text` here: their receive functions apply the column's length exactly as their input does.
std::optional<Type> binary_type(std::uint32_t type_oid);

// The 19-byte header and the 2-byte trailer of a COPY binary stream.
std::string_view binary_header();
std::string_view binary_trailer();

struct Refusal {
  std::int64_t row = 0;  // 0-based, within the rows given to convert()
  int column = -1;       // 0-based; -1: the row itself (column count, line ending)
  std::string why;
};

class RowConverter {
 public:
  explicit RowConverter(std::vector<Type> columns) : columns_(std::move(columns)) {}
  // Appends the binary form of `rows` (whole COPY text rows, each ending in '\n') to `out` and
  // returns how many rows they were. When a row cannot be converted exactly, `out` is put back to
  // its size at entry, `refusal` (when given) says which and why, and nullopt is returned.
  std::optional<std::int64_t> convert(std::string_view rows, std::string& out, Refusal* refusal = nullptr) const;

 private:
  std::vector<Type> columns_;
};

}  // namespace pgr::copyfmt
