// The StepRunner for point-in-time recovery plans (kind "pitr"). Steps, in order:
//   verify-backup → data-directory → extract → recovery-settings → server-start →
//   recovery-target → verify (when the document has checks) → promote | pause | shutdown
// Every step can run again after a crash: the data directory is re-checked, a half-extracted
// one is emptied and extracted again (the data-directory step made it ours), settings are
// rewritten whole, a server that is already up (postmaster.pid, pg_ctl status) is reused, and
// waiting resumes from wherever replay is.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "executor/runner.hpp"
#include "model/pitr_params.hpp"
#include "model/plan.hpp"
#include "repository/repository.hpp"

namespace pgr::executor {

// Where recovery stopped and why, from the server log: "recovery stopping before ...",
// "recovery ended before configured recovery target was reached", the last file restored from
// the archive. Empty when the log says nothing about it.
std::string diagnose_recovery_log(const std::string& log_text, std::uint64_t seg_size = 16u << 20);

struct PitrRunnerConfig {
  std::filesystem::path bin_dir;  // [instance] bin_dir; empty: found like the instance's
  std::string run_as;             // [instance] run_as: the server's OS user when pgrecover runs as root
  std::shared_ptr<const repository::Repository> repository;  // the plan's repository, opened by the caller
};

std::unique_ptr<StepRunner> make_pitr_runner(const model::Plan& plan, const PitrRunnerConfig& config);

}  // namespace pgr::executor
