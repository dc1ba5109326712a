#include "util/error.hpp"

namespace pgr {

int exit_code_for(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::stale_plan: return kExitStale;
    case ErrorKind::locked: return kExitLocked;
    case ErrorKind::cancelled: return kExitCancelled;
    default: return kExitError;
  }
}

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::usage: return "usage";
    case ErrorKind::input: return "input";
    case ErrorKind::archive: return "archive";
    case ErrorKind::io: return "io";
    case ErrorKind::database: return "database";
    case ErrorKind::instance: return "instance";
    case ErrorKind::stale_plan: return "stale-plan";
    case ErrorKind::locked: return "locked";
    case ErrorKind::cancelled: return "cancelled";
    case ErrorKind::internal: return "internal";
  }
  return "unknown";
}

}  // namespace pgr
