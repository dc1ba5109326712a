// The server-start step of a pitr plan. pg_ctl start -w looks at postmaster.pid every 100 ms
// (PostgreSQL 15's pg_ctl: WAITS_PER_SEC 10), and a recovering server is ready as soon as it is
// consistent: on the physical bench that poll left the server paused at its target for up to
// 0.1 s before the next step saw it. So pg_ctl runs on a thread of its own (every failure is
// still pg_ctl's, with its exit status and the server log) while this step reads postmaster.pid
// every 10 ms, with pg_ctl's own test: written by a postmaster started since this step began (its
// start time at most 2 s earlier, as pg_ctl allows) that is alive, in status "ready" or
// "standby". The step ends at the first of the two; the thread is joined by the next step that
// needs the server, or by the runner (ServerStarter below).
#include <signal.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "executor/os_user_files.hpp"
#include "executor/pitr_worker.hpp"
#include "instance/instance.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/tree_sync.hpp"

namespace pgr::executor::pitr_detail {

namespace {

using Clock = std::chrono::steady_clock;

// postmaster.pid says the server it names, started at or after `since` (epoch seconds, less
// pg_ctl's 2 s of slack), is alive and takes connections (PM_STATUS_READY or _STANDBY): returns
// that status, or "" when not.
std::string ready_since(const fs::path& data_dir, std::time_t since) {
  std::ifstream in(data_dir / "postmaster.pid");
  std::vector<std::string> lines;
  for (std::string line; lines.size() < 8 && std::getline(in, line);) lines.push_back(line);
  if (lines.size() < 8) return "";
  long pid = 0;
  long long started = 0;
  try {
    pid = std::stol(lines[0]);
    started = std::stoll(lines[2]);
  } catch (const std::exception&) {
    return "";  // being written
  }
  std::string status = lines[7];
  while (!status.empty() && status.back() == ' ') status.pop_back();  // the status line is space-padded
  if (pid <= 0 || started < static_cast<long long>(since) - 2) return "";
  if (status != "ready" && status != "standby") return "";
  return ::kill(static_cast<pid_t>(pid), 0) == 0 ? status : "";
}

}  // namespace

void ServerStarter::launch(std::function<void()> start) {
  join();
  std::lock_guard lock(mu_);
  done_ = false;
  error_ = nullptr;
  thread_ = std::thread([this, start = std::move(start)] {
    std::exception_ptr e;
    try {
      start();
    } catch (...) {
      e = std::current_exception();
    }
    std::lock_guard finished(mu_);
    error_ = e;
    done_ = true;
  });
}

bool ServerStarter::done() {
  std::lock_guard lock(mu_);
  return done_;
}

void ServerStarter::join() {
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

ServerStarter::~ServerStarter() {
  if (thread_.joinable()) thread_.join();
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
  bool sync_method_given = false;
  if (!r_.param(P::server_settings).empty()) {
    auto settings = nlohmann::json::parse(r_.param(P::server_settings));
    for (const auto& [k, v] : settings.items()) o.settings.emplace_back(k, v.get<std::string>());
    sync_method_given = settings.contains("recovery_init_sync_method");
  }
  // A backup's data directory was not shut down cleanly, so the server fsyncs every file of it
  // before recovery begins (recovery_init_sync_method = fsync: one disk flush per file). The
  // extract step made all of it durable already; one syncfs per file system does the same job
  // for this start (PostgreSQL 14 and later; Linux 5.8 and later report its errors). Not
  // written to the configuration: later crash recoveries use the cluster's own setting.
  if (!sync_method_given && syncfs_reports_errors() && data_directory_major() >= 14) {
    o.start_settings.emplace_back("recovery_init_sync_method", "syncfs");
  }
  const std::time_t since = std::time(nullptr);
  r_.starter_.launch([o] { instance::Instance server(o); });
  auto note = [&](const std::string& how) {
    instance::PostmasterInfo pm;
    instance::read_postmaster_pid(r_.data_dir_, pm);
    return fmt::format("port {}, socket directory {}; {}", pm.port, pm.socket_dir.empty() ? "(none)" : pm.socket_dir, how);
  };
  // Whether pg_ctl has ended is read before postmaster.pid, so a server that takes connections
  // is always reported from the file (its status in the note), whichever saw it first.
  for (;;) {
    bool pg_ctl_ended = r_.starter_.done();
    if (auto status = ready_since(r_.data_dir_, since); !status.empty()) {
      return {0, 0, note(fmt::format("taking connections (postmaster.pid: {})", status))};
    }
    if (pg_ctl_ended) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  try {
    r_.starter_.join();
    return {0, 0, note("pg_ctl start returned")};
  } catch (const Error& e) {
    // Recovery that runs out of WAL before the target stops the server during startup; say
    // that (from the log) rather than only "pg_ctl failed".
    if (diagnose_recovery_log(read_log(r_.log_file()), std::stoull(r_.param(P::seg_size))).empty()) throw;
    recovery_failed(fmt::format("the recovered server stopped before reaching the target {}", r_.param(P::target)));
  }
}

}  // namespace pgr::executor::pitr_detail
