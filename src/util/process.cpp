#include "util/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <cstdlib>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/redact.hpp"

extern char** environ;

namespace pgr {

UserIdentity lookup_user(const std::string& name) {
  struct passwd pw {};
  struct passwd* res = nullptr;
  std::vector<char> buf(16384);
  int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &res);
  if (rc != 0 || res == nullptr) {
    fail(ErrorKind::instance, fmt::format("user \"{}\" does not exist on this machine", name),
         "PostgreSQL refuses to run as root: create the user (e.g. install postgresql-15, which "
         "creates \"postgres\"), or set [instance] run_as in pgrecover.toml");
  }
  return UserIdentity{pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir ? pw.pw_dir : "/"};
}

bool running_as_root() { return ::geteuid() == 0; }

std::filesystem::path find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::filesystem::path candidate = std::filesystem::path(p.substr(start, end - start)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

namespace {

std::vector<std::string> build_env(const ProcessSpec& spec) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    vars[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& name : spec.unset_env) vars.erase(name);
  for (const auto& entry : spec.env) {
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    vars[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  if (spec.run_as) {
    vars["HOME"] = spec.run_as->home;
    vars["USER"] = spec.run_as->name;
    vars["LOGNAME"] = spec.run_as->name;
  }
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

[[noreturn]] void child_fail(int fd, const char* what) {
  int err = errno;
  char msg[512];
  int n = std::snprintf(msg, sizeof msg, "%s: %s", what, std::strerror(err));
  if (n > 0) (void)!::write(fd, msg, static_cast<size_t>(n));
  ::_exit(127);
}

// Reads the child's stdout and stderr until both close. When `cancel` is set: SIGTERM once, then
// SIGKILL when the child outlives the grace period (result.cancelled is set).
template <typename Signal>
void drain_child(int out_fd, int err_fd, const std::atomic<bool>* cancel, Signal signal_child, ProcessResult& result) {
  struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_count = 2;
  char buf[65536];
  std::optional<std::chrono::steady_clock::time_point> term_sent;
  while (open_count > 0) {
    if (cancel && cancel->load()) {
      auto now = std::chrono::steady_clock::now();
      if (!term_sent) {
        signal_child(SIGTERM);
        term_sent = now;
        result.cancelled = true;
      } else if (now - *term_sent > std::chrono::seconds(5)) {
        signal_child(SIGKILL);
      }
    }
    int rc = ::poll(fds, 2, cancel ? 100 : -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
}

}  // namespace

ProcessResult run_process(const ProcessSpec& spec) {
  if (spec.argv.empty()) fail(ErrorKind::internal, "run_process: empty argv");
  std::vector<std::string> env = build_env(spec);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argvp;
  for (auto& a : args) argvp.push_back(a.data());
  argvp.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    fail(ErrorKind::io, fmt::format("could not create a pipe: {}", errno_text(errno)));
  }
  int out_fd = -1;
  if (spec.stdout_file) {
    out_fd = ::open(spec.stdout_file->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out_fd < 0) {
      fail(ErrorKind::io, fmt::format("could not create \"{}\": {}", spec.stdout_file->string(),
                                      errno_text(errno)));
    }
  }
  int in_fd = spec.stdin_fd >= 0 ? spec.stdin_fd
                                 : ::open(spec.stdin_file ? spec.stdin_file->c_str() : "/dev/null", O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) {
    fail(ErrorKind::io, fmt::format("could not open \"{}\" for reading: {}",
                                    spec.stdin_file ? spec.stdin_file->string() : "/dev/null",
                                    errno_text(errno)));
  }

  pid_t pid = ::fork();
  if (pid < 0) fail(ErrorKind::io, fmt::format("fork failed: {}", errno_text(errno)));
  if (pid == 0) {
    // child: only async-signal-safe calls from here on
    if (spec.new_process_group) ::setpgid(0, 0);
    ::dup2(in_fd, 0);
    ::dup2(out_fd >= 0 ? out_fd : out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) child_fail(2, "chdir");
    if (spec.run_as) {
      if (::setgid(spec.run_as->gid) != 0) child_fail(2, "setgid");
      if (::initgroups(spec.run_as->name.c_str(), spec.run_as->gid) != 0) child_fail(2, "initgroups");
      if (::setuid(spec.run_as->uid) != 0) child_fail(2, "setuid");
    }
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(argvp[0], argvp.data(), envp.data());
    child_fail(2, argvp[0]);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(in_fd);
  if (out_fd >= 0) ::close(out_fd);

  ProcessResult result;
  auto signal_child = [&](int sig) { ::kill(spec.new_process_group ? -pid : pid, sig); };
  drain_child(out_pipe[0], err_pipe[0], spec.cancel, signal_child, result);
  int status = 0;
  if (result.cancelled) signal_child(SIGKILL);  // its pipes are closed: nothing it does matters now
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail(ErrorKind::io, fmt::format("waitpid failed: {}", errno_text(errno)));
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

std::string describe_failure(const std::string& what, const ProcessResult& result) {
  std::string tail = result.err.empty() ? result.out : result.err;
  // keep the last ~15 lines: the cause is almost always at the end
  size_t pos = tail.size();
  for (int lines = 0; lines < 15 && pos > 0; ++lines) {
    size_t nl = tail.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    pos = nl;
  }
  std::string excerpt = tail.substr(pos);
  while (!excerpt.empty() && (excerpt.front() == '\n')) excerpt.erase(0, 1);
  while (!excerpt.empty() && (excerpt.back() == '\n')) excerpt.pop_back();
  std::string how = result.term_signal
                        ? fmt::format("was killed by signal {}", result.term_signal)
                        : fmt::format("exited with code {}", result.exit_code);
  return redact_secrets(fmt::format("{} {}{}{}", what, how, excerpt.empty() ? "" : ":\n", excerpt));
}

bool readable_by(const UserIdentity& u, const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return false;
  if (st.st_uid == u.uid) return (st.st_mode & S_IRUSR) != 0;
  if (st.st_gid == u.gid) return (st.st_mode & S_IRGRP) != 0;
  return (st.st_mode & S_IROTH) != 0;
}

}  // namespace pgr
