// The real StepRunner for restore plans: each worker has its own libpq connection to the target
// database (opened lazily: the database may be created by an earlier step) and one to the
// maintenance database for roles and CREATE DATABASE.
//   - schema entries run pg_restore's own SQL for the entry (DdlScript) in one transaction;
//   - table data runs BEGIN; TRUNCATE ONLY t; COPY t FROM STDIN (FREEZE); COMMIT, streamed from
//     the archive in 1 MiB chunks (bounded memory), so a retry cannot double rows;
//   - foreign keys are added NOT VALID and validated by their own step;
//   - analyze, sequence-fix and verify are the synthetic post-restore steps.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "archive/archive.hpp"
#include "executor/ddl_script.hpp"
#include "executor/runner.hpp"
#include "model/plan.hpp"

namespace pgr::executor {

struct RestoreRunnerConfig {
  std::string admin_conninfo;   // the connection's own database (maintenance), with password
  std::string target_conninfo;  // the database restored into, with password
  std::string application_name = "pgrecover apply";  // includes the plan id, to find orphans
  bool no_owner = false;
  // One transaction for the whole plan (one worker): steps run without BEGIN/COMMIT of their own
  // between the plan's "begin" and "commit" steps; roles are created inside it too.
  bool single_transaction = false;
  // Tablespaces: every entry in the default (tablespaces: default), or old -> new ("" the default).
  bool no_tablespaces = false;
  std::map<std::string, std::string> tablespace_map;
  // Password hashes of the roles whose step says password: from-backup, read from the backup's
  // manifest at apply (never from the plan).
  std::map<std::string, std::string> role_passwords;
  std::map<std::string, std::string> session_settings;  // GUCs for every load session
  // maintenance_work_mem of index builds by access method, where it differs from the session's
  // (session_settings.hpp: GIN builds stay moderate).
  std::map<std::string, std::string> index_mwm;
  // Rows loaded by data steps of earlier runs (from the journal), by step id.
  std::map<std::string, std::int64_t> prior_rows;
};

class RestoreRunner : public StepRunner {
 public:
  RestoreRunner(const model::Plan& plan, const archive::Archive& archive, DdlScript ddl, RestoreRunnerConfig config);
  std::unique_ptr<Worker> make_worker(int index) override;

  // For verify: rows a data step loaded (this run or an earlier one); -1 when unknown.
  std::int64_t rows_loaded(const std::string& step_id) const;
  void record_rows(const std::string& step_id, std::int64_t rows);

  const model::Plan& plan() const { return plan_; }
  const archive::Archive& archive() const { return archive_; }
  const DdlScript& ddl() const { return ddl_; }
  const RestoreRunnerConfig& config() const { return config_; }

 private:
  const model::Plan& plan_;
  const archive::Archive& archive_;
  DdlScript ddl_;
  RestoreRunnerConfig config_;
  mutable std::mutex mu_;
  std::map<std::string, std::int64_t> rows_;
};

// SQLSTATEs that mean "the object is already there": a step that was in flight when an earlier
// run died and now fails with one of these had committed.
bool is_duplicate_object(const std::string& sqlstate);

// Inserts NOT VALID before the final semicolon of an ADD CONSTRAINT ... FOREIGN KEY statement.
std::string add_not_valid(const std::string& sql);

// existing: replace may drop objects it cannot recreate (steps with a "lost" param): throws
// Error(input) listing them unless the plan allows dropping dependents. Nothing is changed.
void refuse_lost_dependents(const model::Plan& plan);

}  // namespace pgr::executor
