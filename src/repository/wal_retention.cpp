#include "repository/wal_retention.hpp"

namespace pgr::repository {

std::optional<WalDeletion> wal_deletion(const PhysicalInfo& oldest, const std::vector<WalArchive::Entry>& files) {
  WalDeletion d;
  d.cluster = oldest.wal_cluster;
  d.seg_size = oldest.wal_segment_size;
  d.before_segno = segment_number(parse_lsn(oldest.start_lsn), d.seg_size);
  d.first_kept = segment_name(oldest.timeline, d.before_segno, d.seg_size);
  for (const auto& e : files) {
    std::uint32_t tli = 0;
    std::uint64_t n = 0;
    if (e.kind != WalFileKind::history && parse_segment_name(e.name, d.seg_size, tli, n) &&
        n < d.before_segno) {
      ++d.files;
      d.bytes += e.stored_bytes;
    }
  }
  if (d.files == 0) return std::nullopt;
  return d;
}

std::vector<std::string> delete_wal(const Repository& repo, const WalDeletion& deletion) {
  WalArchive archive(repo.storage_ptr(), deletion.cluster);
  return archive.remove_before(deletion.before_segno, deletion.seg_size);
}

}  // namespace pgr::repository
