// The POSIX driver: a repository in a local folder. Objects are files (0600) in folders (0700)
// under the root. A write goes to a temporary ".NAME.tmp.RANDOM" in the same folder, is fsynced
// and renamed into place (linked, for an exclusive write, so an existing file is never
// replaced), and the folder is fsynced (pgBackRest's storage/posix/write.c). Staging folders are
// ".partial-NAME" beside their final folder and are committed by one rename; folders are removed
// by renaming them to a hidden name first, so a listing never sees half of one.
#pragma once

#include <filesystem>
#include <string>

#include "storage/storage.hpp"

namespace pgr::storage {

class PosixStorage final : public Storage {
 public:
  // `root` must be absolute; created (0700) when absent and `create`. `name` is for messages.
  PosixStorage(fs::path root, std::string name, bool create);

  using Storage::describe;
  std::string describe() const override { return root_.string(); }
  std::unique_ptr<Writer> create(const std::string& key, const WriteOptions& options) override;
  std::unique_ptr<Reader> open(const std::string& key, std::uint64_t offset,
                               std::optional<std::uint64_t> length) const override;
  std::optional<ObjectInfo> stat(const std::string& key) const override;
  std::vector<ObjectInfo> list(const std::string& prefix) const override;
  void remove(const std::string& key) override;
  void remove_all(const std::string& prefix) override;
  std::unique_ptr<Staging> stage(const std::string& prefix) override;
  std::vector<std::string> stale_staging(const std::string& parent) const override;
  void clean_stale_staging(const std::string& parent) override;

  const fs::path& root() const { return root_; }

 private:
  fs::path path_of(const std::string& key) const;
  fs::path root_;
  std::string name_;
};

}  // namespace pgr::storage
