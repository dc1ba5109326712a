#include "archive/plain_script.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <filesystem>

#include <fmt/format.h>

#include "archive/stream.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

namespace pgr::archive {

namespace {

Compression sniff(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail(ErrorKind::input, fmt::format("{}: cannot open the SQL script: {}", path, std::strerror(errno)),
         "check spec.from.sql_file");
  }
  unsigned char head[5] = {0};
  ssize_t n = ::read(fd, head, sizeof head);
  ::close(fd);
  if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return Compression::gzip;
  if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) return Compression::zstd;
  if (n >= 4 && head[0] == 0x04 && head[1] == 0x22 && head[2] == 0x4d && head[3] == 0x18) return Compression::lz4;
  if (n >= 5 && std::memcmp(head, "PGDMP", 5) == 0) {
    fail(ErrorKind::input, fmt::format("{}: a pg_dump custom-format archive, not a plain SQL script", path),
         "use spec.from.archive for it");
  }
  return Compression::none;
}

// Counts the bytes the decompressor takes from the file.
class CountingSource final : public detail::Source {
 public:
  explicit CountingSource(std::unique_ptr<detail::Source> in) : in_(std::move(in)) {}
  std::size_t read(char* buf, std::size_t cap) override {
    std::size_t n = in_->read(buf, cap);
    count_ += n;
    return n;
  }
  std::uint64_t count() const { return count_; }

 private:
  std::unique_ptr<detail::Source> in_;
  std::uint64_t count_ = 0;
};

class Reader final : public PlainScriptReader {
 public:
  Reader(const std::string& path, Compression c) {
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    if (ec) fail(ErrorKind::input, fmt::format("{}: cannot read the SQL script: {}", path, ec.message()));
    auto counting = std::make_unique<CountingSource>(detail::file_range_source(path, path, 0, static_cast<std::int64_t>(size)));
    counter_ = counting.get();
    src_ = detail::decompress(c, std::move(counting), path);
  }
  std::size_t read(char* buf, std::size_t cap) override { return src_->read(buf, cap); }
  std::uint64_t file_bytes_read() const override { return counter_->count(); }

 private:
  CountingSource* counter_ = nullptr;
  std::unique_ptr<detail::Source> src_;
};

bool starts(const std::string& line, std::string_view prefix) { return line.compare(0, prefix.size(), prefix) == 0; }

// An identifier as pg_dump writes it (quoted or plain) at pos; advances pos.
std::string ident(const std::string& s, size_t& pos) {
  std::string out;
  if (pos < s.size() && s[pos] == '"') {
    for (++pos; pos < s.size(); ++pos) {
      if (s[pos] == '"') {
        if (pos + 1 < s.size() && s[pos + 1] == '"') {
          out += '"';
          ++pos;
          continue;
        }
        ++pos;
        break;
      }
      out += s[pos];
    }
    return out;
  }
  while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '_' || s[pos] == '$' ||
                            static_cast<unsigned char>(s[pos]) >= 0x80)) {
    out += s[pos++];
  }
  return out;
}

// "COPY schema.table (a, b) FROM stdin;" -> (schema, table); pg_dump always qualifies.
std::pair<std::string, std::string> copy_target(const std::string& line) {
  size_t pos = 5;
  std::string schema = ident(line, pos);
  if (pos >= line.size() || line[pos] != '.') return {"", schema};
  ++pos;
  return {schema, ident(line, pos)};
}

using Copying = std::optional<std::pair<std::string, std::string>>;

void take_line(PlainScript& s, const std::string& line, Copying& copying, std::int64_t& rows) {
  if (copying) {
    if (line == "\\.") {
      if (!s.connects) s.row_counts[*copying] += rows;  // one database's tables only
      copying.reset();
    } else {
      ++rows;
    }
    return;
  }
  if (line.empty() || starts(line, "--")) {
    if (starts(line, "-- PostgreSQL database cluster dump")) s.cluster_dump = true;
    return;
  }
  if (starts(line, "COPY ") && line.find(" FROM stdin;") != std::string::npos) {
    copying = copy_target(line);
    rows = 0;
  } else if (starts(line, "\\connect ")) {
    s.connects = true;
    s.row_counts.clear();
  } else if (starts(line, "SET client_encoding = '") && s.encoding.empty()) {
    size_t start = 23, end = line.find('\'', start);
    if (end != std::string::npos) s.encoding = line.substr(start, end - start);
  } else if (starts(line, "CREATE DATABASE ")) {
    size_t pos = 16;
    s.databases_created.push_back(ident(line, pos));
  } else if (starts(line, "CREATE ROLE ")) {
    size_t pos = 12;
    s.roles_created.push_back(ident(line, pos));
  } else if (starts(line, "GRANT ") || starts(line, "REVOKE ") || starts(line, "ALTER DEFAULT PRIVILEGES ")) {
    s.acl_lines.push_back(line);
  } else if (starts(line, "CREATE POLICY ")) {
    s.policy_lines.push_back(line);
  } else if (starts(line, "ALTER ")) {
    size_t at = line.find(" OWNER TO ");
    if (at != std::string::npos) {
      size_t pos = at + 10;
      s.owners.push_back(ident(line, pos));
    }
  }
}

}  // namespace

std::unique_ptr<PlainScriptReader> open_plain_script(const std::string& path) {
  return std::make_unique<Reader>(path, sniff(path));
}

PlainScript scan_plain_script(const std::string& path) {
  PlainScript s;
  s.compression = sniff(path);
  {
    // the file's own bytes, for the plan's fingerprint
    Sha256 h;
    std::error_code ec;
    s.file_bytes = std::filesystem::file_size(path, ec);
    auto raw = detail::file_range_source(path, path, 0, static_cast<std::int64_t>(s.file_bytes));
    std::vector<char> buf(1 << 20);
    for (std::size_t n; (n = raw->read(buf.data(), buf.size())) > 0;) h.update(std::string_view(buf.data(), n));
    s.sha256 = h.hex();
  }
  Reader reader(path, s.compression);
  std::vector<char> buf(1 << 20);
  std::string line;
  Copying copying;
  std::int64_t rows = 0;
  bool text_checked = false;
  for (std::size_t n; (n = reader.read(buf.data(), buf.size())) > 0;) {
    if (!text_checked) {
      text_checked = true;
      if (std::memchr(buf.data(), '\0', std::min<std::size_t>(n, 4096)) != nullptr) {
        fail(ErrorKind::input, fmt::format("{}: not a plain SQL script (it holds binary data)", path),
             "give a pg_dump -Fp or pg_dumpall script, uncompressed or .gz/.zst; use spec.from.archive for other formats");
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (buf[i] != '\n') {
        if (line.size() < 65536) line += buf[i];  // longer lines matter only by their start
        continue;
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      take_line(s, line, copying, rows);
      line.clear();
    }
  }
  if (!line.empty()) take_line(s, line, copying, rows);
  if (copying) {
    fail(ErrorKind::input,
         fmt::format("{}: the script ends inside the COPY data of {}.{} (truncated?)", path, copying->first, copying->second),
         "take the dump again, or check that the file was copied whole");
  }
  return s;
}

}  // namespace pgr::archive
