#include "engine/logical.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <mutex>
#include <thread>
#include <chrono>
#include <regex>

#include <fmt/format.h>

#include "archive/archive.hpp"
#include "archive/plain_script.hpp"
#include "engine/globals.hpp"
#include "engine/snapshot_counts.hpp"
#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/process.hpp"
#include "util/redact.hpp"

namespace pgr::engine {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The child writes its files with umask 077 (0600 files, 0700 folders) from the start, not only
// after the chmod at commit. umask is per process; backup steps run one at a time.
class PrivateUmask {
 public:
  PrivateUmask() : old_(::umask(077)) {}
  ~PrivateUmask() { ::umask(old_); }
  PrivateUmask(const PrivateUmask&) = delete;
  PrivateUmask& operator=(const PrivateUmask&) = delete;

 private:
  mode_t old_;
};

ProcessResult version_of(const fs::path& tool) {
  ProcessSpec p;
  p.argv = {tool.string(), "--version"};
  return run_process(p);
}

int major_of(const fs::path& tool, const ProcessResult& r) {
  std::smatch m;
  static const std::regex re(R"(\) (\d+)(\.\d+)?)");
  if (!r.ok() || !std::regex_search(r.out, m, re)) {
    fail(ErrorKind::io, describe_failure(tool.string() + " --version", r));
  }
  return std::stoi(m[1].str());
}

int tool_major(const fs::path& tool) { return major_of(tool, version_of(tool)); }

std::string version_line(const ProcessResult& r) {
  std::string v = r.out;
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  return v;
}

std::string tool_version(const fs::path& tool) { return version_line(version_of(tool)); }

ProcessSpec child(std::vector<std::string> argv, const pg::SplitConninfo& c, const std::atomic<bool>* cancel) {
  ProcessSpec p;
  p.argv = std::move(argv);
  p.cancel = cancel;
  p.new_process_group = true;  // pg_dump -j forks workers: a cancel stops them all
  if (!c.password.empty()) p.env.push_back("PGPASSWORD=" + c.password);
  return p;
}

// Turns pg_dump's stderr into a message that names the object and what to do.
[[noreturn]] void pg_dump_failed(const ProcessResult& r, const std::string& database, const std::string& role) {
  std::string err = redact_secrets(r.err);
  std::smatch m;
  std::string object;
  static const std::regex lock_re(R"(LOCK TABLE (\S+) IN)");
  static const std::regex denied_re(R"(permission denied for (table|schema|sequence|large object|function) ([^\n]+))");
  if (std::regex_search(err, m, lock_re)) object = m[1].str();
  if (std::regex_search(err, m, denied_re)) {
    std::string kind = m[1].str(), name = object.empty() ? m[2].str() : object;
    std::string grant = kind == "schema" ? fmt::format("GRANT USAGE ON SCHEMA {} TO {}", m[2].str(), pg::quote_ident(role))
                                         : fmt::format("GRANT SELECT ON {} TO {}", name, pg::quote_ident(role));
    fail(ErrorKind::database,
         fmt::format("backup of database \"{}\" failed: pg_dump may not read {} {}: permission denied", database, kind, name),
         fmt::format("the role \"{}\" needs SELECT on every dumped table and sequence and USAGE on their schemas: "
                     "{}; or GRANT pg_read_all_data TO {}; or leave it out with select.exclude_tables. "
                     "Nothing was kept of this backup",
                     role, grant, pg::quote_ident(role)));
  }
  auto has = [&](const char* s) { return err.find(s) != std::string::npos; };
  bool lost = has("server closed the connection") || has("terminating connection") || has("could not receive data") ||
              has("SSL SYSCALL") || r.term_signal != 0;
  bool connect = !lost && has("connection to server") && has("failed:");
  fail(ErrorKind::database, describe_failure(fmt::format("pg_dump of database \"{}\"", database), r),
       lost      ? "the connection to the source server was lost during the dump; nothing was kept of this backup; "
                   "check the server and the network, then apply again"
       : connect ? "pg_dump could not connect to the source; check the policy's source (host, port, user, password "
                   "from password_env or a passfile) and pg_hba.conf; nothing was kept of this backup"
                 : "nothing was kept of this backup; fix the cause, then apply again");
}

}  // namespace

int pg_dump_major(const fs::path& tool) { return tool_major(tool); }
std::string pg_dump_version(const fs::path& tool) { return tool_version(tool); }

void run_pg_dump(const BackupRequest& req, const std::string& database, const std::vector<std::string>& options,
                 const fs::path& out, const std::string& role) {
  pg::SplitConninfo src = pg::split_password(pg::with_dbname(req.source_conninfo, database));
  std::vector<std::string> argv{instance::tool_path("pg_dump", req.bin_dir).string()};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back("--no-password");
  argv.push_back("--file=" + out.string());
  argv.push_back("--dbname=" + src.conninfo);
  ProcessResult r = run_process(child(argv, src, req.cancel));
  if (r.cancelled) {
    fail(ErrorKind::cancelled, fmt::format("backup of database \"{}\" interrupted: pg_dump stopped, nothing was kept", database));
  }
  if (!r.ok()) pg_dump_failed(r, database, role);
  if (!r.err.empty()) log::debug("pg_dump: {}", r.err);
}

void run_pg_dumpall_globals(const BackupRequest& req, const fs::path& out, bool with_passwords) {
  pg::SplitConninfo src = pg::split_password(pg::with_dbname(req.source_conninfo, "postgres"));
  std::vector<std::string> g{instance::tool_path("pg_dumpall", req.bin_dir).string(), "--globals-only", "--no-password",
                             "--file=" + out.string(), "--dbname=" + src.conninfo};
  if (!with_passwords) g.push_back("--no-role-passwords");
  auto gr = run_process(child(g, src, req.cancel));
  if (!gr.ok()) {
    fail(ErrorKind::database, describe_failure("pg_dumpall --globals-only", gr),
         "the backup role must be able to read the roles (pg_roles); nothing was kept of this backup");
  }
}

std::string archive_name(config::DumpFormat format) {
  switch (format) {
    case config::DumpFormat::directory: return "data";
    case config::DumpFormat::custom: return "data.dump";
    case config::DumpFormat::tar: return "data.tar";
    case config::DumpFormat::plain: return "data.sql";
  }
  return "data";
}

std::vector<std::string> pg_dump_options(const config::BackupPolicySpec& s, int major) {
  std::vector<std::string> o{fmt::format("--format={}", config::to_string(s.format))};
  if (s.jobs > 1 && s.format == config::DumpFormat::directory) o.push_back(fmt::format("--jobs={}", s.jobs));
  const auto& c = s.compression;
  if (c.method == "none") {
    if (s.format == config::DumpFormat::directory || s.format == config::DumpFormat::custom) o.push_back("--compress=0");
  } else if (major >= 16) {
    o.push_back("--compress=" + c.str());
  } else if (c.method == "gzip") {
    if (s.format == config::DumpFormat::tar) {
      fail(ErrorKind::input, "pg_dump cannot compress the tar format", "use format: directory or custom, or compression: none");
    }
    if (c.level >= 0) o.push_back(fmt::format("--compress={}", c.level));
  } else {
    fail(ErrorKind::input, fmt::format("compression {} needs pg_dump 16 or newer; this pg_dump is {}", c.str(), major),
         "use compression: gzip, or install a newer client");
  }
  for (const auto& x : s.select.schemas) o.push_back("--schema=" + x);
  for (const auto& x : s.select.tables) o.push_back("--table=" + x);
  for (const auto& x : s.select.exclude_schemas) o.push_back("--exclude-schema=" + x);
  for (const auto& x : s.select.exclude_tables) o.push_back("--exclude-table=" + x);
  return o;
}

std::map<std::string, std::int64_t> count_archive_rows(const fs::path& path, ProgressCounters* progress) {
  return count_archive_rows(*archive::Archive::open(path), progress);
}

std::map<std::string, std::int64_t> count_archive_rows(const archive::Archive& archive, ProgressCounters* progress) {
  return count_archive_rows(archive, progress, [](const archive::TocEntry&) { return true; });
}

std::map<std::string, std::int64_t> count_archive_rows(const archive::Archive& archive, ProgressCounters* progress,
                                                       const std::function<bool(const archive::TocEntry&)>& which) {
  // Exact counts mean decompressing every table: done on all cores, largest tables first, one
  // reader per thread (the archive reader allows concurrent readers). Measured in bench/.
  std::vector<const archive::TocEntry*> entries;
  for (const auto& e : archive.toc().entries)
    if (e.desc == "TABLE DATA" && e.data.kind != archive::DataLocation::Kind::none && which(e)) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->data.bytes > b->data.bytes; });
  std::map<std::string, std::int64_t> rows;
  std::mutex mu;
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  auto work = [&] {
    std::vector<char> buf(1 << 20);
    for (size_t i; (i = next++) < entries.size();) {
      try {
        const auto& e = *entries[i];
        auto reader = archive.open_data(e);
        std::int64_t n = 0;
        for (size_t got; (got = reader->read(buf.data(), buf.size())) > 0;) {
          n += std::count(buf.data(), buf.data() + got, '\n');
          if (progress) progress->bytes += static_cast<std::int64_t>(got);
        }
        if (progress) progress->rows += n;
        std::lock_guard lock(mu);
        rows[e.namespace_ + "." + e.tag] = n;
      } catch (...) {
        std::lock_guard lock(mu);
        if (!failure) failure = std::current_exception();
        next = entries.size();
      }
    }
  };
  unsigned n_threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), static_cast<unsigned>(entries.size())));
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < n_threads; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
  return rows;
}

namespace {

// What runs beside pg_dump: pg_dumpall --globals-only on one thread; on another, the backup's
// session (the globals' queries, then the row counts in the dump's snapshot). The destructor
// stops the counts and joins both, so no error path leaves a thread running.
class BesideDump {
 public:
  BesideDump() = default;
  BesideDump(const BesideDump&) = delete;
  BesideDump& operator=(const BesideDump&) = delete;
  ~BesideDump() {
    stop_counting();
    join_dumpall();
    if (session_.joinable()) session_.join();
  }

  void start_dumpall(std::function<void()> work) {
    dumpall_ = std::thread([this, work = std::move(work)] {
      try {
        work();
      } catch (...) {
        dumpall_failure_ = std::current_exception();
      }
    });
  }
  // `counts`: the counting transaction `work` counts in (null: none), cancelled by stop_counting.
  void start_session(SnapshotCounts* counts, std::function<void()> work) {
    counts_ = counts;
    session_ = std::thread([this, work = std::move(work)] {
      try {
        work();
      } catch (...) {
        session_failure_ = std::current_exception();
      }
      session_done_ = true;
    });
  }
  const std::atomic<bool>& stop() const { return stop_; }
  void stop_counting() {
    if (!session_.joinable() || stop_) return;
    stop_ = true;
    if (counts_) counts_->cancel();
  }
  void join_dumpall() {
    if (dumpall_.joinable()) dumpall_.join();
  }
  // Waits for the session's work, stopping the counts when `cancel` is set; true: they were stopped.
  bool wait_session(const std::atomic<bool>* cancel) {
    while (session_.joinable() && !session_done_) {
      if (cancel && *cancel) stop_counting();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (session_.joinable()) session_.join();
    return stop_;
  }
  std::exception_ptr dumpall_failure() const { return dumpall_failure_; }
  std::exception_ptr session_failure() const { return session_failure_; }

 private:
  std::thread dumpall_, session_;
  std::exception_ptr dumpall_failure_, session_failure_;
  SnapshotCounts* counts_ = nullptr;
  std::atomic<bool> stop_{false}, session_done_{false};
};

std::string entry_key(const archive::TocEntry& e) { return e.namespace_ + "." + e.tag; }

// The exact rows of every table the archive holds data for: from the snapshot counts where the
// table was counted there, read from the archive otherwise.
std::map<std::string, std::int64_t> archive_row_counts(const fs::path& path, const std::map<std::string, std::int64_t>& counted,
                                                       ProgressCounters* progress) {
  auto archive = archive::Archive::open(path);
  auto rows = count_archive_rows(*archive, progress, [&](const archive::TocEntry& e) { return !counted.count(entry_key(e)); });
  size_t from_archive = rows.size();
  for (const auto& e : archive->toc().entries) {
    if (e.desc != "TABLE DATA" || e.data.kind == archive::DataLocation::Kind::none) continue;
    auto it = counted.find(entry_key(e));
    if (it != counted.end()) rows[it->first] = it->second;
  }
  log::info("row counts: {} tables counted in the dump's snapshot while pg_dump ran, {} read from the archive",
            rows.size() - from_archive, from_archive);
  return rows;
}

}  // namespace

namespace {

// pg_dump's folder and `pg_dump --version`: Debian's pg_config wrapper, then one process, about
// 0.09 s measured (strace of a backup apply: pg_config 55 ms, --version 35 ms). Looked up once per
// process and bin_dir, on a thread started as early as the plan (prefetch_pg_dump), so that the
// backup finds it done instead of waiting for it before pg_dump can start.
using DumpTool = std::pair<fs::path, ProcessResult>;
std::mutex dump_tool_mu;
std::map<std::string, std::shared_future<DumpTool>> dump_tools;

std::shared_future<DumpTool> dump_tool(const fs::path& bin_dir) {
  std::lock_guard lock(dump_tool_mu);
  auto& f = dump_tools[bin_dir.string()];
  if (!f.valid()) {
    f = std::async(std::launch::async, [bin_dir] {
          fs::path pg_dump = instance::tool_path("pg_dump", bin_dir);
          return DumpTool(pg_dump, version_of(pg_dump));
        }).share();
  }
  return f;
}

}  // namespace

void prefetch_pg_dump(const fs::path& bin_dir) { dump_tool(bin_dir); }

repository::BackupInfo take_logical_backup(const repository::Repository& repo, const BackupRequest& req,
                                           ProgressCounters* progress) {
  const auto& s = req.spec;
  // Looked up while the source is connected to and asked about itself, if the plan did not already.
  auto tool = dump_tool(req.bin_dir);
  pg::SplitConninfo src = pg::split_password(pg::with_dbname(req.source_conninfo, s.database));
  auto conn = pg::Connection::open(req.source_conninfo.empty() ? "" : pg::with_dbname(req.source_conninfo, s.database),
                                   "pgrecover backup");
  repository::Manifest m;
  m.kind = "logical";
  m.database = s.database;
  m.format = config::to_string(s.format);
  m.data = archive_name(s.format);
  auto info = conn.exec(
      "SELECT current_setting('server_version'), current_setting('server_version_num')::int, current_user, "
      "pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT')");
  const bool passwords_readable = info.boolean(0, 3);  // what capture_globals finds too
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
  log::info("backup {}/{}: dumping database \"{}\"", req.policy, pending.id(), s.database);

  const auto t_start = std::chrono::steady_clock::now();
  // One `pg_dump --version` for the manifest's line and the major version.
  const auto& [pg_dump, version] = tool.get();
  m.tool = version_line(version);
  m.pg_dump_options = pg_dump_options(s, major_of(pg_dump, version));
  // A plain script's rows are the lines of its COPY blocks, counted after pg_dump.
  std::optional<SnapshotCounts> counts;
  if (s.format != config::DumpFormat::plain) counts = SnapshotCounts::begin(conn);
  BesideDump beside;
  {
    PrivateUmask umask_077;
    // The globals and the row counts are taken while pg_dump runs: they are independent, and the
    // backup finishes sooner (measured in bench/).
    if (s.globals) {
      // pg_dumpall from pg_dump's folder (one lookup of the programs' folder, not two).
      fs::path pg_dumpall = pg_dump.parent_path() / "pg_dumpall";
      if (::access(pg_dumpall.c_str(), X_OK) != 0) pg_dumpall = instance::tool_path("pg_dumpall", req.bin_dir);
      beside.start_dumpall([&, pg_dumpall] {
        std::vector<std::string> g{pg_dumpall.string(), "--globals-only", "--no-password",
                                   "--file=" + (pending.dir() / "globals.sql").string(), "--dbname=" + src.conninfo};
        if (!passwords_readable) g.push_back("--no-role-passwords");
        auto gr = run_process(child(g, src, req.cancel));
        if (!gr.ok()) {
          fail(ErrorKind::database, describe_failure("pg_dumpall --globals-only", gr),
               "the backup role must be able to read the roles (pg_roles); nothing was kept of this backup");
        }
      });
    }
    // pg_dump writes its archive once it has locked every table it dumps: the directory format's
    // toc.dat first, the others' data after a header written then.
    fs::path out = pending.dir() / m.data;
    bool directory = s.format == config::DumpFormat::directory;
    auto dump_began = [out, directory] {
      std::error_code ec;
      if (directory) return fs::exists(out / "toc.dat", ec);
      auto size = fs::file_size(out, ec);
      return !ec && size > 0;
    };
    beside.start_session(counts ? &*counts : nullptr, [&] {
      if (s.globals) {
        // Inside the counting transaction an error is rolled back to a savepoint: the snapshot
        // pg_dump imports must outlive it.
        auto read = [&] { m.globals = capture_globals(conn, s.database); };
        if (counts) counts->guarded(read);
        else read();
        m.globals->sql_file = "globals.sql";
      }
      if (counts) counts->count(s, dump_began, beside.stop(), progress);
    });
    std::vector<std::string> argv{pg_dump.string()};
    argv.insert(argv.end(), m.pg_dump_options.begin(), m.pg_dump_options.end());
    // pg_dump reads in the counting transaction's snapshot: the counts are the dump's rows.
    if (counts) argv.push_back("--snapshot=" + counts->snapshot());
    argv.push_back("--no-password");
    argv.push_back("--file=" + out.string());
    argv.push_back("--dbname=" + src.conninfo);
    ProcessResult r = run_process(child(argv, src, req.cancel));
    if (r.cancelled || !r.ok()) beside.stop_counting();
    beside.join_dumpall();
    if (r.cancelled) {
      fail(ErrorKind::cancelled, fmt::format("backup of database \"{}\" interrupted: pg_dump stopped, nothing was kept",
                                             s.database));
    }
    if (!r.ok()) pg_dump_failed(r, s.database, role);
    if (!r.err.empty()) log::debug("pg_dump: {}", r.err);
    if (beside.dumpall_failure()) std::rethrow_exception(beside.dumpall_failure());
  }
  const double t_dump = seconds_since(t_start);
  const auto t_rows_start = std::chrono::steady_clock::now();
  if (beside.wait_session(req.cancel)) {
    fail(ErrorKind::cancelled, fmt::format("backup of database \"{}\" interrupted while counting rows, nothing was kept", s.database));
  }
  if (beside.session_failure()) std::rethrow_exception(beside.session_failure());
  if (counts) {
    counts->finish();
    m.row_counts = archive_row_counts(pending.dir() / m.data, counts->counts(), progress);
  } else if (s.format != config::DumpFormat::plain) {
    m.row_counts = count_archive_rows(pending.dir() / m.data, progress);
  } else {
    // Counted so that restores and drills of a plain script verify row counts like any other backup.
    for (const auto& [t, rows] : archive::scan_plain_script((pending.dir() / m.data).string()).row_counts)
      m.row_counts[t.first + "." + t.second] = rows;
  }
  const double t_rows = seconds_since(t_rows_start);
  const auto t_commit_start = std::chrono::steady_clock::now();
  m.finished_at = repository::format_iso(std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
  repository::BackupInfo b = pending.commit(std::move(m));
  if (progress) progress->bytes = static_cast<std::int64_t>(b.bytes);
  // Where the time went, for bench/ and for people tuning a policy.
  log::info("backup {}/{} complete: {} bytes (pg_dump and globals {:.3f} s, row counts {:.3f} s, hashing and storing "
            "{:.3f} s)",
            b.policy, b.id, b.bytes, t_dump, t_rows, seconds_since(t_commit_start));
  return b;
}

}  // namespace pgr::engine
