// One apply per target database at a time: a session-level advisory lock on the target server,
// held by a dedicated connection for the whole run, so it also works across machines.
#pragma once

#include <string>

#include "pg/pg.hpp"

namespace pgr::executor {

class TargetLock {
 public:
  // Throws Error(locked) naming the holder (application, server pid, client, since when).
  TargetLock(const std::string& admin_conninfo, const std::string& database, const std::string& plan_id);

  // Sessions of an earlier, killed apply of this plan may still be running a statement on the
  // server (it notices the dead client only when it next talks to it) and could commit a step
  // the resumed run is redoing. We hold the lock, so no live apply owns them: end them, and wait
  // until they are gone, before any step runs.
  void end_orphans(const std::string& plan_id);

 private:
  pg::Connection conn_;
};

}  // namespace pgr::executor
