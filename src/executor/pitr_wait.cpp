// The recovery-target step of a pitr plan: wait until replay pauses at the target, or, for
// target latest, until it has replayed the whole archive.
#include <chrono>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "executor/os_user_files.hpp"
#include "executor/pitr_worker.hpp"
#include "pg/pg.hpp"
#include "repository/wal_archive.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::executor::pitr_detail {

using Clock = std::chrono::steady_clock;

StepOutcome PitrWorker::wait(StepContext& ctx) {
  if (r_.standby()) return wait_for_end_of_archive(ctx);
  auto deadline = Clock::now() + std::chrono::seconds(std::stoll(r_.param(P::timeout)));
  std::uint64_t start_lsn = repository::parse_lsn(r_.param(P::start_lsn));
  std::string last_lsn = "(unknown)";
  auto next_log = Clock::now() + std::chrono::seconds(10);
  std::string last_error;
  // One connection for the whole wait (reopened when it breaks), and the server's liveness
  // (a pg_ctl process) checked at most once a second: a short poll then costs one query.
  pg::Connection c;
  auto next_alive_check = Clock::now();
  while (true) {
    check_cancel();
    if (!c || Clock::now() >= next_alive_check) {
      if (!fs::exists(r_.data_dir_ / "postmaster.pid") || !server_running()) {
        recovery_failed(fmt::format("the recovered server stopped before reaching the target {}", r_.param(P::target)));
      }
      next_alive_check = Clock::now() + std::chrono::seconds(1);
    }
    try {
      // The server may stop between the check above and here (recovery that runs out of WAL
      // ends it): that is the same failure, with the same diagnosis from the log.
      if (!c) {
        auto where = running_conninfo();
        if (!where) recovery_failed(fmt::format("the recovered server stopped before reaching the target {}", r_.param(P::target)));
        c = pg::Connection::open(*where, "pgrecover recovery");
      }
      auto res = c.exec("SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.pg_get_wal_replay_pause_state(), "
                        "coalesce(pg_catalog.pg_last_wal_replay_lsn()::text, '')");
      bool in_recovery = res.boolean(0, 0);
      std::string state = res.str(0, 1);
      if (!res.str(0, 2).empty()) last_lsn = res.str(0, 2);
      if (ctx.progress && last_lsn != "(unknown)") {
        std::uint64_t lsn = repository::parse_lsn(last_lsn);
        ctx.progress->bytes = static_cast<std::int64_t>(lsn > start_lsn ? lsn - start_lsn : 0);
      }
      if (!in_recovery) {
        fail(ErrorKind::instance,
             fmt::format("the recovered server left recovery without pausing at the target {} (replayed up to {})",
                         r_.param(P::target), last_lsn),
             "the target was probably not in the WAL; check the server log " + r_.log_file().string());
      }
      if (state == "paused") {
        r_.starter_.join();  // pg_ctl's own wait ends too (executor/pitr_start.cpp)
        std::string why = diagnose_recovery_log(read_log(r_.log_file()), std::stoull(r_.param(P::seg_size)));
        return {0, ctx.progress ? ctx.progress->bytes.load() : 0,
                fmt::format("paused at {}{}", last_lsn, why.empty() ? "" : " (" + why + ")")};
      }
    } catch (const pg::DbError& e) {
      last_error = e.what();  // still starting up, or consistent state not reached yet
      c = pg::Connection();
    }
    if (Clock::now() >= deadline) {
      std::string where = last_lsn == "(unknown)" ? "replay has not reached a consistent state"
                                                  : fmt::format("replay is at {}", last_lsn);
      std::string missing;
      if (last_lsn != "(unknown)") {
        std::uint64_t seg = std::stoull(r_.param(P::seg_size));
        std::uint64_t next = repository::segment_number(repository::parse_lsn(last_lsn), seg) + 1;
        repository::WalArchive archive(r_.repo().storage_ptr(), r_.param(P::cluster));
        std::string name = repository::segment_name(static_cast<std::uint32_t>(std::stoul(r_.param(P::timeline))), next, seg);
        missing = archive.find(name) ? fmt::format("; the next segment {} is in the archive", name)
                                     : fmt::format("; the next segment {} is not in the archive", name);
      }
      fail(ErrorKind::instance,
           fmt::format("recovery did not reach the target {} within {}s: {}{}", r_.param(P::target), r_.param(P::timeout),
                       where, missing),
           "raise spec.timeout if replay is only slow; otherwise archive the missing WAL or choose an earlier target. "
           "The server is still running; the server log is " + r_.log_file().string());
    }
    if (Clock::now() >= next_log) {
      log::info("recovery: replayed up to {} (waiting for the target {})", last_lsn, r_.param(P::target));
      next_log = Clock::now() + std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(c ? 20 : 100));
  }
}

// target latest: the server runs as a standby that restores every archived segment and then
// keeps asking for the next. Replay has reached the end of the archive once it is at or past the
// newest segment the plan expects and has not moved for a few seconds.
StepOutcome PitrWorker::wait_for_end_of_archive(StepContext& ctx) {
  r_.starter_.join();
  auto deadline = Clock::now() + std::chrono::seconds(std::stoll(r_.param(P::timeout)));
  const std::uint64_t seg = std::stoull(r_.param(P::seg_size));
  const std::string& expected = r_.param(P::last_segment);
  std::uint32_t tli = 0;
  std::uint64_t expected_no = 0;
  repository::parse_segment_name(expected, seg, tli, expected_no);
  std::uint64_t start_lsn = repository::parse_lsn(r_.param(P::start_lsn));
  std::string last_lsn;
  auto still_since = Clock::now();
  auto next_log = Clock::now() + std::chrono::seconds(10);
  const std::string stopped = "the recovered server stopped while replaying the archive";
  while (true) {
    check_cancel();
    auto where = running_conninfo();
    if (!where || !server_running()) recovery_failed(stopped);
    try {
      auto c = pg::Connection::open(*where, "pgrecover recovery");
      auto res = c.exec("SELECT pg_catalog.pg_is_in_recovery(), coalesce(pg_catalog.pg_last_wal_replay_lsn()::text, ''), "
                        "coalesce(to_char(pg_catalog.pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')");
      if (!res.boolean(0, 0)) {
        fail(ErrorKind::instance, "the recovered server is no longer in recovery: it was promoted by someone else",
             "look at it; plan again for a new recovery into an empty data directory");
      }
      std::string lsn = res.str(0, 1);
      if (lsn != last_lsn) {
        last_lsn = lsn;
        still_since = Clock::now();
      }
      if (!lsn.empty()) {
        std::uint64_t at = repository::parse_lsn(lsn);
        if (ctx.progress) ctx.progress->bytes = static_cast<std::int64_t>(at > start_lsn ? at - start_lsn : 0);
        if (repository::segment_number(at, seg) >= expected_no && Clock::now() - still_since >= std::chrono::seconds(3)) {
          std::string commit = res.str(0, 2);
          std::string note = fmt::format("replayed the archive to {} (newest segment expected: {}); {}", lsn, expected,
                                         commit.empty() ? "no transaction was replayed after the base backup"
                                                        : "the last transaction replayed committed at " + commit +
                                                              ": what was committed after it is lost");
          log::info("recovery: {}", note);  // the data-loss window, for whoever runs the recovery
          return {0, ctx.progress ? ctx.progress->bytes.load() : 0, note};
        }
      }
    } catch (const pg::DbError&) {
      // still starting up, or not consistent yet
    }
    if (Clock::now() >= deadline) {
      fail(ErrorKind::instance,
           fmt::format("recovery did not reach the end of the archive (segment {}) within {}s: replay is at {}", expected,
                       r_.param(P::timeout), last_lsn.empty() ? "(not consistent yet)" : last_lsn),
           "raise spec.timeout if replay is only slow; otherwise a segment before " + expected +
               " is missing or damaged. The server is still running; the server log is " + r_.log_file().string());
    }
    if (Clock::now() >= next_log) {
      log::info("recovery: replayed up to {} (the archive ends in {})", last_lsn, expected);
      next_log = Clock::now() + std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace pgr::executor::pitr_detail
