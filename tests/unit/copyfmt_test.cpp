// COPY text rows turned into COPY's binary format (src/copyfmt/): the exact bytes PostgreSQL's
// receive functions read for each type, and every form the converter must refuse rather than
// guess (the integration test binary_convert_test checks the values against a real server).
#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "copyfmt/text_to_binary.hpp"

using namespace pgr::copyfmt;

namespace {

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string be64(std::uint64_t v) { return be32(static_cast<std::uint32_t>(v >> 32)) + be32(static_cast<std::uint32_t>(v)); }
std::string field(const std::string& bytes) { return be32(static_cast<std::uint32_t>(bytes.size())) + bytes; }
std::string row(int n) { return {static_cast<char>(n >> 8), static_cast<char>(n)}; }

// The binary form of one value of one column, or "REFUSED".
std::string one(Type t, const std::string& text) {
  RowConverter c({t});
  std::string out;
  if (!c.convert(text + "\n", out)) return "REFUSED";
  REQUIRE(out.substr(0, 2) == row(1));
  return out.substr(2);
}

std::string f8(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, 8);
  return field(be64(b));
}

}  // namespace

TEST_CASE("copyfmt: the header and trailer of COPY's binary format", "[copyfmt]") {
  CHECK(binary_header() == std::string("PGCOPY\n\377\r\n\0", 11) + std::string(8, '\0'));
  CHECK(binary_trailer() == std::string("\377\377", 2));
}

TEST_CASE("copyfmt: only built-in types whose receive function reads what their input reads", "[copyfmt]") {
  CHECK(binary_type(23) == Type::int4);
  CHECK(binary_type(1043) == Type::text);      // varchar
  CHECK(binary_type(3802) == Type::jsonb);
  CHECK_FALSE(binary_type(1700).has_value());  // numeric
  CHECK_FALSE(binary_type(19).has_value());    // name: namerecv refuses what namein truncates
  CHECK_FALSE(binary_type(18).has_value());    // "char"
  CHECK_FALSE(binary_type(1007).has_value());  // int4[]
  CHECK_FALSE(binary_type(16384).has_value()); // anything created (domains, enums, extensions)
}

TEST_CASE("copyfmt: values as PostgreSQL writes them become the bytes its receive functions read", "[copyfmt]") {
  CHECK(one(Type::int2, "-32768") == field(std::string("\x80\x00", 2)));
  CHECK(one(Type::int4, "-1") == field(be32(0xffffffffu)));
  CHECK(one(Type::int8, "9223372036854775807") == field(be64(0x7fffffffffffffffull)));
  CHECK(one(Type::boolean, "t") == field(std::string(1, '\1')));
  CHECK(one(Type::boolean, "f") == field(std::string(1, '\0')));
  CHECK(one(Type::float8, "550.9285800523352") == f8(550.9285800523352));
  CHECK(one(Type::float8, "-0") == field(be64(0x8000000000000000ull)));
  CHECK(one(Type::float8, "NaN") == field(be64(0x7ff8000000000000ull)));
  CHECK(one(Type::float8, "-Infinity") == field(be64(0xfff0000000000000ull)));
  CHECK(one(Type::float8, "1e+300") == f8(1e300));
  CHECK(one(Type::float4, "NaN") == field(be32(0x7fc00000u)));
  CHECK(one(Type::float4, "1.5") == field(be32(0x3fc00000u)));
  // Days and microseconds from 2000-01-01, PostgreSQL's epoch.
  CHECK(one(Type::date, "2000-01-01") == field(be32(0)));
  CHECK(one(Type::date, "1999-12-31") == field(be32(0xffffffffu)));
  CHECK(one(Type::date, "2024-02-29") == field(be32(8825)));
  CHECK(one(Type::date, "infinity") == field(be32(0x7fffffffu)));
  CHECK(one(Type::date, "-infinity") == field(be32(0x80000000u)));
  CHECK(one(Type::timestamp, "2000-01-01 00:00:01.5") == field(be64(1500000)));
  CHECK(one(Type::timestamp, "1970-01-01 00:00:00") == field(be64(static_cast<std::uint64_t>(-946684800000000LL))));
  CHECK(one(Type::timestamptz, "2000-01-01 01:00:00+01") == field(be64(0)));
  CHECK(one(Type::timestamptz, "1999-12-31 18:30:00.000001-05:30") == field(be64(1)));
  CHECK(one(Type::timestamptz, "2000-01-01 00:53:28+00:53:28") == field(be64(0)));
  CHECK(one(Type::uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11") ==
        field(std::string("\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11", 16)));
  CHECK(one(Type::bytea, "\\\\x00ff41") == field(std::string("\0\xff" "A", 3)));
  CHECK(one(Type::bytea, "\\\\x") == field(""));
  CHECK(one(Type::jsonb, "{\"a\": \"x\\\\\"y\"}") == field("\1{\"a\": \"x\\\"y\"}"));
  // COPY's own escapes, as COPY TO writes them.
  CHECK(one(Type::text, "a\\tb\\nc\\\\d\\re\\bf\\fg\\vh") == field("a\tb\nc\\d\re\bf\fg\vh"));
  CHECK(one(Type::text, "") == field(""));
  CHECK(one(Type::text, "\\N") == be32(0xffffffffu));  // NULL
  CHECK(one(Type::text, "\\\\N") == field("\\N"));     // the two characters \N
}

TEST_CASE("copyfmt: anything PostgreSQL does not write that way is refused, not guessed", "[copyfmt]") {
  for (const char* v : {"+1", " 1", "1.0", "", "40000", "0x10"}) CHECK(one(Type::int2, v) == "REFUSED");
  CHECK(one(Type::int8, "9223372036854775808") == "REFUSED");
  for (const char* v : {"nan", "inf", "1e-400", "1e400", " 1", "1,5", "0x1p3"}) CHECK(one(Type::float8, v) == "REFUSED");
  for (const char* v : {"true", "1", "T"}) CHECK(one(Type::boolean, v) == "REFUSED");
  for (const char* v : {"0001-01-01 BC", "2023-02-29", "2023-13-01", "10000-01-01", "01/02/2023", "0000-01-01"})
    CHECK(one(Type::date, v) == "REFUSED");
  for (const char* v : {"2023-01-01 24:00:00", "2023-01-01 23:59:60", "2023-01-01 00:00:00.1234567",
                        "2023-01-01T00:00:00", "2023-01-01 00:00:00+00", "2023-01-01 00:00"})
    CHECK(one(Type::timestamp, v) == "REFUSED");
  for (const char* v : {"2023-01-01 00:00:00", "2023-01-01 00:00:00 UTC", "2023-01-01 00:00:00+1", "2023-01-01 00:00:00+16"})
    CHECK(one(Type::timestamptz, v) == "REFUSED");
  for (const char* v : {"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "a0eebc999c0b4ef8bb6d6bb9bd380a11"})
    CHECK(one(Type::uuid, v) == "REFUSED");
  for (const char* v : {"\\\\x0", "\\\\xzz", "abc", "\\\\001"}) CHECK(one(Type::bytea, v) == "REFUSED");
  // Escapes the server would read its own way: octal and hex bytes, other letters, a lone
  // backslash at the end (the server would read on past the delimiter), a raw carriage return.
  for (const char* v : {"\\101", "\\x41", "\\a", "ab\\", "a\rb", "\\."}) CHECK(one(Type::text, v) == "REFUSED");
}

TEST_CASE("copyfmt: a refused row leaves the output as it was and says where", "[copyfmt]") {
  RowConverter c({Type::int4, Type::text});
  std::string out = "kept";
  Refusal r;
  CHECK_FALSE(c.convert("1\ta\n2\tb\n3\tc\\101\n4\td\n", out, &r));
  CHECK(out == "kept");
  CHECK(r.row == 2);
  CHECK(r.column == 1);
  CHECK_FALSE(c.convert("1\ta\tb\n", out, &r));  // one value too many
  CHECK(r.column == -1);
  CHECK_FALSE(c.convert("1\n", out, &r));        // one too few
  CHECK_FALSE(c.convert("1\ta", out, &r));       // no newline
  auto n = c.convert("1\ta\n\\N\t\\N\n", out);
  REQUIRE(n);
  CHECK(*n == 2);
  CHECK(out == "kept" + row(2) + field(be32(1)) + field("a") + row(2) + be32(0xffffffffu) + be32(0xffffffffu));
}
