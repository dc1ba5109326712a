// Reading a backup's pg_dump archive and tar files straight from the repository's storage: the
// archive reader gets byte ranges of objects (archive::Files), never a local copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "archive/archive.hpp"
#include "archive/stream.hpp"
#include "repository/repository.hpp"

namespace pgr::repository {

// The archive `data` ("data" for a directory archive, "data.dump", "data.tar") of a backup.
std::shared_ptr<const archive::Files> backup_files(const Repository& repo, const BackupInfo& b, const std::string& data);
std::unique_ptr<archive::Archive> open_backup_archive(const Repository& repo, const BackupInfo& b, const std::string& data);

// An object of the storage as a random-access file: sequential reads continue one streaming read;
// a jump opens a range read at the new offset.
std::unique_ptr<archive::RandomAccess> storage_random_access(std::shared_ptr<const storage::Storage> s, std::string key);

// An object read as an archive byte source (for the decompressors and the tar reader).
std::unique_ptr<archive::detail::Source> storage_source(const storage::Storage& s, const std::string& key);

}  // namespace pgr::repository
