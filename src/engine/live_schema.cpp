#include "engine/live_schema.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/process.hpp"
#include "util/redact.hpp"

namespace pgr::engine {

namespace {

std::string quoted_part(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string exact_table_pattern(const std::string& schema, const std::string& table) {
  return quoted_part(schema) + "." + quoted_part(table);
}

void dump_live_schema(const LiveSchemaDump& req, const std::filesystem::path& out) {
  pg::SplitConninfo src = pg::split_password(req.conninfo);
  ProcessSpec p;
  p.argv = {instance::tool_path("pg_dump", req.bin_dir).string(), "--format=custom", "--no-blobs", "--no-password",
            "--file=" + out.string()};
  if (!req.snapshot.empty()) p.argv.push_back("--snapshot=" + req.snapshot);
  for (const auto& [schema, table] : req.tables_without_data) {
    p.argv.push_back("--exclude-table-data=" + exact_table_pattern(schema, table));
  }
  p.argv.push_back("--dbname=" + src.conninfo);
  if (!src.password.empty()) p.env.push_back("PGPASSWORD=" + src.password);
  // pg_dump reads in its own read-only transaction; its session is read-only from the start too,
  // like every other session a clone opens on its source (the caller's PGOPTIONS kept).
  const char* options = std::getenv("PGOPTIONS");
  p.env.push_back(fmt::format("PGOPTIONS={}{}-c default_transaction_read_only=on", options ? options : "",
                              options && *options ? " " : ""));
  p.cancel = req.cancel;
  p.new_process_group = true;
  ProcessResult r = run_process(p);
  if (r.cancelled) fail(ErrorKind::cancelled, fmt::format("the schema dump of database \"{}\" was cancelled", req.database));
  if (!r.ok()) {
    fail(ErrorKind::database, describe_failure(fmt::format("pg_dump of the schema of live database \"{}\"", req.database), r),
         req.snapshot.empty() ? "check spec.from.live (host, port, user, password from password_env or a passfile) and "
                                "that the role may read every table, sequence and large object"
                              : "the source session that exported the snapshot may have ended; apply again");
  }
  if (!r.err.empty()) log::debug("pg_dump: {}", redact_secrets(r.err));
}

}  // namespace pgr::engine
