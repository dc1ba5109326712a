#include "repository/wal_view.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>

#include "util/time.hpp"

namespace pgr::repository {

Continuity StoredWalArchives::continuity(const std::string& cluster, std::uint32_t start_timeline, std::uint64_t start_lsn,
                                         std::optional<std::uint64_t> end_lsn, const std::string& timeline,
                                         std::uint64_t seg_size) {
  WalArchive archive(storage_, cluster);
  return check_continuity(archive, start_timeline, start_lsn, end_lsn, timeline, seg_size);
}

std::string StoredWalArchives::archived_at(const std::string& cluster, const std::string& name) {
  WalArchive archive(storage_, cluster);
  auto e = classify_wal_name(name) ? archive.find(name) : std::nullopt;
  if (!e || e->stored_at <= 0) return "";
  return format_iso8601(std::chrono::system_clock::from_time_t(static_cast<std::time_t>(e->stored_at)));
}

std::vector<std::string> unarchived_wal(const WalArchive& archive, const std::filesystem::path& pg_wal) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(pg_wal, ec)) return out;
  std::string last_written;
  struct timespec newest {};
  for (const auto& e : fs::directory_iterator(pg_wal)) {
    std::string name = e.path().filename().string();
    struct stat st {};
    if (classify_wal_name(name) != WalFileKind::segment || ::stat(e.path().c_str(), &st) != 0) continue;
    if (st.st_mtim.tv_sec > newest.tv_sec || (st.st_mtim.tv_sec == newest.tv_sec && st.st_mtim.tv_nsec > newest.tv_nsec)) {
      newest = st.st_mtim;
      last_written = name;
    }
  }
  for (const auto& e : fs::directory_iterator(pg_wal)) {
    std::string name = e.path().filename().string();
    auto kind = classify_wal_name(name);
    if (!e.is_regular_file() || !kind || (*kind != WalFileKind::segment && *kind != WalFileKind::history)) continue;
    // Same timeline and a later segment number: a later name (names sort by timeline, then segment).
    if (*kind == WalFileKind::segment && name.substr(0, 8) == last_written.substr(0, 8) && name > last_written) continue;
    if (!archive.find(name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pgr::repository
