// The load of one table split across several sessions (a Restore's split_tables_larger_than).
// One reader (the calling thread) decompresses the table's data once and cuts it into chunks of
// whole rows (copy_chunks.hpp); each session takes the next chunk and loads it with
//   BEGIN; SELECT txid_current(); COPY t FROM STDIN; <journal "part-commit", fsynced>; COMMIT
// and then journals the chunk as a "part". Resume is exact:
//   - a chunk with a "part" record committed: it is read past, never sent again;
//   - a chunk with only "part-commit" (killed between sending COMMIT and journaling its end) is
//     asked about with txid_status(xid): committed counts as done, aborted is loaded again;
//   - any other chunk was in flight and rolled back with its transaction: it is loaded again.
// So no row is ever loaded twice, and none is lost. Split loads cannot use COPY FREEZE (each
// chunk's transaction did not create or truncate the table); the table is truncated once, in its
// own transaction, before the first chunk, when the plan says so and no chunk is in yet.
//
// The number of sessions grows with the worker slots the executor gives the step
// (StepContext::slots), up to the plan's "sessions".
//
// Test hook (tests only, documented in docs/development.md): PGRECOVER_TEST_KILL_AFTER_PARTS=K
// makes the process SIGKILL itself right after the K-th chunk of this process committed and
// before its "part" record is written: the hardest point for exactness.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "archive/archive.hpp"
#include "copyfmt/text_to_binary.hpp"
#include "executor/runner.hpp"
#include "pg/pg.hpp"

namespace pgr::executor {

struct SplitLoad {
  std::string copy_sql;      // COPY s.t (cols) FROM stdin [WITH (FORMAT binary)]
  bool binary = false;       // rows in COPY's binary format: counted by the source, not by newlines
  std::string truncate_sql;  // TRUNCATE ONLY s.t before the first chunk; empty: none
  bool replica = false;      // SET LOCAL session_replication_role = replica in each chunk
  std::int64_t chunk_bytes = 16 << 20;
  int sessions = 2;          // at most
  // Text rows (an archive's) converted to COPY's binary format chunk by chunk, in each session,
  // when the table's column types allow (executor/copy_convert.hpp); a chunk holding a row the
  // converter refuses goes as text.
  std::optional<copyfmt::RowConverter> converter;
};

// Fails unless the target's COPY loaded (its command tag; -1: not said) the rows that were sent.
void check_loaded(std::int64_t loaded, std::int64_t sent, const std::string& what);

// Opens the reader of one range of heap pages (a live source's table split by ctid).
using PageRangeOpener = std::function<std::unique_ptr<archive::RowReader>()>;

// The same load, where the rows come from a live source by ranges of heap pages instead of one
// stream cut into chunks: chunk k is pages [k * chunk_pages, (k + 1) * chunk_pages) of the
// `pages` the table has (the last one open-ended, so rows in pages added since are read too),
// each read by its own COPY on the source in the snapshot (open_range(first, end), end -1: to
// the end) and streamed into its own transaction on the target, journaled as split_load does.
// So the source is read in parallel too, and no chunk is held in memory.
StepOutcome split_load_pages(const SplitLoad& job, std::int64_t pages, std::int64_t chunk_pages,
                             const std::function<std::unique_ptr<archive::RowReader>(std::int64_t, std::int64_t)>& open_range,
                             const std::function<pg::Connection()>& open_session, StepContext& ctx,
                             const std::atomic<bool>& cancelled);

// Loads the table; returns its rows (all chunks, including those of earlier runs) and the bytes
// this run sent. `open_session` opens a load session (with the restore's session settings).
// Throws pg::DbError or pgr::Error; chunks committed before the error stay journaled.
StepOutcome split_load(const SplitLoad& job, archive::RowReader& reader,
                       const std::function<pg::Connection()>& open_session, StepContext& ctx,
                       const std::atomic<bool>& cancelled);

}  // namespace pgr::executor
