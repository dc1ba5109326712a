#include "copyfmt/text_to_binary.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace pgr::copyfmt {

namespace {

void put16(std::string& out, std::uint16_t v) {
  char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 2);
}
void put32(std::string& out, std::uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}
void put64(std::string& out, std::uint64_t v) {
  put32(out, static_cast<std::uint32_t>(v >> 32));
  put32(out, static_cast<std::uint32_t>(v));
}

bool digits(std::string_view s, size_t pos, size_t n, int& value) {
  if (pos + n > s.size()) return false;
  value = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    value = value * 10 + (s[i] - '0');
  }
  return true;
}

// Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

constexpr std::int64_t kPgEpochDays = 10957;  // 2000-01-01, PostgreSQL's epoch, from 1970-01-01
constexpr std::int64_t kUsecPerSec = 1000000;

int days_in_month(int y, int m) {
  static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : dim[m - 1];
}

// "YYYY-MM-DD" (DateStyle ISO, years 1 to 9999): days from PostgreSQL's epoch.
bool parse_date(std::string_view s, std::int64_t& days) {
  int y, m, d;
  if (s.size() < 10 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, m) || s[7] != '-' ||
      !digits(s, 8, 2, d)) {
    return false;
  }
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return false;
  days = days_from_civil(y, m, d) - kPgEpochDays;
  return true;
}

// "YYYY-MM-DD HH:MM:SS[.f{1,6}]": microseconds from PostgreSQL's epoch; `used` is its length.
bool parse_timestamp(std::string_view s, std::int64_t& usec, size_t& used) {
  std::int64_t days;
  int h, mi, se;
  if (!parse_date(s, days) || s.size() < 19 || s[10] != ' ' || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se)) {
    return false;
  }
  if (h > 23 || mi > 59 || se > 59) return false;
  std::int64_t frac = 0;
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') frac = frac * 10 + (s[pos++] - '0');
    size_t n = pos - start;
    if (n == 0 || n > 6) return false;
    for (; n < 6; ++n) frac *= 10;
  }
  usec = ((days * 24 + h) * 60 + mi) * 60 * kUsecPerSec + se * kUsecPerSec + frac;
  used = pos;
  return true;
}

// The UTC offset PostgreSQL's ISO output appends: +HH, +HH:MM or +HH:MM:SS (or '-').
bool parse_offset(std::string_view s, std::int64_t& seconds) {
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return false;
  int h, m = 0, sec = 0;
  if (!digits(s, 1, 2, h)) return false;
  size_t pos = 3;
  if (pos < s.size()) {
    if (s[pos] != ':' || !digits(s, pos + 1, 2, m)) return false;
    pos += 3;
    if (pos < s.size()) {
      if (s[pos] != ':' || !digits(s, pos + 1, 2, sec)) return false;
      pos += 3;
    }
  }
  if (pos != s.size() || h > 15 || m > 59 || sec > 59) return false;
  seconds = (s[0] == '-' ? -1 : 1) * ((h * 60 + m) * 60 + sec);
  return true;
}

template <typename Int>
bool parse_int(std::string_view s, Int& v) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

// PostgreSQL's float output: shortest exact digits, or NaN / Infinity / -Infinity.
template <typename Float>
bool parse_float(std::string_view s, Float& v) {
  if (s == "NaN") {
    v = std::numeric_limits<Float>::quiet_NaN();
    return true;
  }
  if (s == "Infinity" || s == "-Infinity") {
    v = s[0] == '-' ? -std::numeric_limits<Float>::infinity() : std::numeric_limits<Float>::infinity();
    return true;
  }
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == '-' || c == '+')) return false;
  }
  auto r = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size() && std::isfinite(v);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_uuid(std::string_view s, std::string& out) {
  if (s.size() != 36) return false;
  char bytes[16];
  size_t b = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
      ++i;
      continue;
    }
    int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes[b++] = static_cast<char>(hi << 4 | lo);
    i += 2;
  }
  put32(out, 16);
  out.append(bytes, 16);
  return true;
}

// COPY text's escapes as COPY TO writes them (\b \f \n \r \t \v \\): anything else the server
// would read in its own way (octal or hex bytes, "\." markers, other letters) is refused.
bool unescape(std::string_view raw, std::string& out) {
  out.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\r' || c == '\0') return false;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i == raw.size()) return false;
    switch (raw[i]) {
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case '\\': out.push_back('\\'); break;
      default: return false;
    }
  }
  return true;
}

bool put_bytes(std::string& out, std::string_view data) {
  if (data.size() > static_cast<size_t>(std::numeric_limits<std::int32_t>::max())) return false;
  put32(out, static_cast<std::uint32_t>(data.size()));
  out.append(data);
  return true;
}

// bool, integers and floats.
bool convert_number(Type t, std::string_view raw, std::string& out) {
  switch (t) {
    case Type::boolean:
      if (raw != "t" && raw != "f") return false;
      put32(out, 1);
      out.push_back(raw == "t" ? 1 : 0);
      return true;
    case Type::int2: {
      std::int16_t v;
      if (!parse_int(raw, v)) return false;
      put32(out, 2);
      put16(out, static_cast<std::uint16_t>(v));
      return true;
    }
    case Type::int4: {
      std::int32_t v;
      if (!parse_int(raw, v)) return false;
      put32(out, 4);
      put32(out, static_cast<std::uint32_t>(v));
      return true;
    }
    case Type::int8: {
      std::int64_t v;
      if (!parse_int(raw, v)) return false;
      put32(out, 8);
      put64(out, static_cast<std::uint64_t>(v));
      return true;
    }
    case Type::float4: {
      float v;
      if (!parse_float(raw, v)) return false;
      std::uint32_t bits;
      if (std::isnan(v)) {
        bits = 0x7fc00000u;  // the NaN float4in stores
      } else {
        std::memcpy(&bits, &v, 4);
      }
      put32(out, 4);
      put32(out, bits);
      return true;
    }
    case Type::float8: {
      double v;
      if (!parse_float(raw, v)) return false;
      std::uint64_t bits;
      if (std::isnan(v)) {
        bits = 0x7ff8000000000000ull;  // the NaN float8in stores
      } else {
        std::memcpy(&bits, &v, 8);
      }
      put32(out, 8);
      put64(out, bits);
      return true;
    }
    default:
      return false;
  }
}

// date, timestamp and timestamptz: days or microseconds from 2000-01-01, or the infinities.
bool convert_temporal(Type t, std::string_view raw, std::string& out) {
  switch (t) {
    case Type::date: {
      std::int32_t v;
      if (raw == "infinity") {
        v = std::numeric_limits<std::int32_t>::max();
      } else if (raw == "-infinity") {
        v = std::numeric_limits<std::int32_t>::min();
      } else {
        std::int64_t days;
        if (raw.size() != 10 || !parse_date(raw, days)) return false;
        v = static_cast<std::int32_t>(days);
      }
      put32(out, 4);
      put32(out, static_cast<std::uint32_t>(v));
      return true;
    }
    case Type::timestamp:
    case Type::timestamptz: {
      std::int64_t v;
      if (raw == "infinity") {
        v = std::numeric_limits<std::int64_t>::max();
      } else if (raw == "-infinity") {
        v = std::numeric_limits<std::int64_t>::min();
      } else {
        size_t used = 0;
        if (!parse_timestamp(raw, v, used)) return false;
        if (t == Type::timestamp) {
          if (used != raw.size()) return false;
        } else {
          std::int64_t offset;
          if (!parse_offset(raw.substr(used), offset)) return false;
          v -= offset * kUsecPerSec;
        }
      }
      put32(out, 8);
      put64(out, static_cast<std::uint64_t>(v));
      return true;
    }
    default:
      return false;
  }
}

// One non-NULL field; `raw` is as it stands in the row (escapes not yet applied).
bool convert_field(Type t, std::string_view raw, std::string& out, std::string& scratch) {
  // No backslash: the value stands as it is, with no escape to undo.
  auto plain = [&] { return raw.find('\\') == std::string_view::npos; };
  switch (t) {
    case Type::boolean:
    case Type::int2:
    case Type::int4:
    case Type::int8:
    case Type::float4:
    case Type::float8:
      return convert_number(t, raw, out);
    case Type::date:
    case Type::timestamp:
    case Type::timestamptz:
      return convert_temporal(t, raw, out);
    case Type::text:
    case Type::json:
      if (plain()) return put_bytes(out, raw);
      return unescape(raw, scratch) && put_bytes(out, scratch);
    case Type::jsonb: {
      std::string_view v = raw;
      if (!plain()) {
        if (!unescape(raw, scratch)) return false;
        v = scratch;
      }
      if (v.size() >= static_cast<size_t>(std::numeric_limits<std::int32_t>::max())) return false;
      put32(out, static_cast<std::uint32_t>(v.size() + 1));
      out.push_back(1);  // jsonb's binary format version, then its text
      out.append(v);
      return true;
    }
    case Type::bytea: {
      // "\\x0a1b..." in COPY text: the hex format, its backslash escaped.
      if (raw.size() < 3 || raw.substr(0, 3) != "\\\\x" || (raw.size() - 3) % 2 != 0) return false;
      const size_t n = (raw.size() - 3) / 2;
      if (n > static_cast<size_t>(std::numeric_limits<std::int32_t>::max())) return false;
      put32(out, static_cast<std::uint32_t>(n));
      const size_t at = out.size();
      out.resize(at + n);
      for (size_t i = 0; i < n; ++i) {
        int hi = hex_value(raw[3 + 2 * i]), lo = hex_value(raw[4 + 2 * i]);
        if (hi < 0 || lo < 0) return false;
        out[at + i] = static_cast<char>(hi << 4 | lo);
      }
      return true;
    }
    case Type::uuid:
      return parse_uuid(raw, out);
  }
  return false;
}

}  // namespace

std::optional<Type> binary_type(std::uint32_t oid) {
  switch (oid) {
    case 16: return Type::boolean;
    case 17: return Type::bytea;
    case 20: return Type::int8;
    case 21: return Type::int2;
    case 23: return Type::int4;
    case 25: return Type::text;
    case 114: return Type::json;
    case 700: return Type::float4;
    case 701: return Type::float8;
    case 1042: return Type::text;  // bpchar: bpcharrecv pads and checks the length as bpcharin does
    case 1043: return Type::text;  // varchar: likewise varcharrecv
    case 1082: return Type::date;
    case 1114: return Type::timestamp;
    case 1184: return Type::timestamptz;
    case 2950: return Type::uuid;
    case 3802: return Type::jsonb;
    default: return std::nullopt;
  }
}

std::string_view binary_header() {
  static const char h[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0', 0, 0, 0, 0, 0, 0, 0, 0};
  return {h, sizeof h};
}

std::string_view binary_trailer() {
  static const char t[2] = {'\377', '\377'};
  return {t, 2};
}

std::optional<std::int64_t> RowConverter::convert(std::string_view rows, std::string& out, Refusal* refusal) const {
  const size_t entry = out.size();
  std::string scratch;
  std::int64_t row = 0;
  auto refuse = [&](int column, std::string why) -> std::optional<std::int64_t> {
    out.resize(entry);
    if (refusal) *refusal = {row, column, std::move(why)};
    return std::nullopt;
  };
  const int ncols = static_cast<int>(columns_.size());
  size_t pos = 0;
  while (pos < rows.size()) {
    size_t end = rows.find('\n', pos);
    if (end == std::string_view::npos) return refuse(-1, "a row without its newline");
    std::string_view line = rows.substr(pos, end - pos);
    // A raw carriage return: the server would take it for a line ending (and fail the COPY).
    if (line.find('\r') != std::string_view::npos) return refuse(-1, "a raw carriage return");
    put16(out, static_cast<std::uint16_t>(ncols));
    size_t fstart = 0;
    for (int col = 0; col < ncols; ++col) {
      size_t fend = line.find('\t', fstart);
      if ((fend == std::string_view::npos) != (col == ncols - 1)) return refuse(-1, "not one value per column");
      if (fend == std::string_view::npos) fend = line.size();
      std::string_view raw = line.substr(fstart, fend - fstart);
      if (raw == "\\N") {
        put32(out, 0xffffffffu);
      } else if (!raw.empty() && raw.back() == '\\' && (raw.size() < 2 || raw[raw.size() - 2] != '\\')) {
        return refuse(col, "a value ending in a backslash");  // the server would read on past the tab
      } else if (!convert_field(columns_[col], raw, out, scratch)) {
        return refuse(col, "not written as PostgreSQL writes this type");
      }
      fstart = fend + 1;
    }
    pos = end + 1;
    ++row;
  }
  return row;
}

}  // namespace pgr::copyfmt
