#include "engine/verify_backup.hpp"

#include <map>
#include <string>

#include <fmt/format.h>

#include "engine/logical.hpp"
#include "repository/archive_source.hpp"
#include "repository/cluster_manifest.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::engine {

namespace {

// One archive of a backup read end to end, its rows compared with the manifest's counts.
void check_archive(const repository::Repository& repo, const repository::BackupInfo& b, const std::string& data,
                   const std::map<std::string, std::int64_t>& expected, std::int64_t& rows,
                   std::vector<repository::VerifyProblem>& problems) {
  try {
    auto counted = engine::count_archive_rows(*repository::open_backup_archive(repo, b, data));
    for (const auto& [t, n] : counted) {
      rows += n;
      auto it = expected.find(t);
      if (it == expected.end()) problems.push_back({data, fmt::format("table {} is not in the manifest", t)});
      else if (it->second != n) problems.push_back({data, fmt::format("table {} has {} rows, the manifest says {}", t, n, it->second)});
    }
    for (const auto& [t, n] : expected)
      if (!counted.count(t)) problems.push_back({data, fmt::format("table {} of the manifest has no data in the archive", t)});
  } catch (const Error& e) {
    problems.push_back({data, fmt::format("the archive cannot be read: {}", e.what())});
  }
}

}  // namespace

BackupCheck verify_backup(const repository::Repository& repo, const repository::BackupInfo& b) {
  BackupCheck out;
  out.manifest = repo.read_manifest(b);
  const auto& m = out.manifest;
  out.problems = repo.verify_files(b);
  // The archive, read end to end: only when the bytes are the ones the manifest describes.
  std::vector<std::pair<std::string, std::map<std::string, std::int64_t>>> archives;  // data, expected rows
  if (!m.data.empty()) archives.push_back({m.data, m.row_counts});
  for (const auto& d : repository::cluster_databases(m)) archives.push_back({d.data, d.row_counts});
  for (const auto& [data, expected] : archives) {
    if (!out.problems.empty() || m.kind != "logical" || m.format == "plain") break;
    check_archive(repo, b, data, expected, out.rows, out.problems);
  }
  auto v = repo.read_verification(b);
  std::string now = now_iso8601();
  if (out.problems.empty()) {
    v.checked_at = now;
  } else {
    v.last_failure_at = now;
    v.last_failure = fmt::format("verify: {}: {}", out.problems.front().file, out.problems.front().message);
  }
  try {
    repo.write_verification(b, v);
  } catch (const Error& e) {
    log::warn("could not record the verification in the repository: {}", e.what());
  }
  return out;
}

}  // namespace pgr::engine
