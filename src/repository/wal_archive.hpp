// The WAL archive of one cluster: <repository>/wal/<cluster>/. Fed by `pgrecover wal push`
// (archive_command), read by `pgrecover wal fetch` (restore_command) and by PITR planning.
//
// File names come from PostgreSQL (%f / %p) and are never trusted as paths: only the four shapes
// PostgreSQL archives are accepted (24-hex segments, NNNNNNNN.history, SEGMENT.OFFSET.backup,
// SEGMENT.partial). A file is stored under its name, plus ".gz" or ".zst" when compressed, through
// the repository's storage as an exclusive write: never overwriting, durable when push returns
// (on POSIX: a temporary name, fsync, link, fsync of the folder; pgBackRest's archive-push). Pushing the same content again succeeds
// (PostgreSQL retries after a crash); different content under the same name is refused, because
// it means two clusters write into one archive.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/storage.hpp"

namespace pgr::repository {

namespace fs = std::filesystem;

enum class WalFileKind { segment, history, backup_label, partial };
const char* to_string(WalFileKind k) noexcept;

// The kind of an archive file name, or nullopt when it is not one PostgreSQL archives (then it
// must never be used). Only bare names: no '/', upper-case hex as PostgreSQL writes it.
std::optional<WalFileKind> classify_wal_name(std::string_view name);

// WAL positions. "0/3000060" <-> 0x3000060; parse_lsn throws pgr::Error(input) on bad text.
std::uint64_t parse_lsn(std::string_view text);
std::string format_lsn(std::uint64_t lsn);

// Segment names: TTTTTTTTXXXXXXXXYYYYYYYY with 2^32 / seg_size segments per "xlogid".
std::string segment_name(std::uint32_t timeline, std::uint64_t segno, std::uint64_t seg_size);
std::uint64_t segment_number(std::uint64_t lsn, std::uint64_t seg_size);  // the segment holding lsn
// Timeline and segment number of a segment (or .partial / .backup) name; false if not one.
bool parse_segment_name(std::string_view name, std::uint64_t seg_size, std::uint32_t& timeline, std::uint64_t& segno);

enum class WalCompression { none, gzip, zstd };
WalCompression parse_wal_compression(std::string_view text);  // "none", "gzip", "zstd"; throws usage

// One timeline switch from a NNNNNNNN.history file: `parent` ended at `switchpoint`.
struct TimelineSwitch {
  std::uint32_t parent = 0;
  std::uint64_t switchpoint = 0;
};
// Parses a history file's text ("1\t0/3000000\treason" lines; comments and blanks skipped).
std::vector<TimelineSwitch> parse_history(std::string_view text);

// A WAL stream's name is a plain name ([A-Za-z0-9._-], not starting with '.', at most 128
// characters): it is used in keys. Throws pgr::Error(input) otherwise.
void check_cluster_name(std::string_view cluster);

class WalArchive {
 public:
  struct Entry {
    std::string name;         // as PostgreSQL names it
    std::string stored_name;  // name plus ".gz" / ".zst" when compressed
    WalFileKind kind = WalFileKind::segment;
    WalCompression compression = WalCompression::none;
    std::uint64_t stored_bytes = 0;
    double stored_at = 0;  // when it was archived, seconds since the epoch (0: unknown)
  };

  // The archive of `cluster` (keys wal/<cluster>/...) in a repository's storage. The cluster name
  // must be a plain name ([A-Za-z0-9._-], not starting with '.'); throws pgr::Error(input) otherwise.
  WalArchive(std::shared_ptr<storage::Storage> storage, std::string cluster);
  // The same in a repository folder (POSIX driver).
  WalArchive(fs::path repository_root, std::string cluster);

  const std::string& cluster() const { return cluster_; }
  // Where it is, for messages: the location of the archive, or of one stored file in it.
  std::string describe(std::string_view stored_name = {}) const {
    return storage_->describe(stored_name.empty() ? prefix_.substr(0, prefix_.size() - 1) : prefix_ + std::string(stored_name));
  }

  enum class PushResult { stored, already_present };
  // Archives the file at `source` under its own file name. Creates the folders (0700) when
  // needed. Throws pgr::Error(input) for a name PostgreSQL would not archive and pgr::Error(io)
  // when a different file with that name is already archived.
  PushResult push(const fs::path& source, WalCompression compression = WalCompression::none);

  // Writes the archived file `name` (decompressed) to `dest` atomically. False when the archive
  // does not hold it; throws for an invalid name or a damaged file.
  bool fetch(std::string_view name, const fs::path& dest) const;

  std::optional<Entry> find(std::string_view name) const;
  std::vector<Entry> list() const;  // sorted by name; ignores temporary and foreign files
  // The newest segment (highest segment number, then timeline); nullopt for an empty archive.
  std::optional<Entry> newest_segment() const;
  std::string read(const Entry& e) const;           // whole decompressed content (history files)
  std::string content_sha256(const Entry& e) const;  // of the decompressed content

  // Removes segments (and .partial/.backup files) whose segment number is below `segno` on any
  // timeline; history files are kept. Returns the names removed. For retention.
  std::vector<std::string> remove_before(std::uint64_t segno, std::uint64_t seg_size);

 private:
  std::shared_ptr<storage::Storage> storage_;
  std::string cluster_;
  std::string prefix_;  // "wal/<cluster>/"
};

// Is every WAL segment recovery needs there? From the segment holding `start_lsn` on
// `start_timeline` up to the one holding `end_lsn` (when known), following timeline switches
// recorded in the archive's history files towards `timeline` ("latest", "current" or a number).
struct Continuity {
  std::vector<std::string> missing;   // segment names, in order (at most 50 listed)
  std::size_t missing_count = 0;
  std::string first_segment, last_segment;  // the range checked
  std::uint32_t target_timeline = 0;
  std::uint64_t segments_checked = 0;
  bool ok() const { return missing_count == 0; }
};

Continuity check_continuity(const WalArchive& archive, std::uint32_t start_timeline, std::uint64_t start_lsn,
                            std::optional<std::uint64_t> end_lsn, const std::string& timeline,
                            std::uint64_t seg_size);

}  // namespace pgr::repository
