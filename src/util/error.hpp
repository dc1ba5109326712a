// The project's one exception type and its catalogue of kinds. Every kind maps to a process exit
// code; cli::main() is the single place that catches and maps (src/cli/cli.cpp).
#pragma once

#include <stdexcept>
#include <string>

namespace pgr {

enum class ErrorKind {
  usage,           // bad flags or arguments
  input,           // bad documents, settings, plan files
  archive,         // damaged or hostile pg_dump archive
  io,              // files, folders, processes
  database,        // the server refused something
  instance,        // the embedded PostgreSQL could not be started or stopped
  stale_plan,      // the world changed since the plan was made
  locked,          // another apply holds the lock
  cancelled,       // SIGINT/SIGTERM
  internal,        // a bug: an invariant did not hold
};

// Exit codes, as documented in docs/commands.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitChanges = 2;
inline constexpr int kExitStale = 3;
inline constexpr int kExitLocked = 4;
inline constexpr int kExitOutOfBounds = 5;  // `check`: a policy is outside its bounds
inline constexpr int kExitCancelled = 130;

int exit_code_for(ErrorKind kind) noexcept;
const char* to_string(ErrorKind kind) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, std::string hint = {})
      : std::runtime_error(std::move(message)), kind_(kind), hint_(std::move(hint)) {}
  ErrorKind kind() const noexcept { return kind_; }
  // What the user can do about it; may be empty.
  const std::string& hint() const noexcept { return hint_; }

 private:
  ErrorKind kind_;
  std::string hint_;
};

[[noreturn]] inline void fail(ErrorKind kind, std::string message, std::string hint = {}) {
  throw Error(kind, std::move(message), std::move(hint));
}

}  // namespace pgr
