// The one storage interface under the repository (STYLE.md 16): every byte of a repository is
// written, read, listed and deleted through a Storage, whichever driver holds it (posix/ today,
// object stores later). Nothing above repository/ knows which driver it talks to.
//
// Keys are '/'-separated paths relative to the repository's root: "backups/nightly/ID/data.dump",
// "wal/prod/000000010000000000000001". Every component is non-empty, never "." or "..", never
// starts with '.', and has no NUL (check_key): names starting with '.' are the drivers' own
// (temporary files, staging folders, locks) and are never listed.
//
// Object stores have no rename, so the model is the object store's: a write becomes visible
// whole or not at all when it is committed; there is no "move". A set of files written by an
// outside program (pg_dump, pg_basebackup) is staged in a local folder and committed file by file
// (a driver may do that by one rename, as posix/ does); the caller then writes the object that
// makes the set count (the repository's manifest) last.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace pgr::storage {

namespace fs = std::filesystem;

// Throws pgr::Error(internal) for a key that breaks the rules above.
void check_key(std::string_view key);
bool valid_key(std::string_view key);

// An object that cannot be read with the keys the repository is configured with: written with
// another key, stored in clear in an encrypted repository, or encrypted in one without a key.
// The repository's settings are wrong, not the object: kind input, and the message names the
// key ids involved (never a key).
class KeyError : public Error {
 public:
  KeyError(std::string message, std::string hint) : Error(ErrorKind::input, std::move(message), std::move(hint)) {}
};

struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  double modified = 0;  // when it was last written, seconds since the epoch (0: unknown)
  bool operator==(const ObjectInfo&) const = default;
};

// A streaming read of one object (or a byte range of it). read() returns 0 at the end; a
// short object (fewer bytes than asked for by the range) is an Error(io) naming the key.
class Reader {
 public:
  virtual ~Reader() = default;
  virtual std::size_t read(char* buf, std::size_t cap) = 0;
};

// A streaming write of one object. Nothing is visible under the key before commit(); a Writer
// destroyed without commit() leaves no trace. commit() returns false only for an exclusive write
// whose key already existed (then nothing was changed).
class Writer {
 public:
  virtual ~Writer() = default;
  virtual void write(const char* data, std::size_t n) = 0;
  void write(std::string_view s) { write(s.data(), s.size()); }
  virtual bool commit() = 0;
};

struct WriteOptions {
  bool exclusive = false;  // never replace an existing object (WAL archive)
};

// A local folder whose files become objects under a prefix. Programs write into dir(); commit()
// stores every regular file under it as prefix/<relative path> (durably) and empties the folder.
// Destroying an uncommitted Staging removes the folder and everything in it.
class Staging {
 public:
  virtual ~Staging() = default;
  virtual const fs::path& dir() const = 0;
  virtual void commit() = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Where the bytes live, for messages and reports: "/srv/backups" or "s3://bucket/prefix".
  // Never holds a credential.
  virtual std::string describe() const = 0;
  // The id of the key every object is encrypted with (crypto/keys.hpp); empty: stored in clear.
  virtual std::string encryption_key_id() const { return {}; }
  std::string describe(std::string_view key) const;  // describe() + "/" + key

  virtual std::unique_ptr<Writer> create(const std::string& key, const WriteOptions& options = {}) = 0;
  // The object from `offset`, `length` bytes (nullopt: to the end). Throws Error(io) naming the
  // key when it does not exist.
  virtual std::unique_ptr<Reader> open(const std::string& key, std::uint64_t offset = 0,
                                       std::optional<std::uint64_t> length = std::nullopt) const = 0;
  virtual std::optional<ObjectInfo> stat(const std::string& key) const = 0;
  // Every object whose key starts with `prefix` (a folder prefix ends with '/'), sorted by key.
  virtual std::vector<ObjectInfo> list(const std::string& prefix) const = 0;
  // Removing an absent object is not an error.
  virtual void remove(const std::string& key) = 0;
  // Removes every object under `prefix` (a folder prefix ending with '/').
  virtual void remove_all(const std::string& prefix);

  // A staging folder for `prefix` (a folder prefix ending with '/').
  virtual std::unique_ptr<Staging> stage(const std::string& prefix) = 0;
  // Staging folders of `parent` left by a process that died before it committed or cleaned up;
  // described for messages. clean_stale_staging removes them.
  virtual std::vector<std::string> stale_staging(const std::string& parent) const = 0;
  virtual void clean_stale_staging(const std::string& parent) = 0;
};

// ---- helpers on any driver ---------------------------------------------------------------------

// Writes `data` under `key` in one commit. Returns what commit() returned.
bool put(Storage& s, const std::string& key, std::string_view data, const WriteOptions& options = {});
// Streams a local file into `key`.
bool put_file(Storage& s, const std::string& key, const fs::path& file, const WriteOptions& options = {});
// The whole object, refusing objects larger than max_bytes (Error(io)); nullopt when absent.
std::optional<std::string> get(const Storage& s, const std::string& key, std::uint64_t max_bytes = 64u << 20);
// Streams the object into a local file (0600), replacing it atomically.
void get_file(const Storage& s, const std::string& key, const fs::path& dest);
// SHA-256 (lower-case hex) of the object's bytes, streamed; its size through *size.
std::string sha256(const Storage& s, const std::string& key, std::uint64_t* size = nullptr);

// A Staging that stages in a local temporary folder under `base` and commits by streaming every
// file through s.create() (drivers without a cheaper way, and filters such as encryption).
std::unique_ptr<Staging> copy_staging(Storage& s, const std::string& prefix, const fs::path& base);

// What a repository's settings say about where it lives.
struct Location {
  std::string type = "posix";  // posix | s3
  fs::path path;               // posix: the absolute root folder
  // s3: the bucket at an S3-compatible endpoint, keys under `prefix`.
  std::string endpoint;        // "https://s3.eu-central-1.amazonaws.com", "http://127.0.0.1:9000"
  std::string bucket, prefix, region;
  std::string uri_style = "host";  // host (bucket.endpoint/key) | path (endpoint/bucket/key)
  std::string access_key, secret_key;  // the credentials themselves: never printed, never in argv
  bool tls_verify = true;
  fs::path ca_file;            // extra CA bundle for the endpoint's certificate (optional)
  fs::path staging_dir;        // where backups are staged before upload; empty: $TMPDIR or /tmp
  // For messages: where these settings come from, e.g. `pgrecover.toml [repositories.offsite]`.
  std::string origin;
};

// Opens the driver for a location; `create` makes a posix root folder (0700) when absent.
// `name` (the settings name) appears in errors.
std::shared_ptr<Storage> open(const Location& location, const std::string& name, bool create);
// A POSIX location rooted at `root`.
inline Location posix_location(const fs::path& root) {
  Location l;
  l.type = "posix";
  l.path = root;
  return l;
}

}  // namespace pgr::storage
