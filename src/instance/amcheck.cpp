#include "instance/amcheck.hpp"

#include <fmt/format.h>

#include "instance/instance.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace pgr::instance {

std::string run_amcheck(const AmcheckRequest& q) {
  std::filesystem::path amcheck = find_bin_dir(q.bin_dir) / "pg_amcheck";
  if (!std::filesystem::exists(amcheck)) {
    log::warn("drill: pg_amcheck is not in {}: the recovered cluster's heap and indexes were not checked",
              amcheck.parent_path().string());
    return "pg_amcheck skipped (not installed)";
  }
  const char* heap = q.heapallindexed ? " --heapallindexed" : "";
  ProcessSpec ps;
  ps.argv = {amcheck.string(), "--all", "--install-missing", "--no-password", "--host", q.socket_dir,
             "--port", std::to_string(q.port), "--username", q.user};
  if (q.heapallindexed) ps.argv.push_back("--heapallindexed");
  ps.unset_env = {"PGSERVICE", "PGOPTIONS", "PGPASSWORD", "PGDATABASE", "PGHOST", "PGPORT", "PGUSER"};
  ps.cwd = "/";
  ps.cancel = q.cancel;
  log::info("drill: pg_amcheck --all{} on the recovered cluster", heap);
  ProcessResult r = run_process(ps);
  if (r.cancelled) fail(ErrorKind::cancelled, "restore drill interrupted");
  if (!r.ok()) {
    std::string out = r.out.size() > 4000 ? r.out.substr(0, 4000) + "\n..." : r.out;
    fail(ErrorKind::database,
         fmt::format("pg_amcheck found problems in the recovered cluster (exit code {}):\n{}{}", r.exit_code, out, r.err),
         "the backup (or the source it was taken from) is damaged: check the source with pg_amcheck too");
  }
  return fmt::format("pg_amcheck --all{} found no corruption", heap);
}

}  // namespace pgr::instance
