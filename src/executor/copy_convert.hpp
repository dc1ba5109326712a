// An archive's COPY text rows loaded in COPY's binary format, converted by pgrecover
// (copyfmt/text_to_binary.hpp), so the load session's server backend does not parse them.
//
// binary_converter() decides per table, from the target's own catalog: every column of the COPY
// must be of a type the converter knows, and the session's client_encoding must be one in which
// a byte 0x5C is always a backslash (not SJIS, BIG5, GBK, UHC, GB18030 or JOHAB, where the
// server parses COPY text only after converting it).
//
// ConvertingLoad streams a table's rows into one transaction: converted rows go in a binary
// COPY; at the first block holding a row the converter refuses, that COPY is ended and the rest
// of the table goes as text in a second COPY of the same transaction (FREEZE still applies: the
// transaction truncated the table). Each COPY's command tag is checked against the rows sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "copyfmt/text_to_binary.hpp"
#include "pg/pg.hpp"

namespace pgr::executor {

// The column names of "COPY s.t (a, "B c") FROM stdin" (unquoted), nullopt when it lists none or
// does not parse.
std::optional<std::vector<std::string>> copy_column_names(const std::string& copy_sql);

// A converter for loading `table` (quoted, schema-qualified) with `copy_sql` on `c`, nullopt when
// the table's rows must go as text; `why` then says why (for the step's note).
std::optional<copyfmt::RowConverter> binary_converter(pg::Connection& c, const std::string& copy_sql,
                                                      const std::string& table, std::string* why = nullptr);

class ConvertingLoad {
 public:
  // `start` runs first, in the same round trip (BEGIN, TRUNCATE, ...); `copy_sql` is the COPY
  // without options; `freeze` adds FREEZE to every COPY. Without a converter, `why_text` says
  // why the rows go as text (binary_converter's `why`).
  ConvertingLoad(pg::Connection& c, std::string start, std::string copy_sql, bool freeze,
                 std::optional<copyfmt::RowConverter> converter, std::string why_text = "");
  ~ConvertingLoad();
  // Any bytes of the table's text stream, rows cut anywhere.
  void put(std::string_view data);
  // Ends the COPY (or COPYs); fails unless the target loaded every row sent. Returns the rows.
  std::int64_t finish(const std::string& what);
  void abort(const std::string& reason);
  // "rows in COPY's binary format, converted by pgrecover", where it fell back to text, or why
  // the rows went as text.
  std::string note() const;
  std::int64_t rows_binary() const { return binary_rows_; }

 private:
  void open(bool binary, bool first);
  void send_text(std::string_view rows);
  void put_rows(std::string_view rows);  // whole rows, converted while they convert
  void end_current(const std::string& what);

  pg::Connection& c_;
  std::string start_, copy_sql_;
  bool freeze_;
  std::optional<copyfmt::RowConverter> conv_;
  std::string why_;
  std::optional<pg::CopyIn> in_;
  bool binary_ = false;
  std::string pending_;                     // a row begun but not yet ended
  std::string out_;                         // binary rows of one block
  std::int64_t binary_rows_ = 0, text_rows_ = 0, current_rows_ = 0;
  std::optional<copyfmt::Refusal> refusal_;  // where the conversion stopped
  std::int64_t refused_at_ = -1;             // rows before the refused block
};

}  // namespace pgr::executor
