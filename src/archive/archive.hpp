// Reader for pg_dump archives (directory -Fd, custom -Fc, tar -Ft) written by PostgreSQL 12 to 17
// (archive versions 1.12 to 1.16): the header, every TOC entry with its dependencies, and data
// streams (TABLE DATA rows, large objects) with bounded memory whatever the compression.
//
// Archives are hostile input: every length is bounded by the bytes that remain before it is
// allocated, data file names are checked to stay inside the archive folder, and every failure is
// a pgr::Error(ErrorKind::archive) naming the file, the entry and the byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgr::archive {

enum class Format { directory, custom, tar };
enum class Compression { none, gzip, lz4, zstd };
enum class Section { none, pre_data, data, post_data };  // SECTION_NONE, SECTION_PRE_DATA, ...

const char* to_string(Format f) noexcept;       // "directory", "custom", "tar"
const char* to_string(Compression c) noexcept;  // "none", "gzip", "lz4", "zstd"
const char* to_string(Section s) noexcept;      // "none", "pre-data", "data", "post-data"

struct Header {
  int version_major = 0, version_minor = 0, version_rev = 0;
  int int_size = 0, offset_size = 0;
  Format format = Format::custom;
  Compression compression = Compression::none;
  int compression_level = 0;  // -1 (Z_DEFAULT_COMPRESSION) when pg_dump used the default
  std::string created_at;     // ISO-8601, as recorded (local time of the dumping machine)
  std::string database, server_version, dump_version;
};

struct DataLocation {
  enum class Kind { none, file, offset } kind = Kind::none;
  std::string file;          // directory/tar: member name as recorded in the TOC ("1234.dat.gz")
  std::int64_t offset = -1;  // custom: offset of the data block in the file (-1: not recorded)
  std::int64_t bytes = -1;   // size as stored (compressed), -1 unknown
  // The rows come in COPY's binary format, not text: a live source's table whose column types
  // allow it (catalog::SourceTable::binary_io). Never for an archive's data.
  bool binary = false;
};

struct TocEntry {
  int id = 0;
  bool had_dumper = false;
  std::string table_oid, oid, tag, desc;
  Section section = Section::none;
  std::string defn, drop_stmt, copy_stmt, namespace_, tablespace, table_am;
  char relkind = 0;  // archive 1.16+; 0 when absent
  std::string owner;
  std::vector<int> dependencies;
  DataLocation data;
};

struct Toc {
  Header header;
  std::vector<TocEntry> entries;
  std::string checksum;  // sha256 hex over the TOC bytes, stable for the same archive
};

// The rows of one TABLE DATA entry, decompressed, exactly as COPY FROM STDIN should receive them
// (what pg_restore would send): no "\.\n" terminator.
class RowReader {
 public:
  virtual ~RowReader() = default;
  // Next COPY text row including its trailing '\n'; false at the end. The "\.\n" terminator is
  // not returned.
  virtual bool next_row(std::string& row) = 0;
  // Raw decompressed bytes, for bulk streaming; returns 0 at the end. Do not mix with next_row()
  // on the same reader.
  virtual size_t read(char* buf, size_t cap) = 0;
  // Once read() returned 0: the rows the source says it sent (a live source's COPY command tag),
  // -1 when only the bytes tell (an archive's rows, counted by their newlines).
  virtual std::int64_t rows_sent() const { return -1; }
};

// Who owns a large object, who may use it, and its comment, as a live source reads them from
// pg_largeobject_metadata (an archive's large objects get theirs from their own BLOB, ACL and
// COMMENT entries instead).
struct LargeObjectGrant {
  std::string grantor, grantee;  // role names; grantee "" is PUBLIC
  std::string privilege;         // SELECT or UPDATE
  bool grantable = false;
  bool operator==(const LargeObjectGrant&) const = default;
};
struct LargeObjectMeta {
  std::string owner;
  bool acl_set = false;                  // lomacl is not NULL: the privileges are exactly `grants`
  std::vector<LargeObjectGrant> grants;  // in the order of lomacl (aclexplode)
  std::optional<std::string> comment;
  bool operator==(const LargeObjectMeta&) const = default;
};

// A large object's contents, streamed.
class BlobStream {
 public:
  virtual ~BlobStream() = default;
  virtual size_t read(char* buf, size_t cap) = 0;  // 0 at the end
  // Its owner, privileges and comment when the source gives them with the contents (a live
  // source); null when they come from other archive entries.
  virtual const LargeObjectMeta* meta() const { return nullptr; }
};

// Where an archive's bytes are read from: a local path (local_files), or anything that can read
// byte ranges of named files, such as a backup repository's storage. Reads are random access so
// that a custom-format archive's data blocks and a tar archive's members are read where they
// are, never copied whole.
class RandomAccess {
 public:
  virtual ~RandomAccess() = default;
  virtual std::int64_t size() const = 0;
  // Up to n bytes at `offset` (n > 0); 0 only at or past the end.
  virtual std::size_t pread(char* buf, std::size_t n, std::int64_t offset) = 0;
};

class Files {
 public:
  virtual ~Files() = default;
  // Whether the archive is a folder of files (directory format); then names are relative paths
  // inside it, already checked with safe_member_name. Otherwise the archive is one file, "".
  virtual bool is_folder() const = 0;
  // Size of a regular file; nullopt when absent. Throws Error(archive) for anything but a
  // regular file (symlinks are refused).
  virtual std::optional<std::int64_t> size(const std::string& name) const = 0;
  virtual std::unique_ptr<RandomAccess> open(const std::string& name) const = 0;
  // For messages: the path or location of `name` ("" the archive itself).
  virtual std::string origin(const std::string& name) const = 0;
};

// The archive at a local path (a folder or a file). Throws Error(archive) when nothing is there.
std::shared_ptr<const Files> local_files(const std::filesystem::path& path);

class Archive {
 public:
  virtual ~Archive() = default;
  // Detects the format: a folder with toc.dat is directory format, a file starting with "PGDMP"
  // is custom format, a file whose first 512 bytes are a tar header is tar format.
  static std::unique_ptr<Archive> open(const std::filesystem::path& path);
  static std::unique_ptr<Archive> open(std::shared_ptr<const Files> files);

  const Toc& toc() const { return toc_; }
  const TocEntry* find(int id) const;
  // TABLE DATA (and SEQUENCE SET-less data entries with a COPY statement). Usable concurrently
  // from several threads, each with its own reader.
  virtual std::unique_ptr<RowReader> open_data(const TocEntry& e) const = 0;
  // Tables whose rows can also be read by ranges of heap pages (a live source): the number of
  // pages the table has, or -1 (an archive's rows come in one stream). open_data_pages reads the
  // rows in pages [first, end); end < 0: to the end of the table, whatever its size then.
  virtual std::int64_t data_pages(const TocEntry&) const { return -1; }
  virtual std::unique_ptr<RowReader> open_data_pages(const TocEntry& e, std::int64_t first, std::int64_t end) const;
  // BLOBS / LARGE OBJECTS data entries: calls fn(oid, stream) for each large object in the
  // entry, in archive order. The stream is only valid during the call.
  virtual void for_each_blob(const TocEntry& e,
                             const std::function<void(std::uint32_t oid, BlobStream& data)>& fn) const = 0;
  // Where it is, for messages: a path or a repository location.
  std::filesystem::path path() const { return path_; }
  const Files& files() const { return *files_; }
  // Writes a local archive at `dest` that holds only the header and TOC (a folder with toc.dat
  // for directory and tar archives, the file's leading bytes for custom ones): what
  // `pg_restore --schema-only` reads, without downloading any data. Returns the path to give it.
  std::filesystem::path write_toc_only_copy(const std::filesystem::path& dest) const;

 protected:
  Archive(std::shared_ptr<const Files> files, Toc toc);
  std::shared_ptr<const Files> files_;
  std::filesystem::path path_;
  Toc toc_;
  // What write_toc_only_copy copies: the first toc_copy_bytes_ bytes of file toc_file_.
  std::string toc_file_;
  std::int64_t toc_copy_bytes_ = 0;
};

// Parses a header + TOC from memory: toc.dat of a directory archive, the start of a custom
// archive, or toc.dat inside a tar archive. `origin` names the source in error messages. Throws
// pgr::Error(archive) with the byte offset on anything malformed. (The fuzz target's entry point.)
Toc parse_toc(std::string_view bytes, Format format, const std::string& origin);

// Whether `pg_restore -l` lists the entry (with no options): every entry except the ones it treats
// specially (ENCODING, STDSTRINGS, SEARCHPATH) and DATABASE / DATABASE PROPERTIES, which it only
// restores with --create.
bool listed_by_pg_restore(const TocEntry& e);

// Whether a data file name recorded in a TOC is safe to open under the archive folder: relative,
// no "..", no empty components, no NUL. Entries failing this are refused, never opened.
bool safe_member_name(std::string_view name);

}  // namespace pgr::archive
