#include "executor/pitr_runner.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "executor/pitr_local_wal.hpp"
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

namespace pgr::executor {

namespace {

namespace P = model::pitr_param;
using Clock = std::chrono::steady_clock;

constexpr const char* kBlockBegin = "# --- pgrecover point-in-time recovery: begin ---";
constexpr const char* kBlockEnd = "# --- pgrecover point-in-time recovery: end ---";

bool is_empty_dir(const fs::path& p) { return fs::is_directory(p) && fs::directory_iterator(p) == fs::directory_iterator(); }

void give_to(const fs::path& p, const std::optional<UserIdentity>& user) {
  if (!user) return;
  if (::lchown(p.c_str(), user->uid, user->gid) != 0) {
    fail(ErrorKind::io, fmt::format("could not give \"{}\" to user {}: {}", p.string(), user->name, errno_text(errno)));
  }
}

void give_tree_to(const fs::path& root, const std::optional<UserIdentity>& user) {
  if (!user) return;
  give_to(root, user);
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) give_to(it->path(), user);
}

// The server's user must be able to reach the data directory (and write its log beside it).
void check_reachable(const fs::path& dir, const std::optional<UserIdentity>& user) {
  if (!user) return;
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      bool ok = (st.st_uid == user->uid && (st.st_mode & S_IXUSR)) || (st.st_gid == user->gid && (st.st_mode & S_IXGRP)) ||
                (st.st_mode & S_IXOTH);
      if (!ok) {
        fail(ErrorKind::input,
             fmt::format("user \"{}\", who runs the recovered server, cannot reach \"{}\" (no search permission on \"{}\")",
                         user->name, dir.string(), p.string()),
             "choose a data_directory below folders that user can enter");
      }
    }
    if (p == p.root_path()) break;
  }
}

std::string read_log(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PitrRunner;

class PitrWorker : public Worker {
 public:
  explicit PitrWorker(PitrRunner& r) : r_(r) {}
  StepOutcome run(const model::Step& step, StepContext& ctx) override;
  void cancel() override { cancelled_ = true; }

 private:
  StepOutcome verify_backup();
  StepOutcome prepare();
  StepOutcome extract(StepContext& ctx);
  StepOutcome local_wal();
  StepOutcome settings();
  StepOutcome start();
  StepOutcome wait(StepContext& ctx);
  StepOutcome wait_for_end_of_archive(StepContext& ctx);
  StepOutcome verify();
  StepOutcome act(const std::string& action);

  std::string conninfo() const;
  // The same, or nullopt when the server is gone (no readable postmaster.pid).
  std::optional<std::string> running_conninfo() const;
  // pg_ctl writes the server log next to the data directory: make it the server user's.
  void prepare_log() const;
  bool server_running() const;
  [[noreturn]] void recovery_failed(const std::string& what) const;
  void check_cancel() const {
    if (cancelled_) fail(ErrorKind::cancelled, "point-in-time recovery interrupted");
  }

  PitrRunner& r_;
  std::atomic<bool> cancelled_{false};
};

class PitrRunner : public StepRunner {
 public:
  PitrRunner(const model::Plan& plan, const PitrRunnerConfig& config) : plan_(plan), config_(config) {
    bin_dir_ = instance::find_bin_dir(config.bin_dir);
    if (running_as_root()) user_ = lookup_user(config.run_as.empty() ? "postgres" : config.run_as);
    data_dir_ = param(P::data_directory);
    socket_dir_ = param(P::socket_directory).empty() ? data_dir_ : fs::path(param(P::socket_directory));
  }
  std::unique_ptr<Worker> make_worker(int) override { return std::make_unique<PitrWorker>(*this); }

  const std::string& param(const char* key) const {
    static const std::string empty;
    auto it = plan_.params.find(key);
    return it == plan_.params.end() ? empty : it->second;
  }
  bool standby() const { return param(P::standby) == "true"; }
  const repository::Repository& repo() const {
    if (!config_.repository) fail(ErrorKind::internal, "a pitr runner without its repository");
    return *config_.repository;
  }
  repository::BackupInfo backup() const { return repo().find(param(P::policy) + "/" + param(P::backup)); }
  fs::path log_file() const { return data_dir_.parent_path() / "postgresql.log"; }
  ProcessResult server_tool(std::vector<std::string> argv) const {
    ProcessSpec ps;
    ps.argv = std::move(argv);
    ps.run_as = user_;
    ps.cwd = data_dir_.parent_path();
    ps.unset_env = {"PGDATA", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS"};
    return run_process(ps);
  }

  const model::Plan& plan_;
  PitrRunnerConfig config_;
  fs::path bin_dir_, data_dir_, socket_dir_;
  std::optional<UserIdentity> user_;
};

void PitrWorker::prepare_log() const {
  fs::path log = r_.log_file();
  if (!fs::exists(log)) write_file_atomic(log, "", 0600);
  give_to(log, r_.user_);
}

StepOutcome PitrWorker::run(const model::Step& step, StepContext& ctx) {
  check_cancel();
  if (step.kind == "verify-backup") return verify_backup();
  if (step.kind == "data-directory") return prepare();
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
  auto b = r_.backup();
  auto info = repository::physical_info(r_.repo().read_manifest(b));
  std::atomic<std::int64_t> bytes{0};
  const auto& store = r_.repo().storage();
  auto stats = repository::extract_tar(store, repository::Repository::file_key(b, info.base_file), dd,
                                       ctx.progress ? &ctx.progress->bytes : &bytes);
  if (!info.wal_file.empty()) {
    auto w = repository::extract_tar(store, repository::Repository::file_key(b, info.wal_file), dd / "pg_wal",
                                     ctx.progress ? &ctx.progress->bytes : &bytes);
    stats.files += w.files;
    stats.bytes += w.bytes;
  }
  create_private_dirs(dd / "pg_wal" / "archive_status");
  // pg_verifybackup: every file against pg_basebackup's own manifest, and the WAL range parses.
  // The manifest is read from a local copy (the repository may be an object store).
  TempDir manifest_dir("pgrecover-manifest-");
  storage::get_file(store, repository::Repository::file_key(b, "backup_manifest"), manifest_dir.path() / "backup_manifest");
  ProcessSpec ps;
  ps.argv = {instance::tool_path("pg_verifybackup", r_.config_.bin_dir).string(), "--quiet", "--manifest-path=" + (manifest_dir.path() / "backup_manifest").string(),
             "--wal-directory=" + (dd / "pg_wal").string(), dd.string()};
  ProcessResult v = run_process(ps);
  if (!v.ok()) fail(ErrorKind::io, describe_failure("pg_verifybackup of the extracted data directory", v));
  give_tree_to(dd, r_.user_);
  fsync_dir(dd);
  return {0, static_cast<std::int64_t>(stats.bytes), fmt::format("{} files, verified with pg_verifybackup", stats.files)};
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

StepOutcome PitrWorker::start() {
  if (fs::exists(r_.data_dir_ / "postmaster.pid") && server_running()) {
    instance::PostmasterInfo pm;
    instance::read_postmaster_pid(r_.data_dir_, pm);
    return {0, 0, fmt::format("already running (pid {}, port {})", pm.pid, pm.port)};
  }
  prepare_log();
  instance::Options o;
  o.bin_dir = r_.bin_dir_;
  o.run_as = r_.config_.run_as;
  o.port = std::stoi(r_.param(P::port));
  o.durable = true;
  o.existing_data_dir = r_.data_dir_;
  o.socket_dir = r_.socket_dir_;
  o.keep = true;  // it stays up for pause / promote; `shutdown` stops it
  o.superuser = r_.param(P::superuser);
  o.start_timeout_seconds = std::stoi(r_.param(P::timeout));
  o.keep_configuration = r_.param(P::keep_config) == "true";
  if (!r_.param(P::server_settings).empty()) {
    auto settings = nlohmann::json::parse(r_.param(P::server_settings));
    for (const auto& [k, v] : settings.items()) o.settings.emplace_back(k, v.get<std::string>());
  }
  try {
    instance::Instance server(o);
    return {0, 0, fmt::format("port {}, socket directory {}", server.port(), server.socket_dir().string())};
  } catch (const Error& e) {
    // Recovery that runs out of WAL before the target stops the server during startup; say
    // that (from the log) rather than only "pg_ctl failed".
    if (diagnose_recovery_log(read_log(r_.log_file()), std::stoull(r_.param(P::seg_size))).empty()) throw;
    recovery_failed(fmt::format("the recovered server stopped before reaching the target {}", r_.param(P::target)));
  }
}

StepOutcome PitrWorker::wait(StepContext& ctx) {
  if (r_.standby()) return wait_for_end_of_archive(ctx);
  auto deadline = Clock::now() + std::chrono::seconds(std::stoll(r_.param(P::timeout)));
  std::uint64_t start_lsn = repository::parse_lsn(r_.param(P::start_lsn));
  std::string last_lsn = "(unknown)";
  auto next_log = Clock::now() + std::chrono::seconds(10);
  std::string last_error;
  while (true) {
    check_cancel();
    if (!fs::exists(r_.data_dir_ / "postmaster.pid") || !server_running()) {
      recovery_failed(fmt::format("the recovered server stopped before reaching the target {}", r_.param(P::target)));
    }
    try {
      // The server may stop between the check above and here (recovery that runs out of WAL
      // ends it): that is the same failure, with the same diagnosis from the log.
      auto where = running_conninfo();
      if (!where) recovery_failed(fmt::format("the recovered server stopped before reaching the target {}", r_.param(P::target)));
      auto c = pg::Connection::open(*where, "pgrecover recovery");
      auto res = c.exec("SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.pg_get_wal_replay_pause_state(), "
                        "coalesce(pg_catalog.pg_last_wal_replay_lsn()::text, '')");
      bool in_recovery = res.boolean(0, 0);
      std::string state = res.str(0, 1);
      if (!res.str(0, 2).empty()) last_lsn = res.str(0, 2);
      if (ctx.progress && last_lsn != "(unknown)") {
        std::uint64_t lsn = repository::parse_lsn(last_lsn);
        ctx.progress->bytes = static_cast<std::int64_t>(lsn > start_lsn ? lsn - start_lsn : 0);
      }
      if (!in_recovery) {
        fail(ErrorKind::instance,
             fmt::format("the recovered server left recovery without pausing at the target {} (replayed up to {})",
                         r_.param(P::target), last_lsn),
             "the target was probably not in the WAL; check the server log " + r_.log_file().string());
      }
      if (state == "paused") {
        std::string why = diagnose_recovery_log(read_log(r_.log_file()), std::stoull(r_.param(P::seg_size)));
        return {0, ctx.progress ? ctx.progress->bytes.load() : 0,
                fmt::format("paused at {}{}", last_lsn, why.empty() ? "" : " (" + why + ")")};
      }
    } catch (const pg::DbError& e) {
      last_error = e.what();  // still starting up, or consistent state not reached yet
    }
    if (Clock::now() >= deadline) {
      std::string where = last_lsn == "(unknown)" ? "replay has not reached a consistent state"
                                                  : fmt::format("replay is at {}", last_lsn);
      std::string missing;
      if (last_lsn != "(unknown)") {
        std::uint64_t seg = std::stoull(r_.param(P::seg_size));
        std::uint64_t next = repository::segment_number(repository::parse_lsn(last_lsn), seg) + 1;
        repository::WalArchive archive(r_.repo().storage_ptr(), r_.param(P::cluster));
        std::string name = repository::segment_name(static_cast<std::uint32_t>(std::stoul(r_.param(P::timeline))), next, seg);
        missing = archive.find(name) ? fmt::format("; the next segment {} is in the archive", name)
                                     : fmt::format("; the next segment {} is not in the archive", name);
      }
      fail(ErrorKind::instance,
           fmt::format("recovery did not reach the target {} within {}s: {}{}", r_.param(P::target), r_.param(P::timeout),
                       where, missing),
           "raise spec.timeout if replay is only slow; otherwise archive the missing WAL or choose an earlier target. "
           "The server is still running; the server log is " + r_.log_file().string());
    }
    if (Clock::now() >= next_log) {
      log::info("recovery: replayed up to {} (waiting for the target {})", last_lsn, r_.param(P::target));
      next_log = Clock::now() + std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// target latest: the server runs as a standby that restores every archived segment and then
// keeps asking for the next. Replay has reached the end of the archive once it is at or past the
// newest segment the plan expects and has not moved for a few seconds.
StepOutcome PitrWorker::wait_for_end_of_archive(StepContext& ctx) {
  auto deadline = Clock::now() + std::chrono::seconds(std::stoll(r_.param(P::timeout)));
  const std::uint64_t seg = std::stoull(r_.param(P::seg_size));
  const std::string& expected = r_.param(P::last_segment);
  std::uint32_t tli = 0;
  std::uint64_t expected_no = 0;
  repository::parse_segment_name(expected, seg, tli, expected_no);
  std::uint64_t start_lsn = repository::parse_lsn(r_.param(P::start_lsn));
  std::string last_lsn;
  auto still_since = Clock::now();
  auto next_log = Clock::now() + std::chrono::seconds(10);
  const std::string stopped = "the recovered server stopped while replaying the archive";
  while (true) {
    check_cancel();
    auto where = running_conninfo();
    if (!where || !server_running()) recovery_failed(stopped);
    try {
      auto c = pg::Connection::open(*where, "pgrecover recovery");
      auto res = c.exec("SELECT pg_catalog.pg_is_in_recovery(), coalesce(pg_catalog.pg_last_wal_replay_lsn()::text, ''), "
                        "coalesce(to_char(pg_catalog.pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')");
      if (!res.boolean(0, 0)) {
        fail(ErrorKind::instance, "the recovered server is no longer in recovery: it was promoted by someone else",
             "look at it; plan again for a new recovery into an empty data directory");
      }
      std::string lsn = res.str(0, 1);
      if (lsn != last_lsn) {
        last_lsn = lsn;
        still_since = Clock::now();
      }
      if (!lsn.empty()) {
        std::uint64_t at = repository::parse_lsn(lsn);
        if (ctx.progress) ctx.progress->bytes = static_cast<std::int64_t>(at > start_lsn ? at - start_lsn : 0);
        if (repository::segment_number(at, seg) >= expected_no && Clock::now() - still_since >= std::chrono::seconds(3)) {
          std::string commit = res.str(0, 2);
          std::string note = fmt::format("replayed the archive to {} (newest segment expected: {}); {}", lsn, expected,
                                         commit.empty() ? "no transaction was replayed after the base backup"
                                                        : "the last transaction replayed committed at " + commit +
                                                              ": what was committed after it is lost");
          log::info("recovery: {}", note);  // the data-loss window, for whoever runs the recovery
          return {0, ctx.progress ? ctx.progress->bytes.load() : 0, note};
        }
      }
    } catch (const pg::DbError&) {
      // still starting up, or not consistent yet
    }
    if (Clock::now() >= deadline) {
      fail(ErrorKind::instance,
           fmt::format("recovery did not reach the end of the archive (segment {}) within {}s: replay is at {}", expected,
                       r_.param(P::timeout), last_lsn.empty() ? "(not consistent yet)" : last_lsn),
           "raise spec.timeout if replay is only slow; otherwise a segment before " + expected +
               " is missing or damaged. The server is still running; the server log is " + r_.log_file().string());
    }
    if (Clock::now() >= next_log) {
      log::info("recovery: replayed up to {} (the archive ends in {})", last_lsn, expected);
      next_log = Clock::now() + std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

StepOutcome PitrWorker::verify() {
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
    // latest) is promoted explicitly.
    c.exec(r_.standby() ? "SELECT pg_catalog.pg_promote(false)" : "SELECT pg_catalog.pg_wal_replay_resume()");
  }
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (c.exec("SELECT pg_catalog.pg_is_in_recovery()").boolean(0, 0)) {
    check_cancel();
    if (Clock::now() > deadline) fail(ErrorKind::instance, "the recovered server did not finish promoting within 120s");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  auto tli = c.exec("SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()");
  std::string archiving = r_.param(P::archive_resume) == "true"
                              ? fmt::format("; WAL is archived into cluster {} again (archive: resume)", r_.param(P::cluster))
                              : "";
  return {0, 0, fmt::format("promoted: open for writes (new timeline after {}){}", tli.str(0, 0), archiving)};
}

}  // namespace

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
  return std::make_unique<PitrRunner>(plan, config);
}

}  // namespace pgr::executor
