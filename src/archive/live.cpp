#include "archive/live.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/hash.hpp"

namespace pgr::archive {

namespace {

// Always double-quoted, inner quotes doubled: what pg::quote_ident does (archive/ may not use pg/).
std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char ch : name) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

}  // namespace

std::pair<Toc, std::map<int, LiveTable>> add_live_table_data(const Toc& dump, const std::vector<LiveTable>& tables,
                                                             bool large_objects) {
  Toc toc = dump;
  std::map<std::string, const LiveTable*> by_oid;
  for (const auto& t : tables) by_oid[t.oid] = &t;
  int next_id = 0;
  for (const auto& e : dump.entries) next_id = std::max(next_id, e.id);
  std::vector<TocEntry> made;
  std::map<int, LiveTable> loads;
  for (const auto& e : dump.entries) {
    if (e.desc != "TABLE") continue;
    auto it = by_oid.find(e.oid);
    if (it == by_oid.end() || it->second->columns.empty()) continue;
    const LiveTable& t = *it->second;
    TocEntry d;
    d.id = ++next_id;
    d.had_dumper = true;
    d.table_oid = "0";
    d.oid = e.oid;
    d.tag = e.tag;
    d.desc = "TABLE DATA";
    d.section = Section::data;
    d.namespace_ = e.namespace_;
    d.owner = e.owner;
    d.tablespace = e.tablespace;
    std::string cols;
    for (const auto& c : t.columns) cols += (cols.empty() ? "" : ", ") + quoted(c);
    d.copy_stmt = fmt::format("COPY {}.{} ({}) FROM stdin;\n", quoted(e.namespace_), quoted(e.tag), cols);
    d.dependencies = {e.id};
    d.data.bytes = t.bytes;
    d.data.binary = t.binary;
    loads[d.id] = t;
    made.push_back(std::move(d));
  }
  if (large_objects) {
    TocEntry blobs;
    blobs.id = ++next_id;
    blobs.had_dumper = true;
    blobs.table_oid = "0";
    blobs.oid = "0";
    blobs.tag = "BLOBS";
    blobs.desc = "BLOBS";
    blobs.section = Section::data;
    made.push_back(std::move(blobs));
  }
  auto first_post = std::find_if(toc.entries.begin(), toc.entries.end(),
                                 [](const TocEntry& e) { return e.section == Section::post_data; });
  toc.entries.insert(first_post, made.begin(), made.end());
  return {std::move(toc), std::move(loads)};
}

LiveArchive::LiveArchive(std::shared_ptr<const Files> files, Toc toc, std::unique_ptr<Archive> dump,
                         std::map<int, LiveTable> tables, std::shared_ptr<const LiveData> data, std::filesystem::path path)
    : Archive(std::move(files), std::move(toc)),
      dump_archive_(std::move(dump)),
      tables_(std::move(tables)),
      data_(std::move(data)),
      dump_(std::move(path)) {
  toc_.checksum = schema_fingerprint();
  for (const auto& e : toc_.entries)
    if (e.desc == "BLOBS" && !tables_.count(e.id)) blobs_id_ = e.id;
}

std::unique_ptr<LiveArchive> LiveArchive::open(const std::filesystem::path& schema_dump, std::vector<LiveTable> tables,
                                               std::shared_ptr<const LiveData> data, bool large_objects) {
  auto files = local_files(schema_dump);
  auto dump = Archive::open(files);
  if (dump->toc().header.format != Format::custom) {
    fail(ErrorKind::archive, fmt::format("{}: the schema dump of a live source must be in custom format", schema_dump.string()));
  }
  auto [toc, loads] = add_live_table_data(dump->toc(), tables, large_objects);
  return std::unique_ptr<LiveArchive>(
      new LiveArchive(files, std::move(toc), std::move(dump), std::move(loads), std::move(data), schema_dump));
}

std::unique_ptr<RowReader> LiveArchive::open_data(const TocEntry& e) const {
  auto it = tables_.find(e.id);
  if (it == tables_.end()) return dump_archive_->open_data(e);
  if (!data_) fail(ErrorKind::input, fmt::format("the rows of {}.{} are not read while planning", e.namespace_, e.tag));
  return data_->open(it->second);
}

std::int64_t LiveArchive::data_pages(const TocEntry& e) const {
  auto it = tables_.find(e.id);
  return it == tables_.end() || !data_ ? -1 : it->second.pages;
}

std::unique_ptr<RowReader> LiveArchive::open_data_pages(const TocEntry& e, std::int64_t first, std::int64_t end) const {
  auto it = tables_.find(e.id);
  if (it == tables_.end() || !data_ || it->second.pages < 0) return Archive::open_data_pages(e, first, end);
  return data_->open_pages(it->second, first, end);
}

void LiveArchive::for_each_blob(const TocEntry& e, const std::function<void(std::uint32_t, BlobStream&)>& fn) const {
  if (e.id != blobs_id_) return dump_archive_->for_each_blob(e, fn);
  if (!data_) fail(ErrorKind::input, "large objects are not read while planning");
  data_->for_each_blob(fn);
}

std::string LiveArchive::schema_fingerprint() const { return live_schema_fingerprint(toc_); }

std::string LiveArchive::stale_reason(const std::string& planned, const std::string& source) const {
  if (toc_.checksum == planned) return "";
  // Was the only change that the source gained (or lost) its large objects? The same TOC with
  // the BLOBS entry the other way round tells.
  std::vector<LiveTable> tables;
  for (const auto& [id, t] : tables_) tables.push_back(t);
  bool now = blobs_id_ != 0;
  if (live_schema_fingerprint(add_live_table_data(dump_archive_->toc(), tables, !now).first) == planned) {
    return now ? fmt::format("the {} holds large objects now and held none when the plan was made", source)
               : fmt::format("the {} holds no large objects now and held some when the plan was made", source);
  }
  return fmt::format("the schema of the {} changed since the plan was made", source);
}

std::string live_schema_fingerprint(const Toc& toc) {
  std::string all;
  for (const auto& e : toc.entries) {
    all += fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f", e.id, e.desc, e.namespace_, e.tag, e.owner, e.tablespace);
    if (e.desc != "SEQUENCE SET") all += e.defn;
    all += "\x1f" + e.copy_stmt + (e.data.binary ? " binary" : "") + "\x1f";
    for (int d : e.dependencies) all += std::to_string(d) + ",";
    all += "\x1e";
  }
  return sha256_hex(all);
}

}  // namespace pgr::archive
