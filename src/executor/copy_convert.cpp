#include "executor/copy_convert.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "executor/split_load.hpp"
#include "util/error.hpp"

namespace pgr::executor {

std::optional<std::vector<std::string>> copy_column_names(const std::string& copy_sql) {
  if (copy_sql.rfind("COPY ", 0) != 0) return std::nullopt;
  size_t pos = 5;
  if (!pg::parse_identifier(copy_sql, pos) || pos >= copy_sql.size() || copy_sql[pos] != '.') return std::nullopt;
  ++pos;
  if (!pg::parse_identifier(copy_sql, pos) || copy_sql.compare(pos, 2, " (") != 0) return std::nullopt;
  pos += 2;
  std::vector<std::string> names;
  for (;;) {
    auto name = pg::parse_identifier(copy_sql, pos);
    if (!name) return std::nullopt;
    names.push_back(*name);
    if (copy_sql.compare(pos, 2, ", ") == 0) {
      pos += 2;
      continue;
    }
    if (copy_sql.compare(pos, 12, ") FROM stdin") != 0) return std::nullopt;
    return names;
  }
}

std::optional<copyfmt::RowConverter> binary_converter(pg::Connection& c, const std::string& copy_sql,
                                                      const std::string& table, std::string* why) {
  auto say = [&](std::string text) -> std::optional<copyfmt::RowConverter> {
    if (why) *why = std::move(text);
    return std::nullopt;
  };
  auto names = copy_column_names(copy_sql);
  if (!names) return say("the archive's COPY statement names no columns");
  auto r = c.exec(
      "SELECT a.attname, a.atttypid::int8, pg_catalog.pg_client_encoding(), "
      "pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
      "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
      {table});
  if (r.rows() == 0) return say("the table has no columns");
  static const std::set<std::string> kUnsafe = {"SJIS", "SHIFT_JIS_2004", "BIG5", "GBK", "UHC", "GB18030", "JOHAB"};
  if (kUnsafe.count(r.str(0, 2))) return say("client_encoding " + r.str(0, 2) + " can hide a backslash in a character");
  std::map<std::string, std::pair<std::int64_t, std::string>> type_of;
  for (int i = 0; i < r.rows(); ++i) type_of[r.str(i, 0)] = {r.int64(i, 1), r.str(i, 3)};
  std::vector<copyfmt::Type> types;
  for (const auto& n : *names) {
    auto t = type_of.find(n);
    if (t == type_of.end()) return say(fmt::format("column {} is not in the target's table", pg::quote_ident(n)));
    auto bt = copyfmt::binary_type(static_cast<std::uint32_t>(t->second.first));
    if (!bt) return say(fmt::format("column {} is {}, which pgrecover does not convert", pg::quote_ident(n), t->second.second));
    types.push_back(*bt);
  }
  return copyfmt::RowConverter(std::move(types));
}

ConvertingLoad::ConvertingLoad(pg::Connection& c, std::string start, std::string copy_sql, bool freeze,
                               std::optional<copyfmt::RowConverter> converter, std::string why_text)
    : c_(c),
      start_(std::move(start)),
      copy_sql_(std::move(copy_sql)),
      freeze_(freeze),
      conv_(std::move(converter)),
      why_(std::move(why_text)) {
  open(conv_.has_value(), true);
}

ConvertingLoad::~ConvertingLoad() = default;

void ConvertingLoad::open(bool binary, bool first) {
  std::string options = binary ? "FORMAT binary" : "";
  if (freeze_) options += options.empty() ? "FREEZE" : ", FREEZE";
  // One round trip: the query string ends in COPY mode (libpq returns at the COPY).
  in_.emplace(c_.copy_in((first ? start_ : std::string()) + copy_sql_ +
                         (options.empty() ? "" : " WITH (" + options + ")")));
  binary_ = binary;
  current_rows_ = 0;
  if (binary_) in_->put(copyfmt::binary_header());
}

void ConvertingLoad::send_text(std::string_view rows) {
  in_->put(rows);
  std::int64_t n = std::count(rows.begin(), rows.end(), '\n');
  text_rows_ += n;
  current_rows_ += n;
}

void ConvertingLoad::end_current(const std::string& what) {
  if (binary_) in_->put(copyfmt::binary_trailer());
  check_loaded(in_->finish(), current_rows_, what);
  in_.reset();
}

void ConvertingLoad::put(std::string_view data) {
  if (!binary_) {
    if (!pending_.empty()) {
      send_text(pending_);
      pending_.clear();
    }
    return send_text(data);
  }
  size_t last = data.rfind('\n');
  if (last == std::string_view::npos) {
    pending_.append(data);
    return;
  }
  if (pending_.empty()) {
    put_rows(data.substr(0, last + 1));
  } else {
    pending_.append(data.substr(0, last + 1));
    put_rows(pending_);
  }
  pending_.assign(data.substr(last + 1));
}

void ConvertingLoad::put_rows(std::string_view rows) {
  out_.clear();
  copyfmt::Refusal refusal;
  if (auto n = conv_->convert(rows, out_, &refusal)) {
    in_->put(out_);
    binary_rows_ += *n;
    current_rows_ += *n;
    return;
  }
  // The rows before the refused one still go in binary; from it on, the rows go as text, in a
  // second COPY of the same transaction.
  size_t cut = 0;
  for (std::int64_t k = 0; k < refusal.row; ++k) cut = rows.find('\n', cut) + 1;
  if (cut > 0) {
    out_.clear();
    auto n = conv_->convert(rows.substr(0, cut), out_);
    if (!n) fail(ErrorKind::internal, "rows that converted once did not convert again");
    in_->put(out_);
    binary_rows_ += *n;
    current_rows_ += *n;
  }
  refusal_ = refusal;
  refused_at_ = binary_rows_;
  end_current("the rows sent in COPY's binary format");
  open(false, false);
  send_text(rows.substr(cut));
}

std::int64_t ConvertingLoad::finish(const std::string& what) {
  if (!pending_.empty()) {  // a last row without its newline
    if (binary_) {
      pending_.push_back('\n');
      put_rows(pending_);
    } else {
      send_text(pending_);
      ++text_rows_;  // its newline would have counted it
      ++current_rows_;
    }
    pending_.clear();
  }
  end_current(what);
  return binary_rows_ + text_rows_;
}

void ConvertingLoad::abort(const std::string& reason) {
  if (in_) in_->abort(reason);
  in_.reset();
}

std::string ConvertingLoad::note() const {
  if (!conv_) return why_.empty() ? "" : "rows as text: " + why_;
  if (!refusal_) return "rows in COPY's binary format, converted by pgrecover";
  std::string where = refusal_->column >= 0 ? fmt::format("column {}: ", refusal_->column + 1) : "";
  return fmt::format("{} rows in COPY's binary format, converted by pgrecover; from row {} on as text ({}{})",
                     binary_rows_, refused_at_ + 1, where, refusal_->why);
}

}  // namespace pgr::executor
