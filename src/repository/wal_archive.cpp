#include "repository/wal_archive.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <map>
#include <memory>
#include <random>
#include <set>

#include <fmt/format.h>

#include "archive/stream.hpp"
#include "repository/archive_source.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"

namespace pgr::repository {

namespace {

constexpr std::size_t kChunk = 1 << 20;

bool all_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); });
}

std::uint64_t hex_value(std::string_view s) { return std::stoull(std::string(s), nullptr, 16); }

const char* suffix_of(WalCompression c) {
  switch (c) {
    case WalCompression::gzip: return ".gz";
    case WalCompression::zstd: return ".zst";
    case WalCompression::none: break;
  }
  return "";
}

archive::Compression to_archive(WalCompression c) {
  switch (c) {
    case WalCompression::gzip: return archive::Compression::gzip;
    case WalCompression::zstd: return archive::Compression::zstd;
    case WalCompression::none: break;
  }
  return archive::Compression::none;
}

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

// A file descriptor closed on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void write_all(int fd, const char* data, std::size_t n, const fs::path& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(ErrorKind::io, fmt::format("could not write \"{}\": {}", path.string(), errno_text(errno)));
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Streams `in` into `out`, compressed with `c`.
void copy_compressed(int in, storage::Writer& out, WalCompression c, const fs::path& src) {
  std::vector<char> ibuf(kChunk), obuf(kChunk + 1024);
  auto read_some = [&]() -> std::size_t {
    for (;;) {
      ssize_t n = ::read(in, ibuf.data(), ibuf.size());
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) fail(ErrorKind::io, fmt::format("could not read \"{}\": {}", src.string(), errno_text(errno)));
    }
  };
  if (c == WalCompression::none) {
    for (std::size_t n; (n = read_some()) > 0;) out.write(ibuf.data(), n);
    return;
  }
  if (c == WalCompression::gzip) {
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      fail(ErrorKind::internal, "could not initialise zlib");
    }
    int flush = Z_NO_FLUSH;
    do {
      std::size_t n = read_some();
      flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
      z.next_in = reinterpret_cast<Bytef*>(ibuf.data());
      z.avail_in = static_cast<uInt>(n);
      do {
        z.next_out = reinterpret_cast<Bytef*>(obuf.data());
        z.avail_out = static_cast<uInt>(obuf.size());
        deflate(&z, flush);
        out.write(obuf.data(), obuf.size() - z.avail_out);
      } while (z.avail_out == 0);
    } while (flush != Z_FINISH);
    deflateEnd(&z);
    return;
  }
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (!cctx) fail(ErrorKind::internal, "could not initialise zstd");
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> guard(cctx, &ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
  bool last = false;
  while (!last) {
    std::size_t n = read_some();
    last = n == 0;
    ZSTD_inBuffer ib{ibuf.data(), n, 0};
    bool finished = false;
    while (!finished) {
      ZSTD_outBuffer ob{obuf.data(), obuf.size(), 0};
      std::size_t rc = ZSTD_compressStream2(cctx, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(rc)) fail(ErrorKind::io, fmt::format("zstd compression failed: {}", ZSTD_getErrorName(rc)));
      out.write(obuf.data(), ob.pos);
      finished = last ? rc == 0 : ib.pos == ib.size;
    }
  }
}

std::unique_ptr<archive::detail::Source> open_content(const storage::Storage& s, const std::string& prefix,
                                                      const WalArchive::Entry& e) {
  std::string key = prefix + e.stored_name;
  return archive::detail::decompress(to_archive(e.compression), storage_source(s, key), s.describe(key));
}

void check_name(std::string_view name) {
  if (!classify_wal_name(name)) {
    fail(ErrorKind::input,
         fmt::format("\"{}\" is not the name of a WAL file PostgreSQL archives", name),
         "expected a 24-hex-digit segment, NNNNNNNN.history, SEGMENT.OFFSET.backup or SEGMENT.partial");
  }
}

}  // namespace

const char* to_string(WalFileKind k) noexcept {
  switch (k) {
    case WalFileKind::segment: return "segment";
    case WalFileKind::history: return "history";
    case WalFileKind::backup_label: return "backup";
    case WalFileKind::partial: return "partial";
  }
  return "?";
}

std::optional<WalFileKind> classify_wal_name(std::string_view n) {
  if (n.size() == 24 && all_hex(n)) return WalFileKind::segment;
  if (n.size() == 16 && all_hex(n.substr(0, 8)) && n.substr(8) == ".history") return WalFileKind::history;
  if (n.size() == 32 && all_hex(n.substr(0, 24)) && n.substr(24) == ".partial") return WalFileKind::partial;
  if (n.size() == 40 && all_hex(n.substr(0, 24)) && n[24] == '.' && all_hex(n.substr(25, 8)) &&
      n.substr(33) == ".backup") {
    return WalFileKind::backup_label;
  }
  return std::nullopt;
}

std::uint64_t parse_lsn(std::string_view text) {
  auto slash = text.find('/');
  auto hex_ok = [](std::string_view s) {
    return !s.empty() && s.size() <= 8 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  };
  if (slash == std::string_view::npos || !hex_ok(text.substr(0, slash)) || !hex_ok(text.substr(slash + 1))) {
    fail(ErrorKind::input, fmt::format("\"{}\" is not a WAL location (expected something like 0/3000060)", text));
  }
  return (hex_value(text.substr(0, slash)) << 32) | hex_value(text.substr(slash + 1));
}

std::string format_lsn(std::uint64_t lsn) { return fmt::format("{:X}/{:X}", lsn >> 32, lsn & 0xffffffffULL); }

std::string segment_name(std::uint32_t timeline, std::uint64_t segno, std::uint64_t seg_size) {
  std::uint64_t per_id = 0x100000000ULL / seg_size;
  return fmt::format("{:08X}{:08X}{:08X}", timeline, segno / per_id, segno % per_id);
}

std::uint64_t segment_number(std::uint64_t lsn, std::uint64_t seg_size) { return lsn / seg_size; }

bool parse_segment_name(std::string_view name, std::uint64_t seg_size, std::uint32_t& timeline, std::uint64_t& segno) {
  if (name.size() < 24 || !all_hex(name.substr(0, 24))) return false;
  if (name.size() > 24 && name[24] != '.') return false;
  timeline = static_cast<std::uint32_t>(hex_value(name.substr(0, 8)));
  segno = hex_value(name.substr(8, 8)) * (0x100000000ULL / seg_size) + hex_value(name.substr(16, 8));
  return true;
}

WalCompression parse_wal_compression(std::string_view text) {
  if (text == "none" || text.empty()) return WalCompression::none;
  if (text == "gzip") return WalCompression::gzip;
  if (text == "zstd") return WalCompression::zstd;
  fail(ErrorKind::usage, fmt::format("unknown WAL compression \"{}\"", text), "use none, gzip or zstd");
}

std::vector<TimelineSwitch> parse_history(std::string_view text) {
  std::vector<TimelineSwitch> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    std::size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string_view::npos || line[b] == '#') continue;
    line.remove_prefix(b);
    std::size_t tab = line.find_first_of(" \t");
    if (tab == std::string_view::npos) fail(ErrorKind::input, fmt::format("bad timeline history line \"{}\"", line));
    std::string_view rest = line.substr(tab);
    rest.remove_prefix(std::min(rest.find_first_not_of(" \t"), rest.size()));
    std::string_view lsn = rest.substr(0, rest.find_first_of(" \t\r"));
    TimelineSwitch s;
    std::string_view tli = line.substr(0, tab);
    if (tli.empty() || tli.size() > 10 || !std::all_of(tli.begin(), tli.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      fail(ErrorKind::input, fmt::format("bad timeline history line \"{}\"", line));
    }
    s.parent = static_cast<std::uint32_t>(std::stoul(std::string(tli)));
    s.switchpoint = parse_lsn(lsn);
    out.push_back(s);
  }
  return out;
}

void check_cluster_name(std::string_view cluster) {
  bool ok = !cluster.empty() && cluster.size() <= 128 && cluster[0] != '.' &&
            std::all_of(cluster.begin(), cluster.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
            });
  if (!ok) {
    fail(ErrorKind::input, fmt::format("invalid cluster name \"{}\"", cluster),
         "a cluster name uses letters, digits, '.', '_' and '-' and does not start with '.'");
  }
}

WalArchive::WalArchive(fs::path repository_root, std::string cluster)
    : WalArchive(storage::open(storage::posix_location(repository_root), repository_root.string(), false),
                 std::move(cluster)) {}

WalArchive::WalArchive(std::shared_ptr<storage::Storage> storage, std::string cluster)
    : storage_(std::move(storage)), cluster_(std::move(cluster)) {
  check_cluster_name(cluster_);
  prefix_ = "wal/" + cluster_ + "/";
}

std::optional<WalArchive::Entry> WalArchive::find(std::string_view name) const {
  check_name(name);
  for (WalCompression c : {WalCompression::none, WalCompression::gzip, WalCompression::zstd}) {
    std::string stored = std::string(name) + suffix_of(c);
    if (auto info = storage_->stat(prefix_ + stored)) {
      return Entry{std::string(name), stored, *classify_wal_name(name), c, info->size, info->modified};
    }
  }
  return std::nullopt;
}

std::vector<WalArchive::Entry> WalArchive::list() const {
  std::vector<Entry> out;
  for (const auto& o : storage_->list(prefix_)) {
    std::string stored = o.key.substr(prefix_.size());
    if (stored.find('/') != std::string::npos) continue;
    std::string name = stored;
    WalCompression c = WalCompression::none;
    for (WalCompression cand : {WalCompression::gzip, WalCompression::zstd}) {
      std::string sfx = suffix_of(cand);
      if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
        name.resize(name.size() - sfx.size());
        c = cand;
        break;
      }
    }
    auto kind = classify_wal_name(name);
    if (!kind) continue;
    out.push_back(Entry{name, stored, *kind, c, o.size, o.modified});
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.stored_name < b.stored_name; });
  return out;
}

std::string WalArchive::read(const Entry& e) const {
  auto src = open_content(*storage_, prefix_, e);
  std::string out;
  std::vector<char> buf(kChunk);
  for (std::size_t n; (n = src->read(buf.data(), buf.size())) > 0;) {
    out.append(buf.data(), n);
    if (out.size() > (64u << 20)) fail(ErrorKind::io, fmt::format("\"{}\" is larger than 64 MB", describe(e.stored_name)));
  }
  return out;
}

std::string WalArchive::content_sha256(const Entry& e) const {
  auto src = open_content(*storage_, prefix_, e);
  Sha256 h;
  std::vector<char> buf(kChunk);
  for (std::size_t n; (n = src->read(buf.data(), buf.size())) > 0;) h.update(std::string_view(buf.data(), n));
  return h.hex();
}

WalArchive::PushResult WalArchive::push(const fs::path& source, WalCompression compression) {
  std::string name = source.filename().string();
  check_name(name);
  std::string want = sha256_file(source);
  auto compare_existing = [&](const Entry& e) {
    if (content_sha256(e) == want) {
      log::info("{} is already archived in {} with the same content", name, describe());
      return PushResult::already_present;
    }
    fail(ErrorKind::io,
         fmt::format("WAL file {} is already archived in \"{}\" with different content; refusing to overwrite it",
                     name, describe()),
         "two clusters may be archiving into one WAL stream: give each its own --cluster, or check "
         "archive_command on the servers that use this repository");
  };
  if (auto existing = find(name)) return compare_existing(*existing);

  std::string stored = name + suffix_of(compression);
  bool stored_now = false;
  {
    Fd in{::open(source.c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) fail(ErrorKind::io, fmt::format("could not open \"{}\": {}", source.string(), errno_text(errno)));
    // Exclusive: never replaces a file; a concurrent push of the same name loses the race cleanly
    // and is then compared like any other existing file.
    auto out = storage_->create(prefix_ + stored, storage::WriteOptions{true});
    copy_compressed(in.fd, *out, compression, source);
    stored_now = out->commit();
  }
  if (!stored_now) {
    if (auto existing = find(name)) return compare_existing(*existing);
    fail(ErrorKind::io, fmt::format("could not store \"{}\"", describe(stored)));
  }
  log::debug("archived {} as {}", name, describe(stored));
  return PushResult::stored;
}

bool WalArchive::fetch(std::string_view name, const fs::path& dest) const {
  auto e = find(name);
  if (!e) return false;
  auto src = open_content(*storage_, prefix_, *e);
  fs::path parent = dest.has_parent_path() ? dest.parent_path() : fs::path(".");
  fs::path temp = parent / fmt::format(".{}.pgrecover-tmp.{}", dest.filename().string(), random_suffix());
  Fd out{::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
  if (out.fd < 0) fail(ErrorKind::io, fmt::format("could not create \"{}\": {}", temp.string(), errno_text(errno)));
  try {
    std::vector<char> buf(kChunk);
    for (std::size_t n; (n = src->read(buf.data(), buf.size())) > 0;) write_all(out.fd, buf.data(), n, temp);
    if (::fsync(out.fd) != 0) fail(ErrorKind::io, fmt::format("could not fsync \"{}\": {}", temp.string(), errno_text(errno)));
    if (::rename(temp.c_str(), dest.c_str()) != 0) {
      fail(ErrorKind::io, fmt::format("could not rename \"{}\" to \"{}\": {}", temp.string(), dest.string(), errno_text(errno)));
    }
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  return true;
}

std::vector<std::string> WalArchive::remove_before(std::uint64_t segno, std::uint64_t seg_size) {
  std::vector<std::string> removed;
  for (const auto& e : list()) {
    if (e.kind == WalFileKind::history) continue;
    std::uint32_t tli = 0;
    std::uint64_t n = 0;
    if (!parse_segment_name(e.name, seg_size, tli, n) || n >= segno) continue;
    storage_->remove(prefix_ + e.stored_name);
    removed.push_back(e.name);
  }
  return removed;
}

Continuity check_continuity(const WalArchive& archive, std::uint32_t start_timeline, std::uint64_t start_lsn,
                            std::optional<std::uint64_t> end_lsn, const std::string& timeline,
                            std::uint64_t seg_size) {
  if (seg_size == 0 || (seg_size & (seg_size - 1)) != 0) fail(ErrorKind::internal, "bad WAL segment size");
  auto entries = archive.list();
  std::set<std::string> present;
  std::map<std::uint32_t, std::vector<TimelineSwitch>> histories;
  for (const auto& e : entries) {
    if (e.kind == WalFileKind::segment) present.insert(e.name);
    if (e.kind == WalFileKind::history) {
      histories[static_cast<std::uint32_t>(hex_value(e.name.substr(0, 8)))] = parse_history(archive.read(e));
    }
  }
  auto descends = [&](std::uint32_t tli) {
    if (tli == start_timeline) return true;
    auto it = histories.find(tli);
    if (it == histories.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(), [&](const TimelineSwitch& s) { return s.parent == start_timeline; });
  };
  Continuity c;
  c.target_timeline = start_timeline;
  if (timeline == "latest") {
    for (auto& [tli, h] : histories)
      if (tli > c.target_timeline && descends(tli)) c.target_timeline = tli;
  } else if (timeline != "current") {
    c.target_timeline = static_cast<std::uint32_t>(std::stoul(timeline));
    if (!descends(c.target_timeline)) {
      c.missing.push_back(fmt::format("{:08X}.history", c.target_timeline));
      c.missing_count = 1;
      return c;
    }
  }
  // The timelines recovery walks, each with the WAL range it covers.
  struct Range {
    std::uint32_t tli;
    std::uint64_t begin, end;
  };
  std::vector<Range> path;
  if (c.target_timeline == start_timeline) {
    path.push_back({start_timeline, 0, UINT64_MAX});
  } else {
    std::uint64_t begin = 0;
    for (const auto& s : histories[c.target_timeline]) {
      path.push_back({s.parent, begin, s.switchpoint});
      begin = s.switchpoint;
    }
    path.push_back({c.target_timeline, begin, UINT64_MAX});
  }
  std::uint64_t first = segment_number(start_lsn, seg_size);
  std::uint64_t last = first;
  if (end_lsn) {
    last = std::max(first, segment_number(*end_lsn, seg_size));
  } else {
    for (const auto& name : present) {
      std::uint32_t tli = 0;
      std::uint64_t n = 0;
      if (!parse_segment_name(name, seg_size, tli, n)) continue;
      bool on_path = std::any_of(path.begin(), path.end(), [&](const Range& r) {
        return r.tli == tli && n * seg_size < r.end && (n + 1) * seg_size > r.begin;
      });
      if (on_path) last = std::max(last, n);
    }
  }
  for (std::uint64_t n = first; n <= last; ++n) {
    std::string newest;
    bool found = false;
    for (const auto& r : path) {
      if (!(n * seg_size < r.end && (n + 1) * seg_size > r.begin)) continue;
      newest = segment_name(r.tli, n, seg_size);
      if (present.count(newest)) found = true;
    }
    ++c.segments_checked;
    if (n == first) c.first_segment = newest;
    c.last_segment = newest;
    if (!found) {
      ++c.missing_count;
      if (c.missing.size() < 50) c.missing.push_back(newest);
    }
  }
  return c;
}

std::optional<WalArchive::Entry> WalArchive::newest_segment() const {
  std::optional<Entry> best;
  for (auto& e : list()) {
    if (e.kind != WalFileKind::segment) continue;
    std::string_view seg = std::string_view(e.name).substr(8), best_seg;
    if (best) best_seg = std::string_view(best->name).substr(8);
    if (!best || seg > best_seg || (seg == best_seg && e.name > best->name)) best = std::move(e);
  }
  return best;
}

}  // namespace pgr::repository
