// Custom-format archives (-Fc, pg_backup_custom.c): header, TOC, then data blocks, each
// (byte type, int dump id) followed by length-prefixed chunks ending with a 0 length. Large
// objects: (int oid, chunks)* ending with oid 0. When pg_dump wrote to a pipe, the TOC has no
// offsets and the blocks are found by walking them.
#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "archive/backends.hpp"
#include "archive/input.hpp"
#include "archive/stream.hpp"
#include "archive/toc.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

namespace pgr::archive::detail {

namespace {

constexpr int kBlkData = 1;
constexpr int kBlkBlobs = 3;

// Owns the file and the chunk walker over one data block.
class BlockSource final : public Source {
 public:
  BlockSource(std::unique_ptr<FileInput> in, const Encoding& enc) : in_(std::move(in)), chunks_(*in_, enc) {}
  std::size_t read(char* buf, std::size_t cap) override { return chunks_.read(buf, cap); }

 private:
  std::unique_ptr<FileInput> in_;
  ChunkSource chunks_;
};

class RefSource final : public Source {
 public:
  explicit RefSource(Source& s) : s_(s) {}
  std::size_t read(char* buf, std::size_t cap) override { return s_.read(buf, cap); }

 private:
  Source& s_;
};

void skip_stream(FileInput& in, const Encoding& enc) {
  ChunkSource c(in, enc);
  c.drain();
}

class CustomArchive final : public Archive {
 public:
  CustomArchive(std::shared_ptr<const Files> files, Toc toc, std::int64_t data_start, std::int64_t file_size)
      : Archive(std::move(files), std::move(toc)), enc_(encoding_of(toc_.header)) {
    toc_file_ = "";
    toc_copy_bytes_ = data_start;
    locate_blocks(data_start, file_size);
  }

  std::unique_ptr<RowReader> open_data(const TocEntry& e) const override {
    std::string origin = fmt::format("{} {}", path_.string(), describe(e));
    auto in = open_block(e, kBlkData, origin);
    auto src = decompress(toc_.header.compression, std::make_unique<BlockSource>(std::move(in), enc_), origin);
    return std::make_unique<CopyReader>(std::move(src), origin);
  }

  void for_each_blob(const TocEntry& e, const std::function<void(std::uint32_t, BlobStream&)>& fn) const override {
    std::string origin = fmt::format("{} {}", path_.string(), describe(e));
    auto in = open_block(e, kBlkBlobs, origin);
    for (;;) {
      std::int64_t at = in->offset();
      int oid = read_int(*in, enc_);
      if (oid == 0) break;
      ChunkSource chunks(*in, enc_);
      {
        auto src = decompress(toc_.header.compression, std::make_unique<RefSource>(chunks), origin);
        SourceBlobStream stream(*src);
        try {
          fn(static_cast<std::uint32_t>(oid), stream);
        } catch (const Error& err) {
          if (err.kind() != ErrorKind::archive) throw;
          fail(ErrorKind::archive, fmt::format("{} (large object {} at byte {})", err.what(), static_cast<std::uint32_t>(oid), at),
               err.hint());
        }
      }
      chunks.drain();
    }
  }

 private:
  std::unique_ptr<FileInput> open_block(const TocEntry& e, int want_type, const std::string& origin) const {
    if (e.data.kind != DataLocation::Kind::offset) fail(ErrorKind::archive, fmt::format("{}: has no data", origin));
    if (e.data.offset < 0) {
      fail(ErrorKind::archive, fmt::format("{}: its data block was not found in the archive", origin),
           "the archive is truncated or damaged");
    }
    auto in = std::make_unique<FileInput>(files_->open(""), origin);
    in->seek(e.data.offset);
    int type = in->read_byte_or_eof();
    int id = read_int(*in, enc_);
    if (type != want_type || id != e.id) {
      fail_at(origin, e.data.offset,
              fmt::format("data block header (type {}, id {}) does not match (type {}, id {})", type, id, want_type, e.id));
    }
    return in;
  }

  // Offsets recorded in the TOC give each block's size (up to the next block); without them
  // (pg_dump wrote to a pipe) the blocks are walked once from the end of the TOC.
  void locate_blocks(std::int64_t data_start, std::int64_t file_size) {
    bool all_known = true;
    for (const auto& e : toc_.entries) {
      if (e.data.kind != DataLocation::Kind::offset) continue;
      if (e.data.offset < 0) {
        all_known = false;
      } else if (e.data.offset < data_start || e.data.offset >= file_size) {
        fail(ErrorKind::archive,
             fmt::format("{}: {} has data offset {} outside the data area (bytes {} to {})", path_.string(), describe(e),
                         e.data.offset, data_start, file_size),
             "the archive is truncated or damaged");
      }
    }
    if (all_known) {
      std::vector<std::int64_t> starts;
      for (const auto& e : toc_.entries) {
        if (e.data.kind == DataLocation::Kind::offset) starts.push_back(e.data.offset);
      }
      std::sort(starts.begin(), starts.end());
      for (auto& e : toc_.entries) {
        if (e.data.kind != DataLocation::Kind::offset) continue;
        auto next = std::upper_bound(starts.begin(), starts.end(), e.data.offset);
        e.data.bytes = (next == starts.end() ? file_size : *next) - e.data.offset;
      }
      return;
    }
    std::unordered_map<int, TocEntry*> by_id;
    for (auto& e : toc_.entries) {
      if (e.data.kind == DataLocation::Kind::offset) by_id[e.id] = &e;
    }
    FileInput in(files_->open(""), path_.string());
    in.seek(data_start);
    for (;;) {
      std::int64_t at = in.offset();
      int type = in.read_byte_or_eof();
      if (type < 0) break;
      int id = read_int(in, enc_);
      auto it = by_id.find(id);
      if (it == by_id.end()) fail_at(path_.string(), at, fmt::format("data block for unknown entry {}", id));
      if (type == kBlkData) {
        skip_stream(in, enc_);
      } else if (type == kBlkBlobs) {
        while (read_int(in, enc_) != 0) skip_stream(in, enc_);
      } else {
        fail_at(path_.string(), at, fmt::format("unknown data block type {}", type));
      }
      it->second->data.offset = at;
      it->second->data.bytes = in.offset() - at;
    }
  }

  Encoding enc_;
};

}  // namespace

std::unique_ptr<Archive> open_custom(std::shared_ptr<const Files> files) {
  std::string origin = files->origin("");
  FileInput in(files->open(""), origin);
  in.start_recording();
  Toc toc = parse_header_and_toc(in, Format::custom);
  toc.checksum = sha256_hex(in.stop_recording());
  std::int64_t data_start = in.offset(), size = in.size();
  return std::make_unique<CustomArchive>(std::move(files), std::move(toc), data_start, size);
}

}  // namespace pgr::archive::detail
