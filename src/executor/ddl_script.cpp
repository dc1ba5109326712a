#include "executor/ddl_script.hpp"

#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/process.hpp"

namespace pgr::executor {

namespace {

// psql meta-commands (\restrict KEY, \unrestrict KEY in pg_dump 15.14+) are for psql only.
std::string strip_meta_commands(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    std::string_view line(text.data() + pos, end - pos);
    bool meta = line.rfind("\\restrict ", 0) == 0 || line.rfind("\\unrestrict ", 0) == 0;
    if (!meta) out.append(line);
    pos = end;
  }
  return out;
}

}  // namespace

DdlScript split_ddl_script(const std::string& raw) {
  const std::string script = strip_meta_commands(raw);
  // pg_restore -v writes, before each entry:
  //   --
  //   -- TOC entry 215 (class 1259 OID 16390)
  //   -- Dependencies: ...
  //   -- Name: ...; Type: ...; Schema: ...; Owner: ...
  //   --
  // The chunk of an entry runs from its header to the next header (or the end).
  DdlScript out;
  const std::string marker = "\n-- TOC entry ";
  size_t pos = script.find(marker);
  out.prelude = script.substr(0, pos == std::string::npos ? script.size() : pos);
  while (pos != std::string::npos) {
    size_t id_start = pos + marker.size();
    size_t next = script.find(marker, id_start);
    int id = std::atoi(script.c_str() + id_start);
    // Drop the header's leading "--" line of the next entry: it belongs to the next chunk but is
    // only a comment, so leaving it is harmless.
    std::string chunk = script.substr(pos + 1, (next == std::string::npos ? script.size() : next) - pos - 1);
    if (id > 0) out.chunks[id] += chunk;
    pos = next;
  }
  // Trailing statements after the last entry (pg_restore's completion notice) are comments.
  return out;
}

DdlScript render_ddl_script(const std::filesystem::path& pg_restore, const std::filesystem::path& archive,
                            bool no_owner, bool no_tablespaces) {
  ProcessSpec spec;
  spec.argv = {pg_restore.string(), "--verbose", "--schema-only", "--file=-"};
  if (no_owner) spec.argv.push_back("--no-owner");
  if (no_tablespaces) spec.argv.push_back("--no-tablespaces");
  spec.argv.push_back(archive.string());
  ProcessResult r = run_process(spec);
  if (!r.ok()) {
    fail(ErrorKind::archive, describe_failure(fmt::format("\"{}\" reading \"{}\"", pg_restore.string(), archive.string()), r),
         "pg_restore renders the archive's schema statements; it must be able to read this archive "
         "(an archive from a newer PostgreSQL needs that version's pg_restore)");
  }
  return split_ddl_script(r.out);
}

}  // namespace pgr::executor
