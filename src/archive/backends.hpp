// The three format backends behind archive::Archive.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "archive/archive.hpp"

namespace pgr::archive::detail {

// A data member of a directory or tar archive: a file, or a byte range of the tar file.
struct Member {
  std::string name;         // as found (with the compression suffix, if any)
  std::string file;         // the file of Files holding it ("" for a tar member)
  std::int64_t offset = 0;  // where the member's bytes start in `path`
  std::int64_t size = 0;
};

// Directory and tar archives: data lives in named members ("1234.dat.gz", "blobs.toc", ...).
class MemberArchive : public Archive {
 public:
  std::unique_ptr<RowReader> open_data(const TocEntry& e) const override;
  void for_each_blob(const TocEntry& e,
                     const std::function<void(std::uint32_t, BlobStream&)>& fn) const override;

 protected:
  MemberArchive(std::shared_ptr<const Files> files, Toc toc) : Archive(std::move(files), std::move(toc)) {}
  virtual std::optional<Member> member(const std::string& name) const = 0;
  // The member for a recorded name: as is, else with ".gz", ".lz4" or ".zst" appended (pg_dump
  // records "1234.dat" and writes "1234.dat.gz" when compressing).
  std::optional<Member> resolve(const std::string& recorded) const;
  // The blob list of a BLOBS entry ("blobs.toc", "blobs_<id>.toc").
  std::optional<Member> blobs_toc(const TocEntry& e) const;
  // Fills data.file (name as found) and data.bytes for every entry; call once members are known.
  void resolve_sizes();
  std::string origin_of(const TocEntry& e) const;
};

std::unique_ptr<Archive> open_directory(std::shared_ptr<const Files> files);
std::unique_ptr<Archive> open_tar(std::shared_ptr<const Files> files);
std::unique_ptr<Archive> open_custom(std::shared_ptr<const Files> files);

// "entry 1234 (TABLE DATA public.orders)"
std::string describe(const TocEntry& e);

}  // namespace pgr::archive::detail
