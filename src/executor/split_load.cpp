#include "executor/split_load.hpp"

#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "executor/copy_chunks.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::executor {

namespace {

constexpr std::size_t kPiece = 1 << 20;  // bytes per PQputCopyData

// Which "part-commit" chunks of a killed run committed: txid_status tells, as long as the
// transaction is younger than the commit log the server keeps (always, for a run resumed soon).
void resolve_committing(StepParts& parts, pg::Connection& c, StepContext& ctx) {
  for (const auto& [part, pc] : parts.committing) {
    std::string status;
    for (int attempt = 0;; ++attempt) {
      auto r = c.exec("SELECT pg_catalog.txid_status($1::bigint)", {pc.xid});
      status = r.is_null(0, 0) ? "" : r.str(0, 0);
      // The killed apply's session may still be finishing its COMMIT: wait for it.
      if (status != "in progress" || attempt >= 600) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (status == "committed") {
      parts.done[part] = pc.rows;
      ctx.journal_part({"part", "", "", 0, pc.rows, 0, 0, std::to_string(part)}, true);
    } else if (status != "aborted") {
      fail(ErrorKind::database,
           fmt::format("cannot tell whether chunk {} (transaction {}) of an earlier run committed: txid_status "
                       "says \"{}\"", part, pc.xid, status.empty() ? "unknown (too old)" : status),
           "restore the table again from scratch (existing: truncate)");
    }
  }
  parts.committing.clear();
}

// The rows a binary COPY from the source sent (its command tag): binary rows have no newline to
// count.
std::int64_t sent_rows(const archive::RowReader& reader) {
  std::int64_t n = reader.rows_sent();
  if (n < 0) fail(ErrorKind::database, "the source did not say how many rows its binary COPY sent");
  return n;
}

class Pipeline {
  struct Work {
    CopyChunk chunk;
    PageRangeOpener open;  // set: the rows are streamed from the reader it opens
  };

 public:
  Pipeline(const SplitLoad& job, const std::function<pg::Connection()>& open, StepContext& ctx,
           const std::atomic<bool>& cancelled)
      : job_(job), open_(open), ctx_(ctx), cancelled_(cancelled) {
    if (const char* k = std::getenv("PGRECOVER_TEST_KILL_AFTER_PARTS")) kill_after_ = std::atoi(k);
  }

  ~Pipeline() { close_and_join(); }

  // Hands a chunk to a session; blocks while every session is busy and one chunk already waits.
  // A chunk with `open` has no data: its rows are streamed from the reader it opens.
  void push(CopyChunk chunk, PageRangeOpener open = nullptr) {
    grow();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return queue_.empty() || error_; });
    if (error_) return;
    queue_.push_back({std::move(chunk), std::move(open)});
    cv_.notify_all();
  }

  bool failed() {
    std::lock_guard lock(mu_);
    return error_ != nullptr;
  }

  // Waits for every chunk handed out; rethrows the first session error.
  void finish() {
    close_and_join();
    if (error_) std::rethrow_exception(error_);
  }

  std::int64_t rows() const { return rows_.load(); }
  std::int64_t bytes() const { return bytes_.load(); }
  int converted() const { return converted_.load(); }

 private:
  // The sessions the step may run now: the slots the executor grants it, up to the plan's.
  int allowed() const { return ctx_.slots ? std::max(1, std::min(ctx_.slots->load(), job_.sessions)) : 1; }

  void grow() {
    std::lock_guard lock(mu_);
    while (active_ < allowed() && !error_) {
      active_++;
      threads_.emplace_back([this] { session(); });
    }
  }

  void close_and_join() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  // One session: loads chunks until none is left, or until the executor wants its slot back (it
  // then ends between two chunks; the last session never ends early). A session that ends while
  // others go on tells the executor, whose slot is then free at once.
  void session() {
    bool others_go_on = false;
    try {
      pg::Connection c = open_();
      for (;;) {
        Work work;
        {
          std::unique_lock lock(mu_);
          auto surplus = [&] { return active_ > allowed(); };
          cv_.wait(lock, [&] { return !queue_.empty() || closed_ || error_ || surplus(); });
          if (error_ || surplus() || queue_.empty()) {
            others_go_on = !error_ && --active_ > 0;
            break;
          }
          work = std::move(queue_.front());
          queue_.pop_front();
        }
        cv_.notify_all();
        load(c, work);
      }
    } catch (...) {
      std::lock_guard lock(mu_);
      if (!error_) error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    cv_.notify_all();
    if (others_go_on && ctx_.slot_freed) ctx_.slot_freed();
  }

  void load(pg::Connection& c, Work& work) {
    CopyChunk& chunk = work.chunk;
    c.exec(job_.replica ? "BEGIN; SET LOCAL session_replication_role = replica" : "BEGIN");
    std::string xid = c.exec("SELECT pg_catalog.txid_current()::text").str(0, 0);
    std::int64_t size = static_cast<std::int64_t>(chunk.data.size());
    // An archive's text rows: converted to COPY's binary format here, on this session's thread,
    // when the converter takes every row of the chunk; else sent as text.
    std::string binary;
    bool converted = false;
    if (job_.converter && !work.open && !job_.binary) {
      if (auto n = job_.converter->convert(chunk.data, binary); n && *n == chunk.rows) {
        converted = true;
        ++converted_;
      } else {
        binary.clear();
      }
    }
    {
      auto in = c.copy_in(converted ? job_.copy_sql + " WITH (FORMAT binary)" : job_.copy_sql);
      auto stop = [&] {
        in.abort("cancelled by pgrecover");
        c.exec("ROLLBACK");
        if (cancelled_) fail(ErrorKind::cancelled, "the split load was cancelled");
      };
      if (work.open) {  // streamed from its reader, 1 MiB at a time: memory stays bounded
        auto reader = work.open();
        std::string buf(kPiece, '\0');
        size = 0;
        for (;;) {
          if (cancelled_ || failed()) return stop();  // another session failed: its error is reported
          size_t n = reader->read(buf.data(), buf.size());
          if (n == 0) break;
          std::string_view piece(buf.data(), n);
          in.put(piece);
          if (!job_.binary) chunk.rows += std::count(piece.begin(), piece.end(), '\n');
          size += static_cast<std::int64_t>(n);
        }
        if (job_.binary) chunk.rows = sent_rows(*reader);
      } else {
        std::string_view data = chunk.data;
        if (converted) {
          in.put(copyfmt::binary_header());
          data = binary;
        }
        for (std::size_t pos = 0; pos < data.size(); pos += kPiece) {
          if (cancelled_ || failed()) return stop();  // another session failed: its error is reported
          in.put(data.substr(pos, kPiece));
        }
        if (converted) in.put(copyfmt::binary_trailer());
      }
      check_loaded(in.finish(), chunk.rows, fmt::format("chunk {}", chunk.index));
    }
    // Durable before COMMIT: a crash after the COMMIT is resolved with txid_status on resume.
    ctx_.journal_part({"part-commit", "", "", 0, chunk.rows, size, 0, fmt::format("{} xid {}", chunk.index, xid)}, true);
    c.exec("COMMIT");
    if (kill_after_ > 0 && ++committed_ == kill_after_) ::raise(SIGKILL);  // test hook, see the header
    ctx_.journal_part({"part", "", "", 0, chunk.rows, size, 0, std::to_string(chunk.index)}, false);
    rows_ += chunk.rows;
    bytes_ += size;
    if (ctx_.progress) {
      ctx_.progress->rows += chunk.rows;
      ctx_.progress->bytes += size;
    }
  }

  const SplitLoad& job_;
  const std::function<pg::Connection()>& open_;
  StepContext& ctx_;
  const std::atomic<bool>& cancelled_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Work> queue_;
  bool closed_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
  int active_ = 0;  // sessions started and not ended (guarded by mu_)
  std::atomic<std::int64_t> rows_{0}, bytes_{0};
  std::atomic<int> committed_{0};
  std::atomic<int> converted_{0};  // chunks sent in COPY's binary format
  int kill_after_ = 0;
};

// The chunks of an earlier run: those whose commit is in doubt resolved against the target, and
// when no chunk is in, the table emptied of what is not this load's (existing: truncate).
StepParts parts_to_resume(const SplitLoad& job, const std::function<pg::Connection()>& open_session, StepContext& ctx) {
  StepParts parts = ctx.parts;
  if (!parts.committing.empty() || (parts.done.empty() && !job.truncate_sql.empty())) {
    pg::Connection c = open_session();
    resolve_committing(parts, c, ctx);
    if (parts.done.empty() && !job.truncate_sql.empty()) c.exec(job.truncate_sql);
  }
  return parts;
}

}  // namespace

void check_loaded(std::int64_t loaded, std::int64_t sent, const std::string& what) {
  if (loaded >= 0 && loaded != sent) {
    fail(ErrorKind::database, fmt::format("{}: the target's COPY loaded {} rows, but {} were sent", what, loaded, sent),
         "a trigger or rule on the target may drop or add rows; nothing of this transaction was committed");
  }
}

StepOutcome split_load_pages(const SplitLoad& job, std::int64_t pages, std::int64_t chunk_pages,
                             const std::function<std::unique_ptr<archive::RowReader>(std::int64_t, std::int64_t)>& open_range,
                             const std::function<pg::Connection()>& open_session, StepContext& ctx,
                             const std::atomic<bool>& cancelled) {
  StepParts parts = parts_to_resume(job, open_session, ctx);
  chunk_pages = std::max<std::int64_t>(1, chunk_pages);
  const std::int64_t total = std::max<std::int64_t>(1, (pages + chunk_pages - 1) / chunk_pages);
  std::int64_t skipped_rows = 0;
  int skipped = 0;
  Pipeline pipe(job, open_session, ctx, cancelled);
  for (std::int64_t k = 0; k < total && !pipe.failed(); ++k) {
    if (cancelled) fail(ErrorKind::cancelled, "the split load was cancelled");
    // In the same snapshot, a chunk journaled as loaded holds exactly these pages' rows (a
    // resumed clone reads from a new snapshot, and its resume resets the parts first).
    if (auto d = parts.done.find(static_cast<int>(k)); d != parts.done.end()) {
      skipped_rows += d->second;
      ++skipped;
      continue;
    }
    const std::int64_t first = k * chunk_pages, end = k + 1 == total ? -1 : first + chunk_pages;
    CopyChunk chunk;
    chunk.index = static_cast<int>(k);
    chunk.offset = first;
    pipe.push(std::move(chunk), [&open_range, first, end] { return open_range(first, end); });
  }
  pipe.finish();
  StepOutcome out{skipped_rows + pipe.rows(), pipe.bytes(),
                  fmt::format("{} ranges of {} pages read by up to {} sessions", total, chunk_pages, job.sessions)};
  if (skipped) out.note += fmt::format(" ({} loaded by an earlier run)", skipped);
  return out;
}

StepOutcome split_load(const SplitLoad& job, archive::RowReader& reader,
                       const std::function<pg::Connection()>& open_session, StepContext& ctx,
                       const std::atomic<bool>& cancelled) {
  StepParts parts = parts_to_resume(job, open_session, ctx);
  std::int64_t skipped_rows = 0;
  int skipped = 0, total = 0;
  {
    Pipeline pipe(job, open_session, ctx, cancelled);
    CopyChunker chunker(reader, job.chunk_bytes);
    CopyChunk chunk;
    while (!pipe.failed() && chunker.next(chunk)) {
      ++total;
      if (cancelled) fail(ErrorKind::cancelled, "the split load was cancelled");
      if (auto d = parts.done.find(chunk.index); d != parts.done.end()) {
        // Re-checked, not trusted: the same archive and plan give the same chunks.
        if (d->second != chunk.rows) {
          fail(ErrorKind::archive,
               fmt::format("chunk {} has {} rows in the archive but {} were journaled as loaded", chunk.index,
                           chunk.rows, d->second),
               "the archive changed since the interrupted apply; plan again");
        }
        skipped_rows += chunk.rows;
        ++skipped;
        continue;
      }
      pipe.push(std::move(chunk));
      chunk = CopyChunk();
    }
    pipe.finish();
    StepOutcome out{skipped_rows + pipe.rows(), pipe.bytes(),
                    fmt::format("{} chunks by up to {} sessions", total, job.sessions)};
    if (job.converter) {
      out.note += fmt::format("; {} of {} chunks in COPY's binary format, converted by pgrecover", pipe.converted(),
                              total - skipped);
    }
    if (skipped) out.note += fmt::format(" ({} loaded by an earlier run)", skipped);
    return out;
  }
}

}  // namespace pgr::executor
