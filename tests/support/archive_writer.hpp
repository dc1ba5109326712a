// Test-only pg_dump archive WRITER: builds custom- and directory-format archives byte by byte
// (pg_backup_archiver.c WriteHead/WriteToc, pg_backup_custom.c, pg_backup_directory.c), so the
// reader is exercised on versions and compressions (1.15/1.16, lz4, zstd) that this machine's
// pg_dump 15 cannot produce. Header-only; links against zlib, lz4 and zstd through pgrecover_core.
#pragma once

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "archive/archive.hpp"

namespace pgr::test::writer {

using archive::Compression;

struct Entry {
  int id = 0;
  bool had_dumper = false;
  std::string table_oid = "0", oid = "0", tag, desc;
  int section = 2;  // SECTION_NONE = 1, PRE_DATA = 2, DATA = 3, POST_DATA = 4
  std::string defn, drop, copy, ns, tablespace, tableam, owner;
  int relkind = 0;
  std::vector<int> deps;
  std::optional<std::string> data;                        // TABLE DATA: COPY text (with "\.\n\n\n")
  std::vector<std::pair<std::uint32_t, std::string>> blobs;  // BLOBS
  std::optional<std::string> file;  // directory: override the recorded data file name
};

struct Options {
  int minor = 16;
  int int_size = 4;
  int off_size = 8;
  Compression compression = Compression::none;
  bool offsets = true;  // custom: record data offsets in the TOC (false: as when written to a pipe)
  std::size_t chunk = 1000;  // custom: bytes per data chunk
};

inline std::string int_bytes(long long v, int size) {
  std::string s(1, v < 0 ? '\1' : '\0');
  unsigned long long u = static_cast<unsigned long long>(v < 0 ? -v : v);
  for (int i = 0; i < size; ++i) s.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  return s;
}

inline std::string str_bytes(const std::optional<std::string>& s, int size) {
  if (!s) return int_bytes(-1, size);
  return int_bytes(static_cast<long long>(s->size()), size) + *s;
}

inline std::string compress(const std::string& in, Compression c, bool gzip_header) {
  switch (c) {
    case Compression::none: return in;
    case Compression::gzip: {
      z_stream z{};
      deflateInit2(&z, 6, Z_DEFLATED, gzip_header ? 31 : 15, 8, Z_DEFAULT_STRATEGY);
      std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 64, '\0');
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      z.avail_in = static_cast<uInt>(in.size());
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
      out.resize(z.total_out);
      deflateEnd(&z);
      return out;
    }
    case Compression::lz4: {
      std::string out(LZ4F_compressFrameBound(in.size(), nullptr), '\0');
      std::size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), nullptr);
      if (LZ4F_isError(n)) throw std::runtime_error("lz4");
      out.resize(n);
      return out;
    }
    case Compression::zstd: {
      std::string out(ZSTD_compressBound(in.size()), '\0');
      std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
      if (ZSTD_isError(n)) throw std::runtime_error("zstd");
      out.resize(n);
      return out;
    }
  }
  return in;
}

inline const char* suffix(Compression c) {
  switch (c) {
    case Compression::gzip: return ".gz";
    case Compression::lz4: return ".lz4";
    case Compression::zstd: return ".zst";
    default: return "";
  }
}

// fmt: 1 custom, 3 tar and directory (pg_dump writes 3 into a directory's toc.dat), 5 directory
inline std::string header(const Options& o, int fmt) {
  std::string s = "PGDMP";
  s.push_back(1);
  s.push_back(static_cast<char>(o.minor));
  s.push_back(0);
  s.push_back(static_cast<char>(o.int_size));
  s.push_back(static_cast<char>(o.off_size));
  s.push_back(static_cast<char>(fmt));
  if (o.minor >= 15) {
    s.push_back(static_cast<char>(o.compression));
  } else {
    s += int_bytes(o.compression == Compression::none ? 0 : -1, o.int_size);
  }
  for (int v : {5, 4, 3, 2, 0, 124, 0}) s += int_bytes(v, o.int_size);  // 2024-01-02T03:04:05
  s += str_bytes(std::string("awkward"), o.int_size);
  s += str_bytes(std::string("17.2"), o.int_size);
  s += str_bytes(std::string("17.2"), o.int_size);
  return s;
}

// `extra(e)` writes the format-specific part (offset or file name).
template <typename Extra>
std::string toc(const std::vector<Entry>& entries, const Options& o, Extra&& extra) {
  std::string s = int_bytes(static_cast<long long>(entries.size()), o.int_size);
  for (const auto& e : entries) {
    s += int_bytes(e.id, o.int_size);
    s += int_bytes(e.had_dumper ? 1 : 0, o.int_size);
    s += str_bytes(e.table_oid, o.int_size);
    s += str_bytes(e.oid, o.int_size);
    s += str_bytes(e.tag, o.int_size);
    s += str_bytes(e.desc, o.int_size);
    s += int_bytes(e.section, o.int_size);
    s += str_bytes(e.defn, o.int_size);
    s += str_bytes(e.drop, o.int_size);
    s += str_bytes(e.copy, o.int_size);
    s += str_bytes(e.ns, o.int_size);
    s += str_bytes(e.tablespace, o.int_size);
    if (o.minor >= 14) s += str_bytes(e.tableam, o.int_size);
    if (o.minor >= 16) s += int_bytes(e.relkind, o.int_size);
    s += str_bytes(e.owner, o.int_size);
    s += str_bytes(std::string("false"), o.int_size);
    for (int d : e.deps) s += str_bytes(std::to_string(d), o.int_size);
    s += str_bytes(std::nullopt, o.int_size);
    s += extra(e);
  }
  return s;
}

inline std::string chunks(const std::string& payload, const Options& o) {
  std::string s;
  for (std::size_t i = 0; i < payload.size(); i += o.chunk) {
    std::string part = payload.substr(i, o.chunk);
    s += int_bytes(static_cast<long long>(part.size()), o.int_size) + part;
  }
  return s + int_bytes(0, o.int_size);
}

inline std::string custom_archive(const std::vector<Entry>& entries, const Options& o) {
  std::vector<std::string> blocks(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.data) {
      blocks[i] = std::string(1, '\1') + int_bytes(e.id, o.int_size) + chunks(compress(*e.data, o.compression, false), o);
    } else if (e.desc == "BLOBS") {
      std::string b = std::string(1, '\3') + int_bytes(e.id, o.int_size);
      for (const auto& [oid, bytes] : e.blobs) {
        b += int_bytes(static_cast<int>(oid), o.int_size) + chunks(compress(bytes, o.compression, false), o);
      }
      blocks[i] = b + int_bytes(0, o.int_size);
    }
  }
  // Offsets have a fixed width, so the TOC size does not depend on their values.
  auto offset_field = [&](int flag, unsigned long long v) {
    std::string s(1, static_cast<char>(flag));
    for (int i = 0; i < o.off_size; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return s;
  };
  std::string head = header(o, 1);
  std::size_t toc_size = toc(entries, o, [&](const Entry&) { return offset_field(3, 0); }).size();
  std::vector<unsigned long long> offs(entries.size());
  unsigned long long pos = head.size() + toc_size;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    offs[i] = pos;
    pos += blocks[i].size();
  }
  std::size_t idx = 0;
  std::string t = toc(entries, o, [&](const Entry& e) {
    std::size_t i = idx++;
    if (!e.data && e.desc != "BLOBS") return offset_field(3, 0);
    return o.offsets ? offset_field(2, offs[i]) : offset_field(1, 0);
  });
  std::string out = head + t;
  for (const auto& b : blocks) out += b;
  return out;
}

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

inline void directory_archive(const std::filesystem::path& dir, const std::vector<Entry>& entries, const Options& o) {
  std::filesystem::create_directories(dir);
  std::string sfx = suffix(o.compression);
  std::string t = toc(entries, o, [&](const Entry& e) -> std::string {
    if (e.file) return str_bytes(*e.file, o.int_size);
    if (e.data) return str_bytes(std::to_string(e.id) + ".dat", o.int_size);
    if (e.desc == "BLOBS") return str_bytes("blobs_" + std::to_string(e.id) + ".toc", o.int_size);
    return str_bytes(std::string(), o.int_size);
  });
  write_file(dir / "toc.dat", header(o, 3) + t);  // pg_dump writes "tar" here too
  for (const auto& e : entries) {
    if (e.file) continue;
    if (e.data) write_file(dir / (std::to_string(e.id) + ".dat" + sfx), compress(*e.data, o.compression, true));
    if (e.desc == "BLOBS") {
      std::string list;
      for (const auto& [oid, bytes] : e.blobs) {
        list += std::to_string(oid) + " blob_" + std::to_string(oid) + ".dat\n";
        write_file(dir / ("blob_" + std::to_string(oid) + ".dat" + sfx), compress(bytes, o.compression, true));
      }
      write_file(dir / ("blobs_" + std::to_string(e.id) + ".toc"), list);
    }
  }
}

// A small but complete TOC: encoding, a table with data, an index, large objects.
inline std::vector<Entry> sample_entries(const std::string& rows = "1\tann\n2\t\\N\n3\ttab\\there\n") {
  std::vector<Entry> v;
  Entry enc;
  enc.id = 1; enc.tag = "ENCODING"; enc.desc = "ENCODING"; enc.defn = "SET client_encoding = 'UTF8';\n";
  v.push_back(enc);
  Entry tbl;
  tbl.id = 210; tbl.table_oid = "1259"; tbl.oid = "16390"; tbl.tag = "orders"; tbl.desc = "TABLE"; tbl.ns = "public";
  tbl.owner = "postgres"; tbl.tableam = "heap"; tbl.relkind = 'r'; tbl.defn = "CREATE TABLE public.orders (id int, t text);\n";
  v.push_back(tbl);
  Entry data;
  data.id = 3340; data.had_dumper = true; data.oid = "16390"; data.tag = "orders"; data.desc = "TABLE DATA";
  data.section = 3; data.ns = "public"; data.owner = "postgres"; data.deps = {210};
  data.copy = "COPY public.orders (id, t) FROM stdin;\n"; data.data = rows + "\\.\n\n\n";
  v.push_back(data);
  Entry blobs;
  blobs.id = 3341; blobs.had_dumper = true; blobs.tag = "BLOBS"; blobs.desc = "BLOBS"; blobs.section = 3;
  blobs.blobs = {{16400, "hello"}, {16401, std::string(100000, '\xff')}, {3000000000u, ""}};
  v.push_back(blobs);
  Entry idx;
  idx.id = 3100; idx.table_oid = "1259"; idx.oid = "16395"; idx.tag = "orders_id_idx"; idx.desc = "INDEX";
  idx.section = 4; idx.ns = "public"; idx.owner = "postgres"; idx.deps = {210, 3340};
  v.push_back(idx);
  return v;
}

}  // namespace pgr::test::writer
