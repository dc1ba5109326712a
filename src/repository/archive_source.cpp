#include "repository/archive_source.hpp"

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::repository {

namespace {

class StorageFile final : public archive::RandomAccess {
 public:
  StorageFile(std::shared_ptr<const storage::Storage> s, std::string key) : s_(std::move(s)), key_(std::move(key)) {
    auto info = s_->stat(key_);
    if (!info) fail(ErrorKind::archive, fmt::format("\"{}\" does not exist", s_->describe(key_)));
    size_ = static_cast<std::int64_t>(info->size);
  }
  std::int64_t size() const override { return size_; }
  std::size_t pread(char* buf, std::size_t n, std::int64_t offset) override {
    if (offset >= size_ || n == 0) return 0;
    if (!reader_ || offset != pos_) {
      reader_ = s_->open(key_, static_cast<std::uint64_t>(offset));
      pos_ = offset;
    }
    std::size_t got = reader_->read(buf, n);
    if (got == 0) fail(ErrorKind::archive, fmt::format("\"{}\" ended at byte {} of {}", s_->describe(key_), pos_, size_));
    pos_ += static_cast<std::int64_t>(got);
    return got;
  }

 private:
  std::shared_ptr<const storage::Storage> s_;
  std::string key_;
  std::int64_t size_ = 0, pos_ = 0;
  std::unique_ptr<storage::Reader> reader_;
};

class BackupFiles final : public archive::Files {
 public:
  BackupFiles(std::shared_ptr<const storage::Storage> s, std::string key, bool folder)
      : s_(std::move(s)), key_(std::move(key)), folder_(folder) {}
  bool is_folder() const override { return folder_; }
  std::optional<std::int64_t> size(const std::string& name) const override {
    auto info = s_->stat(key_of(name));
    if (!info) return std::nullopt;
    return static_cast<std::int64_t>(info->size);
  }
  std::unique_ptr<archive::RandomAccess> open(const std::string& name) const override {
    return storage_random_access(s_, key_of(name));
  }
  std::string origin(const std::string& name) const override { return s_->describe(key_of(name)); }

 private:
  std::string key_of(const std::string& name) const {
    if (name.empty()) return key_;
    if (!archive::safe_member_name(name) || !storage::valid_key(key_ + "/" + name)) {
      fail(ErrorKind::archive, fmt::format("\"{}\": unsafe member name \"{}\"", s_->describe(key_), name));
    }
    return key_ + "/" + name;
  }
  std::shared_ptr<const storage::Storage> s_;
  std::string key_;
  bool folder_;
};

class StorageSource final : public archive::detail::Source {
 public:
  explicit StorageSource(std::unique_ptr<storage::Reader> r) : r_(std::move(r)) {}
  std::size_t read(char* buf, std::size_t cap) override { return r_->read(buf, cap); }

 private:
  std::unique_ptr<storage::Reader> r_;
};

}  // namespace

std::unique_ptr<archive::RandomAccess> storage_random_access(std::shared_ptr<const storage::Storage> s, std::string key) {
  return std::make_unique<StorageFile>(std::move(s), std::move(key));
}

std::shared_ptr<const archive::Files> backup_files(const Repository& repo, const BackupInfo& b, const std::string& data) {
  std::string key = Repository::file_key(b, data);
  bool folder = !repo.storage().stat(key).has_value();
  return std::make_shared<BackupFiles>(repo.storage_ptr(), key, folder);
}

std::unique_ptr<archive::Archive> open_backup_archive(const Repository& repo, const BackupInfo& b, const std::string& data) {
  return archive::Archive::open(backup_files(repo, b, data));
}

std::unique_ptr<archive::detail::Source> storage_source(const storage::Storage& s, const std::string& key) {
  return std::make_unique<StorageSource>(s.open(key));
}

}  // namespace pgr::repository
