#include "engine/cluster_backup.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "engine/globals.hpp"
#include "engine/logical.hpp"
#include "instance/instance.hpp"
#include "repository/cluster_manifest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pgr::engine {

namespace fs = std::filesystem;

std::vector<config::SourceDatabase> read_source_databases(pg::Connection& conn) {
  auto r = conn.exec("SELECT datname::text, datallowconn FROM pg_catalog.pg_database ORDER BY datname");
  std::vector<config::SourceDatabase> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.str(i, 0), r.boolean(i, 1)});
  return out;
}

namespace {

// Owner, encoding and locale of each database, as the manifest records them.
void read_properties(pg::Connection& conn, std::vector<repository::ClusterDatabase>& dbs) {
  auto r = conn.exec("SELECT d.datname::text, pg_catalog.pg_get_userbyid(d.datdba)::text, "
                     "pg_catalog.pg_encoding_to_char(d.encoding)::text, d.datcollate::text, d.datctype::text "
                     "FROM pg_catalog.pg_database d");
  for (int i = 0; i < r.rows(); ++i)
    for (auto& d : dbs)
      if (d.name == r.str(i, 0)) {
        d.owner = r.str(i, 1);
        d.encoding = r.str(i, 2);
        d.collate = r.str(i, 3);
        d.ctype = r.str(i, 4);
      }
}

void list_files(const fs::path& root, repository::ClusterDatabase& d) {
  for (const auto& e : fs::recursive_directory_iterator(root / d.dir)) {
    if (!e.is_regular_file()) continue;
    d.files.push_back(fs::relative(e.path(), root).generic_string());
    d.bytes += e.file_size();
  }
  std::sort(d.files.begin(), d.files.end());
}

// Runs `work(i)` for i in [0, n) on up to `jobs` threads; the first failure stops the others
// from starting new work (running pg_dumps are stopped through `stop`) and is rethrown.
template <class F>
void run_parallel(std::size_t n, int jobs, std::atomic<bool>& stop, F work) {
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex mu;
  auto loop = [&] {
    for (std::size_t i; !stop && (i = next++) < n;) {
      try {
        work(i);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < std::min<int>(jobs, static_cast<int>(n)); ++t) threads.emplace_back(loop);
  loop();
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

repository::BackupInfo take_cluster_backup(const repository::Repository& repo, const BackupRequest& req,
                                           ProgressCounters* progress) {
  const auto& s = req.spec;
  auto conn = pg::Connection::open(req.source_conninfo.empty() ? "" : pg::with_dbname(req.source_conninfo, "postgres"),
                                   "pgrecover backup");
  std::vector<repository::ClusterDatabase> dbs;
  std::vector<std::string> missing;
  for (const auto& c : config::choose_databases(s, read_source_databases(conn))) {
    if (c.dump) dbs.push_back({c.name});
    else if (c.reason == "not on the source") missing.push_back(c.name);
    else log::info("backup {}: database \"{}\" skipped: {}", req.policy, c.name, c.reason);
  }
  if (!missing.empty()) {
    fail(ErrorKind::input, fmt::format("backup {}: database \"{}\" of spec.databases is not on the source", req.policy, missing.front()),
         "remove it from spec.databases, or create it; nothing was kept of this backup");
  }
  if (dbs.empty()) fail(ErrorKind::input, fmt::format("backup {}: no database to dump", req.policy), "check spec.databases and exclude_databases");
  read_properties(conn, dbs);

  repository::Manifest m;
  m.kind = "logical";
  m.format = config::to_string(s.format);
  auto info = conn.exec("SELECT current_setting('server_version'), current_setting('server_version_num')::int, current_user");
  m.server_version = info.str(0, 0);
  m.server_version_num = static_cast<int>(info.int64(0, 1));
  std::string role = info.str(0, 2);
  try {
    m.system_identifier = conn.exec("SELECT system_identifier::text FROM pg_catalog.pg_control_system()").str(0, 0);
  } catch (const pg::DbError& e) {
    log::warn("the system identifier of the source is not in the manifest: {}", e.primary());
  }
  auto started = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  repository::PendingBackup pending = repo.begin(req.policy, started);
  m.started_at = repository::format_iso(started);
  log::info("backup {}/{}: dumping {} databases, {} at once", req.policy, pending.id(), dbs.size(), std::max(1, s.jobs));

  fs::path pg_dump = instance::tool_path("pg_dump", req.bin_dir);
  m.tool = pg_dump_version(pg_dump);
  config::BackupPolicySpec one = s;
  one.jobs = 1;  // parallel across databases: one pg_dump process per database
  m.pg_dump_options = pg_dump_options(one, pg_dump_major(pg_dump));
  mode_t old_umask = ::umask(077);  // files 0600, folders 0700 from the start (see logical.cpp)
  try {
    if (s.globals) {
      m.globals = capture_globals(conn, "postgres");
      m.globals->sql_file = "globals.sql";
      run_pg_dumpall_globals(req, pending.dir() / "globals.sql", m.globals->passwords_included);
    }
    std::atomic<bool> stop{false};
    // A failure in one dump stops the others: the request's cancel flag is shared by all children,
    // so a stop is passed on through a request of our own.
    BackupRequest child_req = req;
    std::atomic<bool> child_cancel{false};
    child_req.cancel = &child_cancel;
    std::thread watcher([&] {
      while (!stop && !(req.cancel && *req.cancel)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      child_cancel = true;
    });
    try {
      run_parallel(dbs.size(), std::max(1, s.jobs), stop, [&](std::size_t i) {
        auto& d = dbs[i];
        d.dir = repository::cluster_database_dir(i, d.name);
        d.data = d.dir + "/" + archive_name(s.format);
        fs::create_directories(pending.dir() / d.dir);
        log::info("backup {}/{}: dumping database \"{}\"", req.policy, pending.id(), d.name);
        run_pg_dump(child_req, d.name, m.pg_dump_options, pending.dir() / d.data, role);
        d.row_counts = count_archive_rows(pending.dir() / d.data, progress);
        list_files(pending.dir(), d);
      });
    } catch (...) {
      stop = true;
      watcher.join();
      if (req.cancel && *req.cancel) fail(ErrorKind::cancelled, fmt::format("backup {} interrupted: nothing was kept", req.policy));
      throw;
    }
    stop = true;
    watcher.join();
  } catch (...) {
    ::umask(old_umask);
    throw;
  }
  ::umask(old_umask);
  // Row counts are per database (in `databases`); the manifest's own map is for one database.
  repository::set_cluster_databases(m, dbs);
  m.finished_at = repository::format_iso(std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
  repository::BackupInfo b = pending.commit(std::move(m));
  if (progress) progress->bytes = static_cast<std::int64_t>(b.bytes);
  log::info("backup {}/{} complete: {} databases, {} bytes", b.policy, b.id, dbs.size(), b.bytes);
  return b;
}

}  // namespace pgr::engine
