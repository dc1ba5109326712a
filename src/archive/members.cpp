// Directory (-Fd) and tar (-Ft) archives: a toc.dat plus one member per data entry
// (pg_backup_directory.c, pg_backup_tar.c). Member names come from the TOC and the blob lists,
// so they are checked by safe_member_name() before anything is opened.
#include <sys/stat.h>

#include <charconv>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "archive/backends.hpp"
#include "archive/input.hpp"
#include "archive/stream.hpp"
#include "archive/toc.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

namespace pgr::archive::detail {

namespace {

constexpr std::size_t kMaxBlobTocLine = 4096;

struct BlobRef {
  std::uint32_t oid;
  std::string name;
};

// Reads "<oid> <file>\n" lines of a blobs toc, checking every name.
template <typename Fn>
void read_blob_list(std::unique_ptr<Source> src, const std::string& origin, const TocEntry& e, Fn&& fn) {
  CopyReader lines(std::move(src), origin);
  std::string line;
  int lineno = 0;
  while (lines.next_row(line)) {
    ++lineno;
    if (line.size() > kMaxBlobTocLine) {
      fail(ErrorKind::archive, fmt::format("{}: line {} is longer than {} bytes ({})", origin, lineno, kMaxBlobTocLine, describe(e)));
    }
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    auto space = line.find(' ');
    std::uint32_t oid = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + (space == std::string::npos ? line.size() : space), oid);
    if (space == std::string::npos || ec != std::errc{} || p != line.data() + space || oid == 0) {
      fail(ErrorKind::archive, fmt::format("{}: line {} is not \"<oid> <file>\" ({})", origin, lineno, describe(e)));
    }
    std::string name = line.substr(space + 1);
    if (!safe_member_name(name)) {
      fail(ErrorKind::archive,
           fmt::format("{}: line {} names large-object file \"{}\" outside the archive folder ({})", origin, lineno,
                       printable(name), describe(e)),
           "refusing to open it; the archive was tampered with");
    }
    fn(BlobRef{oid, std::move(name)});
  }
}

std::unique_ptr<Source> open_member(const Files& files, const Member& m, const std::string& origin) {
  auto raw = file_range_source(files, m.file, origin, m.offset, m.size);
  return decompress(compression_of_name(m.name), std::move(raw), origin);
}

}  // namespace

std::string MemberArchive::origin_of(const TocEntry& e) const {
  return fmt::format("{} {}", path_.string(), describe(e));
}

std::optional<Member> MemberArchive::resolve(const std::string& recorded) const {
  for (const char* suffix : {"", ".gz", ".lz4", ".zst"}) {
    if (auto m = member(recorded + suffix)) return m;
  }
  return std::nullopt;
}

std::optional<Member> MemberArchive::blobs_toc(const TocEntry& e) const {
  const std::string& rec = e.data.file;
  if (rec.size() > 4 && rec.compare(rec.size() - 4, 4, ".toc") == 0) {
    if (auto m = resolve(rec)) return m;
  }
  if (auto m = resolve(fmt::format("blobs_{}.toc", e.id))) return m;  // pg_dump 17 (tar)
  return resolve("blobs.toc");                                         // pg_dump 16 and older
}

void MemberArchive::resolve_sizes() {
  for (auto& e : toc_.entries) {
    if (e.data.kind != DataLocation::Kind::file) continue;
    if (e.desc == "BLOBS") {
      auto list = blobs_toc(e);
      if (!list) continue;
      e.data.file = list->name;
      std::int64_t total = list->size;
      bool complete = true;
      read_blob_list(open_member(*files_, *list, origin_of(e)), origin_of(e), e, [&](const BlobRef& b) {
        if (auto m = resolve(b.name)) total += m->size; else complete = false;
      });
      e.data.bytes = complete ? total : -1;
    } else if (auto m = resolve(e.data.file)) {
      e.data.file = m->name;
      e.data.bytes = m->size;
    }
  }
}

std::unique_ptr<RowReader> MemberArchive::open_data(const TocEntry& e) const {
  std::string origin = origin_of(e);
  if (e.data.kind != DataLocation::Kind::file) fail(ErrorKind::archive, fmt::format("{}: has no data", origin));
  if (e.desc == "BLOBS") fail(ErrorKind::internal, fmt::format("{}: large objects are read with for_each_blob()", origin));
  if (!safe_member_name(e.data.file)) fail(ErrorKind::archive, fmt::format("{}: unsafe data file name \"{}\"", origin, e.data.file));
  auto m = resolve(e.data.file);
  if (!m) {
    fail(ErrorKind::archive, fmt::format("{}: data file \"{}\" is missing from the archive", origin, e.data.file),
         "the archive is incomplete; copy it again from its source");
  }
  return std::make_unique<CopyReader>(open_member(*files_, *m, origin + " file " + m->name), origin + " file " + m->name);
}

void MemberArchive::for_each_blob(const TocEntry& e, const std::function<void(std::uint32_t, BlobStream&)>& fn) const {
  std::string origin = origin_of(e);
  if (e.desc != "BLOBS" || e.data.kind != DataLocation::Kind::file) {
    fail(ErrorKind::archive, fmt::format("{}: is not a large-object data entry", origin));
  }
  auto list = blobs_toc(e);
  if (!list) fail(ErrorKind::archive, fmt::format("{}: large-object list \"{}\" is missing from the archive", origin, e.data.file));
  read_blob_list(open_member(*files_, *list, origin), origin + " file " + list->name, e, [&](const BlobRef& b) {
    auto m = resolve(b.name);
    if (!m) fail(ErrorKind::archive, fmt::format("{}: large object {} file \"{}\" is missing from the archive", origin, b.oid, b.name));
    auto src = open_member(*files_, *m, origin + " file " + m->name);
    SourceBlobStream stream(*src);
    fn(b.oid, stream);
  });
}

// --- directory ----------------------------------------------------------------------------------

namespace {

class DirectoryArchive final : public MemberArchive {
 public:
  DirectoryArchive(std::shared_ptr<const Files> files, Toc toc, std::int64_t toc_bytes)
      : MemberArchive(std::move(files), std::move(toc)) {
    toc_file_ = "toc.dat";
    toc_copy_bytes_ = toc_bytes;
    resolve_sizes();
  }

 protected:
  std::optional<Member> member(const std::string& name) const override {
    if (!safe_member_name(name)) return std::nullopt;
    auto size = files_->size(name);
    if (!size) return std::nullopt;
    return Member{name, name, 0, *size};
  }
};

// --- tar ----------------------------------------------------------------------------------------

bool parse_tar_number(const unsigned char* p, std::size_t len, std::int64_t* out) {
  if ((p[0] & 0x80) != 0) {  // base-256 (GNU), used by pg_dump for members over 8 GB
    std::uint64_t v = p[0] & 0x7f;
    for (std::size_t i = 1; i < len; ++i) {
      if (v > (std::uint64_t{1} << 55)) return false;
      v = (v << 8) | p[i];
    }
    if (v > static_cast<std::uint64_t>(INT64_MAX)) return false;
    *out = static_cast<std::int64_t>(v);
    return true;
  }
  std::size_t i = 0;
  while (i < len && p[i] == ' ') ++i;
  std::int64_t v = 0;
  std::size_t digits = 0;
  for (; i < len && p[i] >= '0' && p[i] <= '7'; ++i, ++digits) v = v * 8 + (p[i] - '0');
  for (; i < len; ++i) {
    if (p[i] != ' ' && p[i] != '\0') return false;
  }
  if (digits == 0) return false;
  *out = v;
  return true;
}

class TarArchive final : public MemberArchive {
 public:
  TarArchive(std::shared_ptr<const Files> files, Toc toc, std::map<std::string, Member> members, std::int64_t toc_end)
      : MemberArchive(std::move(files), std::move(toc)), members_(std::move(members)) {
    toc_file_ = "";
    toc_copy_bytes_ = toc_end;
    resolve_sizes();
  }

 protected:
  std::optional<Member> member(const std::string& name) const override {
    auto it = members_.find(name);
    if (it == members_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, Member> members_;
};

}  // namespace

std::unique_ptr<Archive> open_directory(std::shared_ptr<const Files> files) {
  std::string toc_path = files->origin("toc.dat");
  FileInput in(files->open("toc.dat"), toc_path);
  in.start_recording();
  Toc toc = parse_header_and_toc(in, Format::directory);
  toc.checksum = sha256_hex(in.stop_recording());
  return std::make_unique<DirectoryArchive>(std::move(files), std::move(toc), in.size());
}

std::unique_ptr<Archive> open_tar(std::shared_ptr<const Files> files) {
  std::string origin = files->origin("");
  FileInput in(files->open(""), origin);
  std::map<std::string, Member> members;
  std::int64_t pos = 0;
  while (in.size() - pos >= 512) {
    unsigned char h[512];
    in.seek(pos);
    in.read(reinterpret_cast<char*>(h), sizeof h);
    bool zero = true;
    for (unsigned char c : h) zero = zero && c == 0;
    if (zero) break;
    std::int64_t stored = 0;
    if (!parse_tar_number(h + 148, 8, &stored)) fail_at(origin, pos + 148, "tar header checksum is not a number");
    std::int64_t sum = 0;
    for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : h[i];
    if (sum != stored) fail_at(origin, pos, fmt::format("tar header checksum mismatch (stored {}, computed {})", stored, sum));
    std::string name(reinterpret_cast<const char*>(h), strnlen(reinterpret_cast<const char*>(h), 100));
    if (std::memcmp(h + 257, "ustar", 5) == 0 && h[345] != 0) {
      name = std::string(reinterpret_cast<const char*>(h + 345), strnlen(reinterpret_cast<const char*>(h + 345), 155)) + "/" + name;
    }
    std::int64_t size = 0;
    if (!parse_tar_number(h + 124, 12, &size)) fail_at(origin, pos + 124, fmt::format("tar member \"{}\" has an invalid size", name));
    std::int64_t data = pos + 512;
    if (size > in.size() - data) {
      fail_at(origin, pos, fmt::format("tar member \"{}\" of {} bytes extends past the end of the file ({} bytes)", name, size, in.size()));
    }
    char type = static_cast<char>(h[156]);
    if (type == '0' || type == '\0') {
      if (!members.emplace(name, Member{name, "", data, size}).second) {
        fail_at(origin, pos, fmt::format("tar member \"{}\" appears twice", name));
      }
    }
    pos = data + (size + 511) / 512 * 512;
  }
  auto it = members.find("toc.dat");
  if (it == members.end()) fail(ErrorKind::archive, fmt::format("{}: tar file has no toc.dat member; not a pg_dump tar archive", origin));
  const Member& m = it->second;
  std::string bytes(static_cast<std::size_t>(m.size), '\0');
  in.seek(m.offset);
  in.read(bytes.data(), bytes.size());
  MemoryInput toc_in(bytes, origin + " (toc.dat)", m.offset);
  Toc toc = parse_header_and_toc(toc_in, Format::tar);
  toc.checksum = sha256_hex(toc_in.consumed());
  std::int64_t toc_end = m.offset + (m.size + 511) / 512 * 512;
  return std::make_unique<TarArchive>(std::move(files), std::move(toc), std::move(members), toc_end);
}

}  // namespace pgr::archive::detail
