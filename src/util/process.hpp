// Child processes (initdb, pg_ctl, pg_dump, pg_restore, ...): fork/exec with an argv vector (no
// shell), optional drop to an unprivileged user, captured stdout/stderr drained with poll().
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pgr {

struct UserIdentity {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

// Looks a user up by name; throws pgr::Error(instance) naming the user when it does not exist.
UserIdentity lookup_user(const std::string& name);
bool running_as_root();

struct ProcessSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;            // extra KEY=VALUE entries, override the inherited ones
  std::vector<std::string> unset_env;      // names removed from the inherited environment
  std::optional<UserIdentity> run_as;      // setgid/initgroups/setuid before exec (needs root)
  std::filesystem::path cwd;               // empty: inherit
  std::optional<std::filesystem::path> stdout_file;  // write stdout there instead of capturing
  std::optional<std::filesystem::path> stdin_file;   // read stdin from there (else /dev/null)
  // When >= 0: the child's stdin is this descriptor (a pipe or socket another thread feeds);
  // run_process takes it over and closes it once the child has it.
  int stdin_fd = -1;
  bool new_process_group = false;
  // Set from another thread (a cancelled step): the child (its whole process group when
  // new_process_group) gets SIGTERM, then SIGKILL after 5 s; run_process returns once it is gone,
  // with ProcessResult::cancelled set.
  const std::atomic<bool>* cancel = nullptr;
};

struct ProcessResult {
  int exit_code = -1;   // -1 when killed by a signal
  int term_signal = 0;
  std::string out;
  std::string err;
  bool cancelled = false;  // stopped because ProcessSpec::cancel was set
  bool ok() const { return exit_code == 0 && !cancelled; }
};

ProcessResult run_process(const ProcessSpec& spec);

// "initdb exited with code 1: <last lines of stderr>" (redacted)
std::string describe_failure(const std::string& what, const ProcessResult& result);

// Finds an executable on PATH; empty when absent.
std::filesystem::path find_on_path(const std::string& name);

// Can user `u` read the file at `p` (by its mode bits for owner, group or others)? archive_command
// and restore_command run as the server's user.
bool readable_by(const UserIdentity& u, const std::filesystem::path& p);

}  // namespace pgr
