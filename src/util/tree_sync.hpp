// Making a freshly written folder tree durable in one call instead of one fsync per file.
//
// On Linux 5.8 and later, syncfs(2) writes back everything dirty on the file system that holds a
// folder and commits its journal once, and it reports a write-back error that happened on that
// file system since the descriptor it is given was opened. So a TreeSync is opened BEFORE the
// tree is written (its descriptor then witnesses every error of the writing) and sync() is
// called once the tree is complete. On older kernels (where syncfs reports no write-back error)
// and elsewhere, sync() falls back to fsync_extracted: every file and folder, one by one.
#pragma once

#include <filesystem>
#include <string>

namespace pgr {

class TreeSync {
 public:
  // `root` must exist (it is opened now); nothing is written.
  explicit TreeSync(const std::filesystem::path& root);
  ~TreeSync();
  TreeSync(const TreeSync&) = delete;
  TreeSync& operator=(const TreeSync&) = delete;

  // Durable: every file and folder below the root, with their names. Throws Error(io) naming the
  // root when the file system reports a write-back error.
  void sync();
  // "syncfs" or "fsync per file": what sync() does here (for notes and logs).
  const char* method() const;

 private:
  std::filesystem::path root_;
  int fd_ = -1;
  bool syncfs_ = false;
};

// Whether syncfs(2) reports write-back errors on this machine (Linux 5.8 or later).
bool syncfs_reports_errors();

}  // namespace pgr
