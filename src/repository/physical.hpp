// Physical backups in the repository: what pg_basebackup wrote (base.tar[.gz|.lz4|.zst],
// pg_wal.tar[...], backup_manifest), what our manifest records about them (Manifest::extra), and
// extracting the tar files into a data directory. Member names in the tar files are checked
// before use: never absolute, never "..", never through a link.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"

namespace pgr::repository {

// A tablespace in a physical backup: pg_basebackup's tar format writes each as its own
// <oid>.tar[.gz|...], and base.tar's tablespace_map names where it was.
struct PhysicalTablespace {
  std::string oid;       // digits
  std::string name;      // spcname on the source ("" when it could not be read)
  std::string location;  // absolute: the source's pg_tablespace_location at the backup
  std::string file;      // "16384.tar.gz"
  std::uint64_t bytes = 0;  // its files' size on disk (pg_basebackup's backup_manifest)
  bool operator==(const PhysicalTablespace&) const = default;
};

// The physical part of a manifest (Manifest::extra). LSNs as PostgreSQL prints them.
struct PhysicalInfo {
  std::string wal_cluster;            // the WAL stream (<repo>/wal/<cluster>)
  std::uint32_t timeline = 0;         // of the backup's start
  std::string start_lsn, stop_lsn;    // the WAL range recovery needs to be consistent
  std::string start_time, stop_time;  // ISO-8601 UTC with microseconds, from the server's clock
  double stop_epoch = 0;              // stop_time as seconds since 1970 (for choosing by time)
  std::uint64_t wal_segment_size = 16u << 20;
  std::string superuser;              // the bootstrap superuser (role oid 10)
  std::string base_file, wal_file;    // "base.tar.gz", "pg_wal.tar.gz"
  std::string compression;            // "gzip", "lz4", "zstd", "none"
  std::string next_xid;               // pg_snapshot_xmin at the start: older xids are not reachable
  std::vector<PhysicalTablespace> tablespaces;  // by oid; absent from manifests without any
  bool operator==(const PhysicalInfo&) const = default;
};
nlohmann::json to_extra(const PhysicalInfo& p);
// Throws pgr::Error(input) naming the backup when a field is missing.
PhysicalInfo physical_info(const Manifest& m);

// A physical backup as recovery planning sees it.
struct PhysicalBackup {
  BackupInfo backup;
  PhysicalInfo info;
  std::string manifest_sha256;  // of the manifest as JSON: the plan's fingerprint of the backup
};
// For planning: each physical backup's manifest facts (into `physical`, by backup id) and the
// archived WAL of their clusters (into `wal_files`, by cluster, each cluster listed once).
void read_physical_facts(const Repository& repo, const std::vector<BackupInfo>& backups,
                         std::map<std::string, PhysicalInfo>& physical,
                         std::map<std::string, std::vector<WalArchive::Entry>>& wal_files);

// WAL-Ranges of PostgreSQL's backup_manifest.
struct WalRange {
  std::uint32_t timeline = 0;
  std::uint64_t start = 0, end = 0;
};
std::vector<WalRange> backup_manifest_wal_ranges(std::string_view manifest_json);

// tablespace_map as PostgreSQL writes it ("OID PATH" lines, '\\' escaping '\\', '\n' and
// '\r' in PATH): oid -> path. Throws Error(archive) for a line that is not that.
std::vector<std::pair<std::string, std::string>> parse_tablespace_map(std::string_view text);
// The bytes of the files below pg_tblspc/OID/ in a backup_manifest.
std::uint64_t backup_manifest_tablespace_bytes(std::string_view manifest_json, const std::string& oid);

// "base" -> the file in dir named base.tar, base.tar.gz, base.tar.lz4 or base.tar.zst; empty
// when there is none.
std::string find_tar(const fs::path& dir, std::string_view stem);

// The content of one member of a (possibly compressed) tar file; throws Error(archive) when absent.
std::string read_tar_member(const fs::path& tar, std::string_view member, std::uint64_t max_bytes = 1 << 20);
// The same for a tar file stored in a repository (streamed, never copied whole).
std::string read_tar_member(const storage::Storage& s, const std::string& key, std::string_view member,
                            std::uint64_t max_bytes = 1 << 20);

// The size and SHA-256 of every file pg_basebackup's backup_manifest lists (by its path in the
// data directory), for checking the files while they are extracted.
struct ManifestChecksums {
  struct File {
    std::uint64_t size = 0;
    std::string sha256;  // lower-case hex
  };
  std::unordered_map<std::string, File> files;  // only those with a SHA256 checksum
  std::size_t listed = 0;                       // files in the manifest, with or without one
  std::size_t verified = 0;                     // files extract_tar checked against it
  // Throws Error(archive) when the text is not a backup_manifest.
  static ManifestChecksums parse(std::string_view manifest_json);
  // Every file of the manifest was written by extract_tar and matched its SHA-256.
  bool all_verified() const { return listed > 0 && verified == listed; }
};

struct ExtractOptions {
  std::atomic<std::int64_t>* progress = nullptr;  // counts bytes written
  // When given, every member the manifest lists (at manifest_prefix + its name) is hashed as it
  // is written and must match; a mismatch throws Error(archive) naming the file.
  ManifestChecksums* checksums = nullptr;
  std::string manifest_prefix;  // "" for base.tar, "pg_tblspc/OID/" for a tablespace's tar
  // Start the write-back of each file once written (sync_file_range), so that making the tree
  // durable at the end (util/tree_sync.hpp) finds most of it on disk already.
  bool early_writeback = false;
};

struct ExtractStats {
  std::uint64_t files = 0, bytes = 0;
};
// Extracts the tar file into `dest` (folders 0700, files 0600). Throws Error(archive) for a
// hostile or unsupported member (absolute, "..", links, devices), naming it. The decompression
// runs on a thread of its own (read ahead), the parsing and hashing on the caller's, the writing
// on a third (repository/file_writer.hpp).
ExtractStats extract_tar(const fs::path& tar, const fs::path& dest, std::atomic<std::int64_t>* progress = nullptr);
ExtractStats extract_tar(const storage::Storage& s, const std::string& key, const fs::path& dest,
                         std::atomic<std::int64_t>* progress = nullptr);
ExtractStats extract_tar(const fs::path& tar, const fs::path& dest, const ExtractOptions& options);
ExtractStats extract_tar(const storage::Storage& s, const std::string& key, const fs::path& dest,
                         const ExtractOptions& options);

}  // namespace pgr::repository
