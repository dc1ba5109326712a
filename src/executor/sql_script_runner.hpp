// The StepRunner for restore plans from a plain SQL script (planner/restore_sql.hpp): roles and
// the database on the maintenance connection, the script through psql -v ON_ERROR_STOP=1 fed
// from the (decompressed) file by a writer thread, so progress is the file's bytes read; then a
// database-wide ANALYZE and row-count verification.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "executor/runner.hpp"
#include "model/plan.hpp"

namespace pgr::executor {

struct SqlScriptConfig {
  std::string admin_conninfo;   // the connection's own database (maintenance), with password
  std::string target_conninfo;  // the database psql starts in, with password
  std::string application_name = "pgrecover apply";
  std::filesystem::path psql;   // the psql program
  // Password hashes of the roles whose step says password: from-backup (never from the plan).
  std::map<std::string, std::string> role_passwords;
  // The script step ran before (an earlier run failed or died in it): what this plan created
  // (its database, the databases the script creates) is dropped and created anew first.
  bool script_ran_before = false;
};

std::unique_ptr<StepRunner> make_sql_script_runner(const model::Plan& plan, SqlScriptConfig config);

}  // namespace pgr::executor
