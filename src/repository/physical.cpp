#include "repository/physical.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "archive/stream.hpp"
#include "repository/archive_source.hpp"
#include "repository/file_writer.hpp"
#include "repository/read_ahead.hpp"
#include "repository/wal_archive.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

namespace pgr::repository {

namespace {

constexpr std::size_t kBlock = 512;
constexpr std::uint64_t kMaxMember = 1ULL << 40;  // 1 TiB: anything larger is a damaged header

// A tar file as a decompressed stream: a local file, or an object of a repository.
struct TarInput {
  std::string name;  // for messages
  std::function<std::unique_ptr<archive::detail::Source>()> open_raw;
};

TarInput local_tar(const fs::path& tar) {
  return {tar.string(), [tar] {
            std::error_code ec;
            auto size = fs::file_size(tar, ec);
            if (ec) fail(ErrorKind::io, fmt::format("could not read \"{}\": {}", tar.string(), ec.message()));
            return archive::detail::file_range_source(tar.string(), tar.string(), 0, static_cast<std::int64_t>(size));
          }};
}

TarInput stored_tar(const storage::Storage& s, const std::string& key) {
  return {s.describe(key), [&s, key] { return storage_source(s, key); }};
}

std::unique_ptr<archive::detail::Source> open_tar(const TarInput& tar, bool ahead = false) {
  auto src = archive::detail::decompress(archive::detail::compression_of_name(tar.name), tar.open_raw(), tar.name);
  return ahead ? read_ahead(std::move(src)) : std::move(src);
}

// Reads exactly n bytes; false at a clean end before the first byte.
bool read_exact(archive::detail::Source& src, char* buf, std::size_t n, const std::string& tar) {
  std::size_t got = 0;
  while (got < n) {
    std::size_t r = src.read(buf + got, n - got);
    if (r == 0) {
      if (got == 0) return false;
      fail(ErrorKind::archive, fmt::format("\"{}\" ends in the middle of a block", tar));
    }
    got += r;
  }
  return true;
}

std::uint64_t tar_number(const char* field, std::size_t len, const std::string& tar) {
  auto u = [&](std::size_t i) { return static_cast<unsigned char>(field[i]); };
  if (u(0) & 0x80) {  // base-256 (GNU), used by PostgreSQL for members of 8 GiB and more
    std::uint64_t v = u(0) & 0x3f;
    for (std::size_t i = 1; i < len; ++i) v = (v << 8) | u(i);
    return v;
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < len && field[i] != '\0' && field[i] != ' '; ++i) {
    if (field[i] < '0' || field[i] > '7') fail(ErrorKind::archive, fmt::format("\"{}\": bad number in a tar header", tar));
    v = v * 8 + static_cast<std::uint64_t>(field[i] - '0');
  }
  return v;
}

std::string field_str(const char* f, std::size_t len) { return std::string(f, strnlen(f, len)); }

struct Member {
  std::string name;  // checked, relative, no trailing '/'
  char type = '0';
  std::uint64_t size = 0;
};

std::string checked_name(std::string name, const std::string& tar) {
  while (!name.empty() && name.back() == '/') name.pop_back();
  while (name.rfind("./", 0) == 0) name.erase(0, 2);
  bool bad = name.empty() || name[0] == '/';
  std::size_t pos = 0;
  while (!bad && pos <= name.size()) {
    std::size_t slash = name.find('/', pos);
    std::string part = name.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (part.empty() || part == "." || part == "..") bad = true;
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  if (bad) fail(ErrorKind::archive, fmt::format("\"{}\" holds a member with an unsafe name \"{}\"", tar, name));
  return name;
}

// Calls fn for each member; fn must consume exactly member.size bytes through `read` (or none:
// what it leaves is skipped).
void for_each_member(const TarInput& tar,
                     const std::function<void(const Member&, const std::function<std::size_t(char*, std::size_t)>&)>& fn,
                     bool ahead = false) {
  auto src = open_tar(tar, ahead);
  const std::string& where = tar.name;
  char hdr[kBlock];
  std::vector<char> skip(1 << 16);
  for (;;) {
    if (!read_exact(*src, hdr, kBlock, where)) break;  // PostgreSQL's tar files end with zero blocks
    if (std::all_of(hdr, hdr + kBlock, [](char c) { return c == 0; })) break;
    unsigned sum = 0;
    for (std::size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(hdr[i]);
    if (tar_number(hdr + 148, 8, where) != sum) {
      fail(ErrorKind::archive, fmt::format("\"{}\" is damaged: a tar header checksum does not match", where));
    }
    Member m;
    std::string name = field_str(hdr, 100);
    std::string prefix = std::memcmp(hdr + 257, "ustar", 5) == 0 ? field_str(hdr + 345, 155) : "";
    m.name = checked_name(prefix.empty() ? name : prefix + "/" + name, where);
    m.type = hdr[156] == '\0' ? '0' : hdr[156];
    m.size = tar_number(hdr + 124, 12, where);
    if (m.size > kMaxMember) fail(ErrorKind::archive, fmt::format("\"{}\": member \"{}\" is too large", where, m.name));
    std::uint64_t left = m.size;
    auto reader = [&](char* buf, std::size_t cap) -> std::size_t {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(cap, left));
      if (want == 0) return 0;
      if (!read_exact(*src, buf, want, where)) fail(ErrorKind::archive, fmt::format("\"{}\" is truncated", where));
      left -= want;
      return want;
    };
    fn(m, reader);
    while (left > 0) reader(skip.data(), skip.size());
    std::size_t pad = static_cast<std::size_t>((kBlock - m.size % kBlock) % kBlock);
    if (pad && !read_exact(*src, hdr, pad, where)) fail(ErrorKind::archive, fmt::format("\"{}\" is truncated", where));
  }
}

}  // namespace

nlohmann::json to_extra(const PhysicalInfo& p) {
  nlohmann::json j = {{"wal_cluster", p.wal_cluster},     {"timeline", p.timeline},
          {"start_lsn", p.start_lsn},         {"stop_lsn", p.stop_lsn},
          {"start_time", p.start_time},       {"stop_time", p.stop_time},
          {"stop_epoch", p.stop_epoch},       {"wal_segment_size", p.wal_segment_size},
          {"superuser", p.superuser},         {"base_file", p.base_file},
          {"wal_file", p.wal_file},           {"compression", p.compression},
          {"next_xid", p.next_xid}};
  if (!p.tablespaces.empty()) {  // absent otherwise: manifests of backups without any stay as they were
    j["tablespaces"] = nlohmann::json::array();
    for (const auto& t : p.tablespaces) {
      j["tablespaces"].push_back(
          {{"oid", t.oid}, {"name", t.name}, {"location", t.location}, {"file", t.file}, {"bytes", t.bytes}});
    }
  }
  return j;
}

PhysicalInfo physical_info(const Manifest& m) {
  if (m.kind != "physical") fail(ErrorKind::input, fmt::format("backup {} is a {} backup, not a physical one", m.id, m.kind));
  const auto& j = m.extra;
  PhysicalInfo p;
  try {
    p.wal_cluster = j.at("wal_cluster").get<std::string>();
    p.timeline = j.at("timeline").get<std::uint32_t>();
    p.start_lsn = j.at("start_lsn").get<std::string>();
    p.stop_lsn = j.at("stop_lsn").get<std::string>();
    p.start_time = j.value("start_time", "");
    p.stop_time = j.at("stop_time").get<std::string>();
    p.stop_epoch = j.at("stop_epoch").get<double>();
    p.wal_segment_size = j.value("wal_segment_size", std::uint64_t{16u << 20});
    p.superuser = j.value("superuser", "postgres");
    p.base_file = j.at("base_file").get<std::string>();
    p.wal_file = j.value("wal_file", "");
    p.compression = j.value("compression", "none");
    p.next_xid = j.value("next_xid", "");
    if (j.contains("tablespaces")) {
      for (const auto& t : j.at("tablespaces")) {
        p.tablespaces.push_back({t.at("oid").get<std::string>(), t.value("name", ""), t.at("location").get<std::string>(),
                                 t.at("file").get<std::string>(), t.value("bytes", std::uint64_t{0})});
      }
    }
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::input, fmt::format("the manifest of physical backup {} is incomplete: {}", m.id, e.what()));
  }
  parse_lsn(p.start_lsn);
  parse_lsn(p.stop_lsn);
  auto bad_name = [](const std::string& f) { return f.find('/') != std::string::npos || f == ".." || f == "."; };
  for (const auto* f : {&p.base_file, &p.wal_file})
    if (bad_name(*f)) fail(ErrorKind::input, fmt::format("backup {}: bad file name \"{}\"", m.id, *f));
  for (const auto& t : p.tablespaces) {
    // Names from a manifest are not trusted: the oid names a link in pg_tblspc, the file a key.
    bool digits = !t.oid.empty() && t.oid.size() <= 10 && t.oid.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || t.file.empty() || bad_name(t.file) || t.location.empty() || t.location[0] != '/') {
      fail(ErrorKind::input, fmt::format("backup {}: a tablespace entry of its manifest is not valid (oid \"{}\", file "
                                         "\"{}\", location \"{}\")", m.id, t.oid, t.file, t.location));
    }
  }
  return p;
}

std::vector<WalRange> backup_manifest_wal_ranges(std::string_view manifest_json) {
  std::vector<WalRange> out;
  try {
    auto j = nlohmann::json::parse(manifest_json);
    for (const auto& r : j.at("WAL-Ranges")) {
      out.push_back({r.at("Timeline").get<std::uint32_t>(), parse_lsn(r.at("Start-LSN").get<std::string>()),
                     parse_lsn(r.at("End-LSN").get<std::string>())});
    }
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::archive, fmt::format("backup_manifest is not what pg_basebackup writes: {}", e.what()));
  }
  if (out.empty()) fail(ErrorKind::archive, "backup_manifest has no WAL-Ranges");
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_tablespace_map(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::string oid, path;
    std::size_t i = pos;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') oid += text[i++];
    if (oid.empty() || i >= text.size() || text[i] != ' ') {
      fail(ErrorKind::archive, "tablespace_map holds a line that is not \"OID PATH\"");
    }
    ++i;
    for (; i < text.size() && text[i] != '\n'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;  // an escaped '\\', '\n' or '\r'
      path += text[i];
    }
    if (!path.empty() && path.back() == '\r') path.pop_back();
    if (path.empty() || path[0] != '/') {
      fail(ErrorKind::archive, fmt::format("tablespace_map: tablespace {} has no absolute location", oid));
    }
    out.emplace_back(oid, path);
    pos = i + 1;
  }
  return out;
}

std::uint64_t backup_manifest_tablespace_bytes(std::string_view manifest_json, const std::string& oid) {
  std::uint64_t bytes = 0;
  const std::string prefix = "pg_tblspc/" + oid + "/";
  try {
    auto j = nlohmann::json::parse(manifest_json);
    for (const auto& f : j.at("Files")) {
      if (f.value("Path", "").rfind(prefix, 0) == 0) bytes += f.value("Size", std::uint64_t{0});
    }
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::archive, fmt::format("backup_manifest is not what pg_basebackup writes: {}", e.what()));
  }
  return bytes;
}

std::string find_tar(const fs::path& dir, std::string_view stem) {
  for (const char* sfx : {".tar", ".tar.gz", ".tar.lz4", ".tar.zst"}) {
    std::string name = std::string(stem) + sfx;
    if (fs::is_regular_file(dir / name)) return name;
  }
  return {};
}

static std::string read_tar_member(const TarInput& tar, std::string_view member, std::uint64_t max_bytes) {
  std::string out;
  bool found = false;
  for_each_member(tar, [&](const Member& m, const auto& read) {
    if (found || m.name != member || m.type != '0') return;
    if (m.size > max_bytes) fail(ErrorKind::archive, fmt::format("\"{}\" in \"{}\" is too large", m.name, tar.name));
    out.resize(static_cast<std::size_t>(m.size));
    std::size_t got = 0;
    while (got < out.size()) got += read(out.data() + got, out.size() - got);
    found = true;
  });
  if (!found) fail(ErrorKind::archive, fmt::format("\"{}\" holds no \"{}\"", tar.name, member));
  return out;
}

ManifestChecksums ManifestChecksums::parse(std::string_view manifest_json) {
  ManifestChecksums out;
  try {
    auto j = nlohmann::json::parse(manifest_json);
    for (const auto& f : j.at("Files")) {
      ++out.listed;
      if (f.value("Checksum-Algorithm", "") != "SHA256") continue;
      out.files[f.at("Path").get<std::string>()] = {f.at("Size").get<std::uint64_t>(), f.at("Checksum").get<std::string>()};
    }
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::archive, fmt::format("backup_manifest is not what pg_basebackup writes: {}", e.what()));
  }
  return out;
}

static ExtractStats extract_tar(const TarInput& tar, const fs::path& dest, const ExtractOptions& o) {
  ExtractStats stats;
  create_private_dirs(dest);
  // This thread parses, hashes and hands each chunk over; the writer thread writes it meanwhile.
  FileWriter writer(o.early_writeback);
  for_each_member(tar, [&](const Member& m, const auto& read) {
    fs::path target = dest / m.name;
    switch (m.type) {
      case '5':
        create_private_dirs(target);
        return;
      case '0': {
        create_private_dirs(target.parent_path());
        int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) fail(ErrorKind::io, fmt::format("could not create \"{}\": {}", target.string(), errno_text(errno)));
        const ManifestChecksums::File* expect = nullptr;
        if (o.checksums) {
          auto it = o.checksums->files.find(o.manifest_prefix + m.name);
          if (it != o.checksums->files.end()) expect = &it->second;
        }
        std::optional<Sha256> hash;
        if (expect) hash.emplace();
        std::uint64_t left = m.size;
        bool last = false;
        while (!last) {
          std::vector<char> buf;
          try {
            buf = writer.acquire();
          } catch (...) {
            ::close(fd);  // not handed over yet
            throw;
          }
          std::size_t n = read(buf.data(), buf.size());
          left -= n;
          last = left == 0 || n == 0;
          if (hash) hash->update(std::string_view(buf.data(), n));
          writer.write(fd, target, std::move(buf), n, last);  // the writer closes fd after the last
          stats.bytes += n;
          if (o.progress) o.progress->fetch_add(static_cast<std::int64_t>(n));
        }
        if (expect) {
          std::string sum = hash->hex();
          if (m.size != expect->size || sum != expect->sha256) {
            fail(ErrorKind::archive,
                 fmt::format("\"{}\": file \"{}\" does not match pg_basebackup's backup_manifest ({} bytes, SHA-256 "
                             "{}; the manifest says {} bytes, {})",
                             tar.name, o.manifest_prefix + m.name, m.size, sum, expect->size, expect->sha256));
          }
          ++o.checksums->verified;
        }
        ++stats.files;
        return;
      }
      case '2':
        fail(ErrorKind::archive,
             fmt::format("\"{}\" holds a symbolic link \"{}\", which pg_basebackup's tar format does not write "
                         "(tablespaces are their own tar files)",
                         tar.name, m.name));
      default:
        fail(ErrorKind::archive,
             fmt::format("\"{}\": member \"{}\" has unsupported type '{}'", tar.name, m.name, m.type));
    }
  }, /*ahead=*/true);
  writer.finish();
  return stats;
}

std::string read_tar_member(const fs::path& tar, std::string_view member, std::uint64_t max_bytes) {
  return read_tar_member(local_tar(tar), member, max_bytes);
}

std::string read_tar_member(const storage::Storage& s, const std::string& key, std::string_view member, std::uint64_t max_bytes) {
  return read_tar_member(stored_tar(s, key), member, max_bytes);
}

ExtractStats extract_tar(const fs::path& tar, const fs::path& dest, std::atomic<std::int64_t>* progress) {
  ExtractOptions o;
  o.progress = progress;
  return extract_tar(local_tar(tar), dest, o);
}

ExtractStats extract_tar(const storage::Storage& s, const std::string& key, const fs::path& dest,
                         std::atomic<std::int64_t>* progress) {
  ExtractOptions o;
  o.progress = progress;
  return extract_tar(stored_tar(s, key), dest, o);
}

ExtractStats extract_tar(const fs::path& tar, const fs::path& dest, const ExtractOptions& options) {
  return extract_tar(local_tar(tar), dest, options);
}

ExtractStats extract_tar(const storage::Storage& s, const std::string& key, const fs::path& dest,
                         const ExtractOptions& options) {
  return extract_tar(stored_tar(s, key), dest, options);
}

void read_physical_facts(const Repository& repo, const std::vector<BackupInfo>& backups,
                         std::map<std::string, PhysicalInfo>& physical,
                         std::map<std::string, std::vector<WalArchive::Entry>>& wal_files) {
  for (const auto& b : backups) {
    if (b.kind != "physical") continue;
    auto info = physical_info(repo.read_manifest(b));
    if (!wal_files.count(info.wal_cluster)) wal_files[info.wal_cluster] = WalArchive(repo.storage_ptr(), info.wal_cluster).list();
    physical[b.id] = std::move(info);
  }
}

}  // namespace pgr::repository
