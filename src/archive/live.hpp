// A live restore source seen as an archive (spec.from.live): the TOC of a pg_dump custom-format
// dump of the source taken without table data and without large objects (pg_dump -Fc --no-blobs
// --exclude-table-data for each table, so sequences keep their SEQUENCE SET and materialized views
// their REFRESH), plus one TABLE DATA entry per table, made here the way pg_dump makes them,
// whose rows are streamed from the source by a LiveData instead of read from the file, plus,
// when the source holds large objects, one BLOBS entry whose large objects are streamed from the
// source too (as pg_dump writes one only then: a source without any plans no large object change
// on a target without any). The BLOBS entry comes last, so the other ids do not depend on it; the
// fingerprint does, so a source that gains or loses its large objects after the plan makes the
// plan stale. The planner and the restore runner see one more archive.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "archive/archive.hpp"

namespace pgr::archive {

struct LiveTable {
  std::string oid, schema, name;
  std::vector<std::string> columns;  // COPY's column list, unquoted (generated columns left out)
  std::int64_t bytes = -1;           // heap size on the source, shown and used to split big tables
  std::int64_t pages = -1;           // heap pages on the source (read by ranges when split)
  bool binary = false;               // rows read and loaded in COPY's binary format
};

// Streams a table's rows and the large objects from the source (executor/live_copy.hpp
// implements it over libpq).
class LiveData {
 public:
  virtual ~LiveData() = default;
  virtual std::unique_ptr<RowReader> open(const LiveTable& table) const = 0;
  // The rows in heap pages [first, end) (end < 0: to the end), in the same snapshot.
  virtual std::unique_ptr<RowReader> open_pages(const LiveTable& table, std::int64_t first, std::int64_t end) const = 0;
  // Every large object of the source, in oid order, as Archive::for_each_blob.
  virtual void for_each_blob(const std::function<void(std::uint32_t oid, BlobStream& data)>& fn) const = 0;
};

class LiveArchive : public Archive {
 public:
  // `schema_dump` is the custom-format dump; `tables` the source's tables with rows; `data` may be
  // null when no rows are read (open_data then throws); `large_objects`: whether the source has
  // any, in the snapshot the schema is read in (catalog::has_large_objects).
  static std::unique_ptr<LiveArchive> open(const std::filesystem::path& schema_dump, std::vector<LiveTable> tables,
                                           std::shared_ptr<const LiveData> data, bool large_objects);

  std::unique_ptr<RowReader> open_data(const TocEntry& e) const override;
  std::int64_t data_pages(const TocEntry& e) const override;
  std::unique_ptr<RowReader> open_data_pages(const TocEntry& e, std::int64_t first, std::int64_t end) const override;
  void for_each_blob(const TocEntry& e,
                     const std::function<void(std::uint32_t, BlobStream&)>& fn) const override;
  // sha256 over what the plan depends on: every entry's id, kind, names, owner, definition and
  // dependencies, and the TABLE DATA entries made here, but not the values a SEQUENCE SET
  // entry carries nor the dump's timestamp. The same schema gives the same fingerprint.
  std::string schema_fingerprint() const;
  // Empty when `planned` (the fingerprint the plan was made with) is this one; else what changed
  // on `source` (its display name), for a "plan is stale" message.
  std::string stale_reason(const std::string& planned, const std::string& source) const;
  const std::filesystem::path& dump_path() const { return dump_; }

 private:
  LiveArchive(std::shared_ptr<const Files> files, Toc toc, std::unique_ptr<Archive> dump,
              std::map<int, LiveTable> tables, std::shared_ptr<const LiveData> data, std::filesystem::path path);
  std::unique_ptr<Archive> dump_archive_;
  std::map<int, LiveTable> tables_;  // by the id of the TABLE DATA entry made for it
  int blobs_id_ = 0;                 // the BLOBS entry made here
  std::shared_ptr<const LiveData> data_;
  std::filesystem::path dump_;
};

// The TOC of `dump` with a TABLE DATA entry for each of `tables` found as a TABLE entry (by
// oid) and then, when `large_objects`, one BLOBS entry, placed before the first post-data entry,
// with ids after the dump's highest. Returns the TOC and, by new entry id, the table it loads.
// Pure (tested without a server).
std::pair<Toc, std::map<int, LiveTable>> add_live_table_data(const Toc& dump, const std::vector<LiveTable>& tables,
                                                             bool large_objects);

// LiveArchive::schema_fingerprint of a TOC.
std::string live_schema_fingerprint(const Toc& toc);

}  // namespace pgr::archive
