// WAL retention: the archived WAL that the retention of base backups makes deletable (every
// segment older than the start of the oldest base backup that is kept), and its deletion.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "repository/physical.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"

namespace pgr::repository {

// WAL that retention makes deletable: every segment older than the start of the oldest base
// backup that is kept. nullopt when nothing is deletable (no kept physical backup, or no older WAL).
struct WalDeletion {
  std::string cluster;
  std::uint64_t before_segno = 0;  // segments with a lower number go
  std::uint64_t seg_size = 0;
  std::string first_kept;          // the oldest segment name that stays
  std::size_t files = 0;           // how many archive files would go now
  std::uint64_t bytes = 0;
};
// Pure: from the oldest base backup that is kept and the listing of its cluster's archive.
std::optional<WalDeletion> wal_deletion(const PhysicalInfo& oldest_kept_backup, const std::vector<WalArchive::Entry>& files);
// Deletes what wal_deletion chose (re-checked at the time of the call). Returns the names removed.
std::vector<std::string> delete_wal(const Repository& repo, const WalDeletion& deletion);

}  // namespace pgr::repository
