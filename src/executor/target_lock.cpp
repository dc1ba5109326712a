#include "executor/target_lock.hpp"

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::executor {

TargetLock::TargetLock(const std::string& admin_conninfo, const std::string& database, const std::string& plan_id) {
  conn_ = pg::Connection::open(admin_conninfo, fmt::format("pgrecover apply {} lock", plan_id));
  std::string key = "pgrecover:" + database;
  auto r = conn_.exec("SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext($1))", {key});
  if (!r.boolean(0, 0)) {
    auto who = conn_.exec(
        "SELECT a.application_name, a.pid, coalesce(a.client_addr::text, 'local'), a.backend_start::text "
        "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = (pg_catalog.hashtext($1)::bigint & 4294967295)::oid",
        {key});
    std::string holder = who.rows() ? fmt::format("\"{}\" (server pid {}, from {}, since {})", who.str(0, 0),
                                                  who.str(0, 1), who.str(0, 2), who.str(0, 3))
                                     : "another session";
    fail(ErrorKind::locked,
         fmt::format("another apply holds the lock on database \"{}\": {}", database, holder),
         "wait for it to finish, or stop it; two applies never touch the same target at once");
  }
}

void TargetLock::end_orphans(const std::string& plan_id) {
  std::string pattern = fmt::format("pgrecover apply {} %", plan_id);
  const char* find = "SELECT pid FROM pg_catalog.pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_catalog.pg_backend_pid()";
  auto orphans = conn_.exec(find, {pattern});
  if (orphans.rows() == 0) return;
  log::warn("ending {} session(s) left on the server by an interrupted apply of {}", orphans.rows(), plan_id);
  conn_.exec("SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
             "WHERE application_name LIKE $1 AND pid <> pg_catalog.pg_backend_pid()",
             {pattern});
  for (int i = 0; i < 600; ++i) {
    if (conn_.exec(find, {pattern}).rows() == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  fail(ErrorKind::database,
       fmt::format("sessions of an interrupted apply of {} are still running on the server after 60 s", plan_id),
       "end them (pg_terminate_backend needs the same role or pg_signal_backend), then apply again");
}

}  // namespace pgr::executor
