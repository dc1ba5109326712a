// Files and folders, crash-safe. Whole-file writes go to a temp file in the same folder, are
// fsynced, renamed over the target, and the folder is fsynced (pgBackRest's posix write.c).
// AtomicFile removes its temp file unless commit() was called (ccache's atomicfile.cpp).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace pgr {

namespace fs = std::filesystem;

class AtomicFile {
 public:
  explicit AtomicFile(fs::path target, mode_t mode = 0600);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view data);
  // fsync the temp file, rename it over the target, fsync the folder.
  void commit();
  const fs::path& target() const { return target_; }

 private:
  fs::path target_;
  fs::path temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes the whole file atomically (AtomicFile), mode 0600 unless told otherwise.
void write_file_atomic(const fs::path& path, std::string_view content, mode_t mode = 0600);
std::string read_file(const fs::path& path);  // throws io Error naming the file

// mkdir -p with mode 0700 for every folder it creates (existing ones are left alone).
void create_private_dirs(const fs::path& path);
void fsync_dir(const fs::path& dir);
void fsync_file(const fs::path& file);
// fsync of every file and folder below `dir` (and `dir`), deepest folders last; links are not
// followed. For a freshly written tree before it is recorded as complete.
void fsync_extracted(const fs::path& dir);

// A temporary folder (mkdtemp, 0700) removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "pgrecover-", const fs::path& base = {});
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  fs::path path_;
  bool keep_ = false;
};

std::string errno_text(int err);
// The device (st_dev) of a path, or of its nearest existing ancestor; nullopt when none exists.
std::optional<dev_t> device_of(fs::path p);
// A folder that does not exist or holds nothing.
bool empty_or_absent(const fs::path& dir);

// An exclusive, non-blocking flock held for the life of the object; the holder's pid is written
// into the file so that the error can name it. Throws Error(locked) when taken.
class FileLock {
 public:
  FileLock(const std::filesystem::path& file, const std::string& what);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace pgr
