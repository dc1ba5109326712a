// Copying a complete backup from one repository to another (a policy with several repositories):
// every file streamed through storage (bounded memory), read back from the copy and checked
// against the manifest, and the manifest written last, so a half copy is never listed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "repository/repository.hpp"

namespace pgr::repository {

struct CopyResult {
  std::size_t files = 0;          // files of the backup
  std::size_t reused = 0;         // already in the target with the manifest's size and SHA-256 (a resumed copy)
  std::uint64_t bytes_copied = 0; // bytes streamed this time
  bool already_complete = false;  // the target already held the backup, intact
  BackupInfo copy;                // the backup in the target
};

// Copies backup `b` of `from` into `to`. A complete copy already in `to` is checked and kept when
// intact (an apply resumed after the copy landed); a damaged or partial one is replaced file by
// file. Throws Error(io) naming the file when a read-back does not match the manifest (nothing is
// listed then), Error(cancelled) when *cancel becomes true. `progress` (optional) gets the bytes
// streamed so far.
CopyResult copy_backup(const Repository& from, const BackupInfo& b, const Repository& to, const std::atomic<bool>* cancel = nullptr,
                       const std::function<void(std::uint64_t)>& progress = {});

}  // namespace pgr::repository
