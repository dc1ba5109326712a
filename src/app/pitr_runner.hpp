// The StepRunner for point-in-time recovery plans (kind "pitr"). Steps, in order:
//   verify-backup → data-directory → extract → recovery-settings → server-start →
//   recovery-target → verify (when the document has checks) → promote | pause | shutdown
// Every step can run again after a crash: the data directory is re-checked, a half-extracted
// one is emptied and extracted again (the data-directory step made it ours), settings are
// rewritten whole, a server that is already up (postmaster.pid, pg_ctl status) is reused, and
// waiting resumes from wherever replay is.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "executor/runner.hpp"
#include "model/plan.hpp"
#include "spec/settings.hpp"

namespace pgr::app {

// Plan parameters the runner reads (plan.params).
namespace pitr_param {
inline constexpr const char* repository = "repository";        // settings name
inline constexpr const char* repository_path = "repository_path";
inline constexpr const char* policy = "policy";
inline constexpr const char* backup = "backup";                // backup id
inline constexpr const char* data_directory = "data_directory";
inline constexpr const char* socket_directory = "socket_directory";
inline constexpr const char* port = "port";                    // "0": a free one
inline constexpr const char* move_aside = "move_aside_existing";  // "true" | "false"
inline constexpr const char* recovery_conf = "recovery_conf";  // the settings block, rendered
inline constexpr const char* timeout = "timeout_seconds";
inline constexpr const char* action = "action";                // pause | promote | shutdown
inline constexpr const char* verify_sql = "verify_sql";        // JSON array of strings
inline constexpr const char* superuser = "superuser";
inline constexpr const char* start_lsn = "start_lsn";
inline constexpr const char* seg_size = "wal_segment_size";
inline constexpr const char* timeline = "timeline";
inline constexpr const char* cluster = "cluster";
inline constexpr const char* target = "target";                // "name before_drop", for messages
}  // namespace pitr_param

// postmaster.pid of a data directory: the port and socket folder of a running server.
struct PostmasterInfo {
  long pid = 0;
  int port = 0;
  std::string socket_dir;
};
bool read_postmaster_pid(const std::string& data_directory, PostmasterInfo& out);

// Where recovery stopped and why, from the server log: "recovery stopping before ...",
// "recovery ended before configured recovery target was reached", the last file restored from
// the archive. Empty when the log says nothing about it.
std::string diagnose_recovery_log(const std::string& log_text, std::uint64_t seg_size = 16u << 20);

std::unique_ptr<executor::StepRunner> make_pitr_runner(const model::Plan& plan, const spec::Settings& settings);

}  // namespace pgr::app
