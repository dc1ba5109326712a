// Which tables are loaded by several sessions (a Restore's split_tables_larger_than): a table
// whose stored data is larger than the threshold, loaded into itself (not through a partition
// root), when the restore has more than one job and no single transaction. The step says so in
// its reason and carries what the runner needs: "sessions" (at most) and "chunk_bytes" (the size
// of the chunks of whole rows, fixed in the plan so that a resumed apply cuts the same chunks;
// from a live source that reads by page ranges, "chunk_pages": the heap pages of each chunk).
#include <algorithm>

#include <fmt/format.h>

#include "pg/pg.hpp"
#include "planner/restore_planner_impl.hpp"

namespace pgr::planner::detail {

namespace {

std::string human_size(std::int64_t b) {
  const double v = static_cast<double>(b);
  if (b >= (std::int64_t{1} << 30)) return fmt::format("{:.1f} GB", v / (1 << 30));
  if (b >= (std::int64_t{1} << 20)) return fmt::format("{:.1f} MB", v / (1 << 20));
  if (b >= (std::int64_t{1} << 10)) return fmt::format("{:.1f} kB", v / (1 << 10));
  return fmt::format("{} bytes", b);
}

// Whether pg_dump's COPY statement loads the entry's own table (not the root of a partitioned
// table, as with --load-via-partition-root).
bool copies_into_itself(const TocEntry& e) {
  if (e.copy_stmt.rfind("COPY ", 0) != 0) return false;
  size_t pos = 5;
  auto schema = pg::parse_identifier(e.copy_stmt, pos);
  if (!schema || pos >= e.copy_stmt.size() || e.copy_stmt[pos] != '.') return false;
  ++pos;
  auto name = pg::parse_identifier(e.copy_stmt, pos);
  return name && *schema == e.namespace_ && *name == e.tag;
}

}  // namespace

void Planner::plan_splits() {
  for (auto& s : steps_) {  // a live source's tables read and loaded in COPY's binary format
    if (s.kind != "table-data" || s.action == Action::no_op || !s.toc_id) continue;
    if (const TocEntry* e = idx_.by_id(s.toc_id); e && e->data.binary) {
      s.reason += "; rows in COPY's binary format (built-in column types, servers of one major version)";
    }
  }
  const std::int64_t threshold = doc_.spec.split_tables_larger_than;
  const int jobs = doc_.spec.jobs;
  if (threshold <= 0 || jobs < 2 || doc_.spec.single_transaction) return;
  // From a live source only when asked for: on the 2-core bench machine a split live table loaded
  // slower than in one session (docs/performance.md, "Live clones", round two).
  if (in_.live_source && !doc_.spec.split_set) return;
  constexpr std::int64_t kMinChunk = std::int64_t{1} << 20, kMaxChunk = std::int64_t{16} << 20, kHeapPage = 8192;
  for (auto& s : steps_) {
    if (s.kind != "table-data" || s.action == Action::no_op || !s.toc_id) continue;
    const TocEntry* e = idx_.by_id(s.toc_id);
    if (!e || e->desc != "TABLE DATA" || e->data.bytes <= threshold || !copies_into_itself(*e)) continue;
    // Each session beyond the first gets at least a threshold's worth of data.
    const int sessions = static_cast<int>(std::min<std::int64_t>(jobs, 1 + e->data.bytes / threshold));
    if (sessions < 2) continue;
    // About four chunks per session (bounded), so sessions finish close together; the size is
    // of decompressed rows, which are larger than the stored bytes: more chunks, not fewer.
    const std::int64_t chunk = std::clamp(e->data.bytes / (4 * sessions), kMinChunk, kMaxChunk);
    s.params["sessions"] = std::to_string(sessions);
    s.params["chunk_bytes"] = std::to_string(chunk);
    if (in_.source_page_ranges) {
      // A live source: each chunk is a range of the table's heap pages (8 kB each by default),
      // read by its own COPY on the source in the snapshot, so the source is read in parallel too.
      const std::int64_t pages = std::max<std::int64_t>(1, chunk / kHeapPage);
      s.params["chunk_pages"] = std::to_string(pages);
      s.reason += fmt::format("; split across {} sessions: data {} > split_tables_larger_than {} (the source read by "
                              "ranges of {} heap pages by ctid, each its own COPY in the snapshot and its own "
                              "transaction, without COPY FREEZE)",
                              sessions, human_size(e->data.bytes), human_size(threshold), pages);
      continue;
    }
    s.reason += fmt::format("; split across {} sessions: data {} > split_tables_larger_than {} (chunks of {} of "
                            "rows, each its own transaction, without COPY FREEZE)",
                            sessions, human_size(e->data.bytes), human_size(threshold), human_size(chunk));
  }
}

}  // namespace pgr::planner::detail
