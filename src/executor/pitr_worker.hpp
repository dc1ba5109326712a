// Inside the pitr runner (executor/pitr_runner.cpp): the runner, which holds the plan's
// parameters and the server's OS user, and its worker, one method per step kind. The waits for
// the recovery target live in executor/pitr_wait.cpp. Private to the executor: nothing outside
// src/executor/ includes this.
#pragma once

#include <atomic>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include <vector>

#include "executor/pitr_runner.hpp"
#include "instance/instance.hpp"
#include "model/pitr_params.hpp"
#include "repository/physical.hpp"
#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/process.hpp"
#include "util/tree_sync.hpp"

namespace pgr::executor::pitr_detail {

namespace fs = std::filesystem;
namespace P = model::pitr_param;

class PitrRunner;

// One entry of the plan's "tablespaces" parameter.
struct PlannedTablespace {
  std::string oid, name, file;
  fs::path location;  // where it is recovered (mapped or original)
  // In place: where the old cluster's folder at `location` goes, and the old data directory's
  // link to repoint there (empty: nothing moves).
  fs::path moved_aside_to;
  std::string old_oid;
};
using ExtractStats = repository::ExtractStats;

// The server-start step's pg_ctl, run on a thread of its own so that the step can end as soon as
// postmaster.pid says the server is ready (executor/pitr_start.cpp). join() waits for it and
// rethrows its error; the destructor joins without throwing.
class ServerStarter {
 public:
  ServerStarter() = default;
  ServerStarter(const ServerStarter&) = delete;
  ServerStarter& operator=(const ServerStarter&) = delete;
  ~ServerStarter();
  void launch(std::function<void()> start);
  bool done();
  void join();

 private:
  std::mutex mu_;
  std::thread thread_;
  bool done_ = true;
  std::exception_ptr error_;
};

class PitrWorker : public Worker {
 public:
  explicit PitrWorker(PitrRunner& r) : r_(r) {}
  StepOutcome run(const model::Step& step, StepContext& ctx) override;
  void cancel() override { cancelled_ = true; }

 private:
  StepOutcome verify_backup();
  StepOutcome prepare();
  StepOutcome extract(StepContext& ctx);
  std::string verify_own_and_sync(const fs::path& manifest, bool hashed, std::vector<std::unique_ptr<TreeSync>>& syncs);
  StepOutcome tablespace_directory(const model::Step& step);
  std::string move_old_tablespace_aside(const PlannedTablespace& t);
  // Each tablespace tar into its folder (emptied first when an interrupted extract left files)
  // and the pg_tblspc links; after pg_verifybackup, finish_tablespaces drops tablespace_map
  // (its locations are the source's) and gives the folders to the server's user.
  ExtractStats extract_tablespaces(const repository::BackupInfo& b, const repository::ExtractOptions& options);
  void finish_tablespaces();
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
  int data_directory_major() const;  // PG_VERSION of the data directory, 0 when unreadable
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
  std::vector<PlannedTablespace> tablespaces() const;  // executor/pitr_tablespaces.cpp
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
  ServerStarter starter_;
};

}  // namespace pgr::executor::pitr_detail
