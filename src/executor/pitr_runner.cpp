#include "executor/pitr_runner.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "executor/os_user_files.hpp"
#include "executor/pitr_local_wal.hpp"
#include "executor/pitr_worker.hpp"
#include "instance/instance.hpp"
#include "pg/check.hpp"
#include "pg/pg.hpp"
#include "repository/physical.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/process.hpp"
#include "util/time.hpp"
#include "util/tree_sync.hpp"

namespace pgr::executor {

namespace pitr_detail {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kBlockBegin = "# --- pgrecover point-in-time recovery: begin ---";
constexpr const char* kBlockEnd = "# --- pgrecover point-in-time recovery: end ---";

bool is_empty_dir(const fs::path& p) { return fs::is_directory(p) && fs::directory_iterator(p) == fs::directory_iterator(); }

}  // namespace

void PitrWorker::prepare_log() const {
  fs::path log = r_.log_file();
  if (!fs::exists(log)) write_file_atomic(log, "", 0600);
  give_to(log, r_.user_);
}

StepOutcome PitrWorker::run(const model::Step& step, StepContext& ctx) {
  check_cancel();
  if (step.kind == "verify-backup") return verify_backup();
  if (step.kind == "data-directory") return prepare();
  if (step.kind == "tablespace-directory") return tablespace_directory(step);
  if (step.kind == "extract") return extract(ctx);
  if (step.kind == "local-wal") return local_wal();
  if (step.kind == "recovery-settings") return settings();
  if (step.kind == "server-start") return start();
  if (step.kind == "recovery-target") return wait(ctx);
  if (step.kind == "verify") return verify();
  if (step.kind == "promote" || step.kind == "pause" || step.kind == "shutdown") return act(step.kind);
  fail(ErrorKind::internal, fmt::format("pitr plan: unknown step kind \"{}\"", step.kind));
}

StepOutcome PitrWorker::verify_backup() {
  const auto& repo = r_.repo();
  auto b = r_.backup();
  auto problems = repo.verify_files(b);
  if (!problems.empty()) {
    std::string list;
    for (const auto& p : problems) list += fmt::format("\n  {}: {}", p.file.empty() ? "(backup)" : p.file, p.message);
    fail(ErrorKind::io, fmt::format("base backup {} is damaged:{}", b.id, list),
         "recover from another backup (PointInTimeRecovery picks the newest that ends before the target)");
  }
  return {0, static_cast<std::int64_t>(b.bytes), fmt::format("{} bytes checked", b.bytes)};
}

StepOutcome PitrWorker::prepare() {
  const fs::path& dd = r_.data_dir_;
  std::string note = "created";
  if (fs::exists(dd)) {
    if (!fs::is_directory(dd)) fail(ErrorKind::input, fmt::format("\"{}\" exists and is not a folder", dd.string()));
    if (is_empty_dir(dd)) {
      note = "empty folder taken";
    } else {
      if (fs::exists(dd / "postmaster.pid") && server_running()) {
        fail(ErrorKind::input, fmt::format("a PostgreSQL server is running in \"{}\"", dd.string()),
             "stop it, or choose another to.data_directory");
      }
      if (r_.param(P::move_aside) != "true") {
        fail(ErrorKind::input, fmt::format("the data directory \"{}\" is not empty", dd.string()),
             "choose an empty or absent folder, or set to.move_aside_existing: true to rename it first");
      }
      fs::path aside = r_.param(P::moved_aside_to);
      if (aside.empty()) {  // plans made before the plan named it
        std::string stamp = now_iso8601();
        stamp.erase(std::remove_if(stamp.begin(), stamp.end(), [](char c) { return c == ':' || c == '-'; }), stamp.end());
        aside = dd;
        aside += ".pgrecover-" + stamp.substr(0, 15);
      }
      if (fs::exists(aside)) {
        fail(ErrorKind::input, fmt::format("cannot move \"{}\" aside: \"{}\" exists", dd.string(), aside.string()),
             "plan again (the new plan names another folder)");
      }
      fs::rename(dd, aside);
      fsync_dir(dd.parent_path());
      note = fmt::format("the old content was moved to {}", aside.string());
    }
  }
  check_reachable(dd.parent_path(), r_.user_);
  create_private_dirs(dd);
  fs::permissions(dd, fs::perms::owner_all, fs::perm_options::replace);
  give_to(dd, r_.user_);
  prepare_log();
  return {0, 0, note};
}

StepOutcome PitrWorker::extract(StepContext& ctx) {
  const fs::path& dd = r_.data_dir_;
  if (!is_empty_dir(dd)) {
    // Only an interrupted extract leaves files here: the data-directory step took it empty.
    log::info("emptying \"{}\" left by an interrupted extract", dd.string());
    for (const auto& e : fs::directory_iterator(dd)) fs::remove_all(e.path());
  }
  // Where the step's time goes, for the note (and so for `runs show` and the bench).
  auto t0 = Clock::now();
  auto lap = [t = t0]() mutable {
    auto now = Clock::now();
    double s = std::chrono::duration<double>(now - t).count();
    t = now;
    return s;
  };
  // Opened before anything is written, so that the one syncfs at the end reports a write-back
  // error of any file written in between (util/tree_sync.hpp).
  std::vector<std::unique_ptr<TreeSync>> syncs;
  std::set<dev_t> devices;
  auto sync_root = [&](const fs::path& root) {
    auto dev = device_of(root);
    if (!dev || devices.insert(*dev).second) syncs.push_back(std::make_unique<TreeSync>(root));
  };
  sync_root(dd);
  for (const auto& t : r_.tablespaces()) sync_root(t.location);
  auto b = r_.backup();
  auto info = repository::physical_info(r_.repo().read_manifest(b));
  std::atomic<std::int64_t> bytes{0};
  const auto& store = r_.repo().storage();
  // pg_basebackup's own manifest, read first (from a local copy: the repository may be an object
  // store): every file is checked against its SHA-256 while it is written.
  TempDir manifest_dir("pgrecover-manifest-");
  fs::path manifest = manifest_dir.path() / "backup_manifest";
  storage::get_file(store, repository::Repository::file_key(b, "backup_manifest"), manifest);
  auto checksums = repository::ManifestChecksums::parse(read_file(manifest));
  repository::ExtractOptions o;
  o.progress = ctx.progress ? &ctx.progress->bytes : &bytes;
  o.checksums = &checksums;
  o.early_writeback = true;
  auto stats = repository::extract_tar(store, repository::Repository::file_key(b, info.base_file), dd, o);
  if (!info.wal_file.empty()) {
    auto wal = o;
    wal.checksums = nullptr;  // WAL files are not in the manifest: pg_verifybackup parses them
    auto w = repository::extract_tar(store, repository::Repository::file_key(b, info.wal_file), dd / "pg_wal", wal);
    stats.files += w.files;
    stats.bytes += w.bytes;
  }
  auto ts = extract_tablespaces(b, o);
  stats.files += ts.files;
  stats.bytes += ts.bytes;
  create_private_dirs(dd / "pg_wal" / "archive_status");
  if (const char* k = std::getenv("PGRECOVER_TEST_KILL_AFTER_EXTRACT"); k && std::string(k) == "1") {
    ::raise(SIGKILL);  // test hook: every file written, none made durable, the step not journaled
  }
  double extract_s = lap();
  bool hashed = checksums.all_verified();
  std::string timings = verify_own_and_sync(manifest, hashed, syncs);
  return {0, static_cast<std::int64_t>(stats.bytes),
          fmt::format("{} files, {}; verified with pg_verifybackup (extract {:.3f} s, {})", stats.files,
                      hashed ? fmt::format("SHA-256 of all {} checked against backup_manifest while written", checksums.verified)
                             : "SHA-256 checked by pg_verifybackup",
                      extract_s, timings)};
}

// pg_verifybackup: every file of the manifest present with its size, no other file, the WAL
// range parses; the checksums it skips when extraction checked every file's already. Then the
// tree is given to the server's user and made durable. Returns the timings for the step's note.
std::string PitrWorker::verify_own_and_sync(const fs::path& manifest, bool hashed,
                                            std::vector<std::unique_ptr<TreeSync>>& syncs) {
  const fs::path& dd = r_.data_dir_;
  ProcessSpec ps;
  ps.argv = {instance::tool_path("pg_verifybackup", r_.config_.bin_dir).string(), "--quiet", "--manifest-path=" + manifest.string(),
             "--wal-directory=" + (dd / "pg_wal").string(), dd.string()};
  if (hashed) ps.argv.insert(ps.argv.begin() + 2, "--skip-checksums");
  // Durable before the step is journaled done: one syncfs per file system (their write-back
  // started as each file was written), or, where syncfs reports no errors, one fsync per file
  // and folder; after the owner change, so that it is durable too.
  double owner_s = 0, sync_s = 0;
  auto own_and_sync = [&] {
    auto t = Clock::now();
    give_tree_to(dd, r_.user_);
    owner_s = std::chrono::duration<double>(Clock::now() - t).count();
    t = Clock::now();
    for (auto& sync : syncs) sync->sync();
    sync_s = std::chrono::duration<double>(Clock::now() - t).count();
  };
  // pg_verifybackup only reads. Without tablespaces nothing in the tree changes after it, so the
  // owner change and the sync run meanwhile; with them, tablespace_map is removed after it and
  // the sync comes last.
  const bool at_once = r_.tablespaces().empty();
  std::exception_ptr sync_error;
  std::thread syncer;
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();  // also when run_process throws
    }
  } join{syncer};
  if (at_once) {
    syncer = std::thread([&] {
      try {
        own_and_sync();
      } catch (...) {
        sync_error = std::current_exception();
      }
    });
  }
  auto t0 = Clock::now();
  ProcessResult v = run_process(ps);
  double verify_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (syncer.joinable()) syncer.join();
  if (!v.ok()) fail(ErrorKind::io, describe_failure("pg_verifybackup of the extracted data directory", v));
  if (sync_error) std::rethrow_exception(sync_error);
  if (!at_once) {
    finish_tablespaces();
    own_and_sync();
  }
  return fmt::format("pg_verifybackup {:.3f} s, owner {:.3f} s, {} {:.3f} s{}", verify_s, owner_s,
                     syncs.front()->method(), sync_s, at_once ? "; the last three at once" : "");
}

StepOutcome PitrWorker::local_wal() {
  auto names = nlohmann::json::parse(r_.param(P::local_wal)).get<std::vector<std::string>>();
  fs::path from = fs::path(r_.param(P::moved_aside_to)) / "pg_wal";
  auto bytes = copy_local_wal(names, from, r_.data_dir_ / "pg_wal", r_.user_);
  return {0, static_cast<std::int64_t>(bytes), fmt::format("{} file(s) copied from {}", names.size(), from.string())};
}

StepOutcome PitrWorker::settings() {
  const fs::path& dd = r_.data_dir_;
  std::string conf;
  if (fs::exists(dd / "postgresql.auto.conf")) conf = read_file(dd / "postgresql.auto.conf");
  // Remove our block from an earlier run, then append the current one.
  if (auto b = conf.find(kBlockBegin); b != std::string::npos) {
    auto e = conf.find(kBlockEnd, b);
    conf.erase(b, e == std::string::npos ? std::string::npos : e + std::string(kBlockEnd).size() + 1 - b);
  }
  if (!conf.empty() && conf.back() != '\n') conf += '\n';
  conf += std::string(kBlockBegin) + "\n" + r_.param(P::recovery_conf) + kBlockEnd + "\n";
  write_file_atomic(dd / "postgresql.auto.conf", conf, 0600);
  std::string notes;
  if (!fs::exists(dd / "postgresql.conf")) {
    // Debian-style clusters keep their configuration in /etc: the backup then has none.
    write_file_atomic(dd / "postgresql.conf", "# written by pgrecover: the base backup had no postgresql.conf\n", 0600);
    notes += ", wrote an empty postgresql.conf";
  }
  if (!fs::exists(dd / "pg_hba.conf")) {
    bool private_socket = r_.socket_dir_ == dd;
    write_file_atomic(dd / "pg_hba.conf",
                      fmt::format("# written by pgrecover: the base backup had no pg_hba.conf\nlocal all all {}\n",
                                  private_socket ? "trust" : "peer"),
                      0600);
    notes += ", wrote pg_hba.conf";
  }
  std::error_code ec;
  // target latest recovers as a standby: it replays the whole archive and waits for more
  // instead of ending recovery by itself; the action step ends it (see planner/pitr_planner).
  const char* signal = r_.standby() ? "standby.signal" : "recovery.signal";
  fs::remove(dd / (r_.standby() ? "recovery.signal" : "standby.signal"), ec);
  write_file_atomic(dd / signal, "", 0600);
  for (const char* f : {"postgresql.auto.conf", "postgresql.conf", "pg_hba.conf", signal}) give_to(dd / f, r_.user_);
  return {0, 0, fmt::format("{} and recovery settings written{}", signal, notes)};
}

bool PitrWorker::server_running() const {
  ProcessResult r = r_.server_tool({(r_.bin_dir_ / "pg_ctl").string(), "status", "-D", r_.data_dir_.string()});
  return r.exit_code == 0;
}

std::optional<std::string> PitrWorker::running_conninfo() const {
  instance::PostmasterInfo pm;
  if (!instance::read_postmaster_pid(r_.data_dir_, pm)) return std::nullopt;
  std::string host = pm.socket_dir.empty() ? "127.0.0.1" : pm.socket_dir;
  return fmt::format("host={} port={} user={} dbname=postgres connect_timeout=10", pg::quote_literal(host), pm.port,
                     pg::quote_literal(r_.param(P::superuser)));
}

std::string PitrWorker::conninfo() const {
  auto c = running_conninfo();
  if (!c) {
    fail(ErrorKind::instance, fmt::format("the recovered server in \"{}\" is not running (no postmaster.pid)", r_.data_dir_.string()));
  }
  return *c;
}

void PitrWorker::recovery_failed(const std::string& what) const {
  std::string log = read_log(r_.log_file());
  std::string why = diagnose_recovery_log(log, std::stoull(r_.param(P::seg_size)));
  // The last lines of this server's log (the file may hold earlier runs' lines too).
  std::size_t pos = log.size();
  for (int n = 0; n < 9 && pos > 0; ++n) {
    std::size_t nl = log.rfind('\n', pos - 1);
    pos = nl == std::string::npos ? 0 : nl;
  }
  std::string tail = log.substr(pos == 0 ? 0 : pos + 1);
  fail(ErrorKind::instance, what + (why.empty() ? "" : ": " + why) + (tail.empty() ? "" : "\nserver log:\n" + tail),
       fmt::format("the server log is {}; archive the missing WAL (or choose a target inside the archive), then "
                   "apply again",
                   r_.log_file().string()));
}

int PitrWorker::data_directory_major() const {
  try {
    return std::stoi(read_file(r_.data_dir_ / "PG_VERSION"));
  } catch (const std::exception&) {
    return 0;  // unknown: the server says what is wrong with its data directory
  }
}

StepOutcome PitrWorker::verify() {
  r_.starter_.join();
  auto checks = nlohmann::json::parse(r_.param(P::verify_sql)).get<std::vector<std::string>>();
  auto c = pg::Connection::open(conninfo(), "pgrecover verify");
  for (const auto& sql : checks) {
    auto verdict = pg::run_check(c, sql);
    if (!verdict.passed) {
      fail(ErrorKind::database, fmt::format("verify check on the recovered server: \"{}\" {}", sql, verdict.problem),
           "the recovered server stays paused at the target and was not promoted: look at it, or choose another "
           "target and recover again");
    }
  }
  return {0, 0, fmt::format("{} check(s) passed", checks.size())};
}

StepOutcome PitrWorker::act(const std::string& action) {
  r_.starter_.join();
  if (action == "pause" && r_.standby()) {
    auto c = pg::Connection::open(conninfo(), "pgrecover pause");
    c.exec("SELECT pg_catalog.pg_wal_replay_pause()");
    return {0, 0, "replay paused at the end of the archive: look, then SELECT pg_promote() to open it for writes"};
  }
  if (action == "pause") {
    return {0, 0, "paused at the target: look, then SELECT pg_wal_replay_resume() to promote, or stop the server"};
  }
  if (action == "shutdown") {
    if (!fs::exists(r_.data_dir_ / "postmaster.pid") || !server_running()) return {0, 0, "already stopped"};
    ProcessResult r = r_.server_tool({(r_.bin_dir_ / "pg_ctl").string(), "stop", "-D", r_.data_dir_.string(), "-m",
                                      "fast", "-w", "-t", "120"});
    if (!r.ok()) fail(ErrorKind::instance, describe_failure("pg_ctl stop", r));
    if (r_.standby()) {
      return {0, 0, "server stopped at the end of the archive; started again it is a standby (standby.signal): "
                    "SELECT pg_promote() opens it for writes"};
    }
    return {0, 0, "server stopped at the target"};
  }
  auto c = pg::Connection::open(conninfo(), "pgrecover promote");
  if (c.exec("SELECT pg_catalog.pg_is_in_recovery()").boolean(0, 0)) {
    // At a recovery-target pause, resuming ends recovery: the server promotes. A standby (target
    // latest) is promoted explicitly. pg_promote at the pause would skip the end-of-recovery
    // checkpoint (0.06-0.15 s on the bench), but PostgreSQL 15's pause loop notices a promote
    // request only on its 1-second timeout, while a resume wakes it at once: measured, the
    // promote step took 1.24 s with pg_promote against 0.9 s with the resume
    // (bench/results/physical-20261201T222339Z.txt).
    c.exec(r_.standby() ? "SELECT pg_catalog.pg_promote(false)" : "SELECT pg_catalog.pg_wal_replay_resume()");
  }
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (c.exec("SELECT pg_catalog.pg_is_in_recovery()").boolean(0, 0)) {
    check_cancel();
    if (Clock::now() > deadline) fail(ErrorKind::instance, "the recovered server did not finish promoting within 120s");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The timeline of the WAL being written now (the control file's checkpoint still names the old
  // one until the background checkpoint ends).
  auto tli = c.exec("SELECT ('x' || substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int");
  std::string archiving = r_.param(P::archive_resume) == "true"
                              ? fmt::format("; WAL is archived into cluster {} again (archive: resume)", r_.param(P::cluster))
                              : "";
  return {0, 0, fmt::format("promoted: open for writes on timeline {}{}", tli.str(0, 0), archiving)};
}

}  // namespace pitr_detail

std::string diagnose_recovery_log(const std::string& log, std::uint64_t seg_size) {
  std::string stop, ended, inside, restored, redo, last_commit;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("recovery stopping") != std::string::npos) stop = line.substr(line.find("recovery stopping"));
    if (line.find("requested recovery stop point is before consistent recovery point") != std::string::npos) {
      inside = "the target lies inside the base backup (before it became consistent); choose a later target";
    }
    if (line.find("recovery ended before configured recovery target") != std::string::npos) {
      ended = "recovery ended before the configured target was reached";
    }
    if (auto p = line.find("restored log file \""); p != std::string::npos) {
      restored = line.substr(p + 19, line.find('"', p + 19) - (p + 19));
    }
    if (auto p = line.find("redo done at "); p != std::string::npos) redo = line.substr(p + 13, line.find(' ', p + 13) - (p + 13));
    if (auto p = line.find("last completed transaction was at log time "); p != std::string::npos) last_commit = line.substr(p + 43);
  }
  std::vector<std::string> parts;
  if (!stop.empty()) parts.push_back(stop);
  if (!inside.empty()) parts.push_back(inside);
  if (!ended.empty()) parts.push_back(ended);
  if (!redo.empty()) parts.push_back("replay stopped at " + redo);
  if (!last_commit.empty() && !ended.empty()) parts.push_back("the last transaction replayed committed at " + last_commit);
  if (!restored.empty()) {
    std::string next;
    std::uint32_t tli = 0;
    std::uint64_t segno = 0;
    if (!ended.empty() && repository::parse_segment_name(restored, seg_size, tli, segno)) {
      next = fmt::format("; the next segment ({}) was not in the archive", repository::segment_name(tli, segno + 1, seg_size));
    }
    parts.push_back("the last WAL restored from the archive was " + restored + next);
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

std::unique_ptr<StepRunner> make_pitr_runner(const model::Plan& plan, const PitrRunnerConfig& config) {
  return std::make_unique<pitr_detail::PitrRunner>(plan, config);
}

}  // namespace pgr::executor
