// A restore runner's configuration as a plan records it (its params) and as earlier runs left it
// (rows loaded, from the journal); the connection strings come from the settings at apply time.
#pragma once

#include <string>

#include "executor/journal.hpp"
#include "executor/restore_runner.hpp"
#include "model/plan.hpp"

namespace pgr::executor {

// Everything but role_passwords, session-settings choice (choose_load_settings) and index_mwm.
RestoreRunnerConfig restore_config_of(const model::Plan& plan, const Journal& journal, const std::string& admin_conninfo,
                                      const std::string& target_conninfo);

// Workers: --jobs when given (> 0), else the plan's; one for a single-transaction restore.
int restore_jobs(const model::Plan& plan, int option_jobs);

}  // namespace pgr::executor
