#include "archive/toc.hpp"

#include "archive/backends.hpp"

#include <charconv>
#include <cstring>
#include <unordered_set>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/hash.hpp"

namespace pgr::archive {

const char* to_string(Format f) noexcept {
  switch (f) {
    case Format::directory: return "directory";
    case Format::custom: return "custom";
    case Format::tar: return "tar";
  }
  return "?";
}

const char* to_string(Compression c) noexcept {
  switch (c) {
    case Compression::none: return "none";
    case Compression::gzip: return "gzip";
    case Compression::lz4: return "lz4";
    case Compression::zstd: return "zstd";
  }
  return "?";
}

const char* to_string(Section s) noexcept {
  switch (s) {
    case Section::none: return "none";
    case Section::pre_data: return "pre-data";
    case Section::data: return "data";
    case Section::post_data: return "post-data";
  }
  return "?";
}

namespace detail {

namespace {

constexpr int kMinMinor = 12;  // PostgreSQL 12 wrote 1.14; 1.12 and 1.13 come from 9.6 to 11
constexpr int kMaxMinor = 16;

int read_byte(Input& in) {
  char c = 0;
  in.read(&c, 1);
  return static_cast<unsigned char>(c);
}

std::string str_or_empty(Input& in, const Encoding& enc) {
  std::string s;
  read_str(in, enc, s);
  return s;
}

// An OID or dump id written as decimal text; empty or non-numeric is a corrupt TOC.
int parse_dump_id(const std::string& text, Input& in, std::int64_t at, const char* what) {
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || v <= 0) {
    fail_at(in.origin(), at, fmt::format("invalid {} \"{}\"", what, text.substr(0, 40)));
  }
  return v;
}

void check_oid_text(const std::string& text, Input& in, std::int64_t at) {
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || p != text.data() + text.size()) {
    fail_at(in.origin(), at, fmt::format("invalid OID \"{}\"", text.substr(0, 40)));
  }
}

Header read_header(Input& in, Format expected) {
  Header h;
  std::int64_t start = in.offset();
  char magic[5];
  in.read(magic, 5);
  if (std::memcmp(magic, "PGDMP", 5) != 0) fail_at(in.origin(), start, "no \"PGDMP\" magic string");
  std::int64_t at = in.offset();
  h.version_major = read_byte(in);
  h.version_minor = read_byte(in);
  h.version_rev = read_byte(in);
  if (h.version_major != 1 || h.version_minor < kMinMinor || h.version_minor > kMaxMinor) {
    fail(ErrorKind::archive,
         fmt::format("{}: unsupported archive version {}.{}.{} at byte {}", in.origin(),
                     h.version_major, h.version_minor, h.version_rev, at),
         "pgrecover reads archives of versions 1.12 to 1.16 (pg_dump 9.6 to 17)");
  }
  at = in.offset();
  h.int_size = read_byte(in);
  if (h.int_size < 1 || h.int_size > 8) fail_at(in.origin(), at, fmt::format("integer size {} is not 1 to 8", h.int_size));
  at = in.offset();
  h.offset_size = read_byte(in);
  if (h.offset_size < 1 || h.offset_size > 8) {
    fail_at(in.origin(), at, fmt::format("offset size {} is not 1 to 8", h.offset_size));
  }
  at = in.offset();
  int fmt_byte = read_byte(in);
  int want = expected == Format::custom ? kFmtCustom : expected == Format::tar ? kFmtTar : kFmtDirectory;
  // pg_backup_directory.c writes "tar" into toc.dat ("the directory is compatible with tar").
  bool ok = fmt_byte == want || (expected == Format::directory && fmt_byte == kFmtTar);
  if (!ok) {
    fail_at(in.origin(), at, fmt::format("format byte {} does not match the {} format ({})", fmt_byte,
                                         to_string(expected), want));
  }
  h.format = expected;
  Encoding enc = encoding_of(h);
  at = in.offset();
  if (h.version_minor >= 15) {
    int algo = read_byte(in);  // pg_compress_algorithm: none, gzip, lz4, zstd
    if (algo > 3) fail_at(in.origin(), at, fmt::format("unknown compression algorithm {}", algo));
    h.compression = static_cast<Compression>(algo);
    h.compression_level = 0;  // not recorded since 1.15
  } else {
    h.compression_level = read_int(in, enc);
    if (h.compression_level < -1 || h.compression_level > 9) {
      fail_at(in.origin(), at, fmt::format("compression level {} out of range", h.compression_level));
    }
    h.compression = h.compression_level != 0 ? Compression::gzip : Compression::none;
  }
  int tm[7];
  for (int& v : tm) v = read_int(in, enc);  // sec, min, hour, mday, mon, year, isdst
  if (tm[0] >= 0 && tm[0] <= 61 && tm[1] >= 0 && tm[1] < 60 && tm[2] >= 0 && tm[2] < 24 && tm[3] >= 1 &&
      tm[3] <= 31 && tm[4] >= 0 && tm[4] < 12 && tm[5] >= 0 && tm[5] < 9000) {
    h.created_at = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm[5] + 1900, tm[4] + 1, tm[3],
                               tm[2], tm[1], tm[0]);
  }
  h.database = str_or_empty(in, enc);
  h.server_version = str_or_empty(in, enc);
  h.dump_version = str_or_empty(in, enc);
  return h;
}

TocEntry read_entry(Input& in, const Header& h, const Encoding& enc) {
  TocEntry te;
  std::int64_t at = in.offset();
  te.id = read_int(in, enc);
  if (te.id <= 0) fail_at(in.origin(), at, fmt::format("entry id {} out of range", te.id));
  at = in.offset();
  int had = read_int(in, enc);
  if (had != 0 && had != 1) fail_at(in.origin(), at, fmt::format("entry {}: had-dumper flag {} is not 0 or 1", te.id, had));
  te.had_dumper = had == 1;
  at = in.offset();
  te.table_oid = str_or_empty(in, enc);
  check_oid_text(te.table_oid, in, at);
  at = in.offset();
  te.oid = str_or_empty(in, enc);
  check_oid_text(te.oid, in, at);
  te.tag = str_or_empty(in, enc);
  te.desc = str_or_empty(in, enc);
  at = in.offset();
  int section = read_int(in, enc);  // teSection: SECTION_NONE = 1 .. SECTION_POST_DATA = 4
  if (section < 1 || section > 4) fail_at(in.origin(), at, fmt::format("entry {}: section {} out of range", te.id, section));
  te.section = static_cast<Section>(section - 1);
  te.defn = str_or_empty(in, enc);
  te.drop_stmt = str_or_empty(in, enc);
  te.copy_stmt = str_or_empty(in, enc);
  te.namespace_ = str_or_empty(in, enc);
  te.tablespace = str_or_empty(in, enc);
  if (h.version_minor >= 14) te.table_am = str_or_empty(in, enc);
  if (h.version_minor >= 16) {
    at = in.offset();
    int relkind = read_int(in, enc);
    if (relkind < 0 || relkind > 127) fail_at(in.origin(), at, fmt::format("entry {}: relkind {} out of range", te.id, relkind));
    te.relkind = static_cast<char>(relkind);
  }
  te.owner = str_or_empty(in, enc);
  std::string with_oids;
  read_str(in, enc, with_oids);  // "true"/"false"; WITH OIDS is gone since PostgreSQL 12
  for (;;) {
    at = in.offset();
    std::string dep;
    if (!read_str(in, enc, dep)) break;
    te.dependencies.push_back(parse_dump_id(dep, in, at, "dependency id"));
  }
  at = in.offset();
  if (h.format == Format::custom) {
    std::int64_t off = -1;
    int flag = read_offset(in, enc, &off);
    if (flag == kOffsetPosSet) {
      te.data.kind = DataLocation::Kind::offset;
      te.data.offset = off;
    } else if (flag == kOffsetPosNotSet) {
      te.data.kind = DataLocation::Kind::offset;  // found later by scanning the data blocks
      te.data.offset = -1;
    }
  } else {
    std::string file;
    if (read_str(in, enc, file) && !file.empty()) {
      if (!safe_member_name(file)) {
        fail(ErrorKind::archive,
             fmt::format("{}: {} names data file \"{}\" outside the archive folder (byte {})", in.origin(),
                         describe(te), printable(file), at),
             "refusing to open it; the archive was tampered with");
      }
      te.data.kind = DataLocation::Kind::file;
      te.data.file = file;
    }
  }
  return te;
}

}  // namespace

Encoding encoding_of(const Header& h) { return Encoding{h.int_size, h.offset_size}; }

Toc parse_header_and_toc(Input& in, Format expected) {
  Toc toc;
  toc.header = read_header(in, expected);
  Encoding enc = encoding_of(toc.header);
  std::int64_t at = in.offset();
  int count = read_int(in, enc);
  if (count < 0) fail_at(in.origin(), at, fmt::format("negative TOC entry count {}", count));
  // Every entry takes well over 10 bytes; a count the remaining bytes cannot hold is corrupt.
  if (count > in.remaining() / 10 + 1) {
    fail_at(in.origin(), at, fmt::format("TOC entry count {} cannot fit in the {} bytes left", count, in.remaining()));
  }
  toc.entries.reserve(static_cast<std::size_t>(count));
  std::unordered_set<int> seen;
  for (int i = 0; i < count; ++i) {
    at = in.offset();
    TocEntry te = read_entry(in, toc.header, enc);
    if (!seen.insert(te.id).second) fail_at(in.origin(), at, fmt::format("duplicate entry id {}", te.id));
    toc.entries.push_back(std::move(te));
  }
  return toc;
}

}  // namespace detail

Toc parse_toc(std::string_view bytes, Format format, const std::string& origin) {
  detail::MemoryInput in(bytes, origin);
  Toc toc = detail::parse_header_and_toc(in, format);
  toc.checksum = sha256_hex(in.consumed());
  return toc;
}

bool safe_member_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  if (name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c == '\0' || c == '\\') return false;
  }
  return true;
}

}  // namespace pgr::archive
