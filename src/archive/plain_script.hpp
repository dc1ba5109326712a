// Plain SQL scripts (pg_dump -Fp, pg_dumpall), uncompressed, gzip or zstd (by their magic bytes,
// whatever the name): a reader of the decompressed text that counts the file bytes it consumed
// (progress), and one pass that says what the script holds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "archive/archive.hpp"

namespace pgr::archive {

struct PlainScript {
  Compression compression = Compression::none;
  bool cluster_dump = false;  // pg_dumpall ("-- PostgreSQL database cluster dump")
  bool connects = false;      // has \connect lines (pg_dumpall, pg_dump --create)
  std::string encoding;       // its SET client_encoding; empty when it has none
  std::vector<std::string> databases_created;        // CREATE DATABASE names, in order
  std::vector<std::string> roles_created;            // CREATE ROLE names (pg_dumpall)
  std::map<std::pair<std::string, std::string>, std::int64_t> row_counts;  // (schema, table) -> COPY rows
  // What names roles: the role of every "OWNER TO" and the lines of GRANT, REVOKE, ALTER
  // DEFAULT PRIVILEGES and CREATE POLICY statements (their first line).
  std::vector<std::string> owners, acl_lines, policy_lines;
  std::uint64_t file_bytes = 0;
  std::string sha256;  // of the file as stored
};

class PlainScriptReader {
 public:
  virtual ~PlainScriptReader() = default;
  virtual std::size_t read(char* buf, std::size_t cap) = 0;  // decompressed text; 0 at the end
  virtual std::uint64_t file_bytes_read() const = 0;         // bytes taken from the file so far
};

// Throws Error(archive) naming the file when it cannot be read, or is a pg_dump archive (use
// from.archive) or binary. Corrupt compressed data fails while reading, naming the file.
std::unique_ptr<PlainScriptReader> open_plain_script(const std::string& path);

// Reads the whole script once (so a corrupt or truncated file fails at plan time).
PlainScript scan_plain_script(const std::string& path);

}  // namespace pgr::archive
