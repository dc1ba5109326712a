#include "repository/cluster_manifest.hpp"

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::repository {

std::int64_t ClusterDatabase::rows() const {
  std::int64_t n = 0;
  for (const auto& [t, r] : row_counts) n += r;
  return n;
}

bool is_cluster_backup(const Manifest& m) { return m.extra.is_object() && m.extra.value("cluster", false); }

namespace {

bool inside(const std::string& p) {
  return !p.empty() && p.front() != '/' && p.find("..") == std::string::npos && p.find('\\') == std::string::npos;
}

}  // namespace

std::vector<ClusterDatabase> cluster_databases(const Manifest& m) {
  std::vector<ClusterDatabase> out;
  if (!is_cluster_backup(m)) return out;
  try {
    for (const auto& j : m.extra.at("databases")) {
      ClusterDatabase d;
      d.name = j.at("name").get<std::string>();
      d.dir = j.at("dir").get<std::string>();
      d.data = j.at("data").get<std::string>();
      d.owner = j.value("owner", "");
      d.encoding = j.value("encoding", "");
      d.collate = j.value("collate", "");
      d.ctype = j.value("ctype", "");
      d.bytes = j.value("bytes", std::uint64_t{0});
      d.files = j.value("files", std::vector<std::string>{});
      d.row_counts = j.value("row_counts", std::map<std::string, std::int64_t>{});
      for (const auto& p : std::vector<std::string>{d.dir, d.data})
        if (!inside(p) || p.rfind("databases/", 0) != 0) fail(ErrorKind::input, fmt::format("database \"{}\": path \"{}\" is outside the backup's databases/ folder", d.name, p));
      out.push_back(std::move(d));
    }
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::input, fmt::format("manifest of backup {}: malformed databases: {}", m.id, e.what()));
  }
  return out;
}

void set_cluster_databases(Manifest& m, const std::vector<ClusterDatabase>& databases) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& d : databases) {
    arr.push_back({{"name", d.name}, {"dir", d.dir}, {"data", d.data}, {"owner", d.owner}, {"encoding", d.encoding},
                   {"collate", d.collate}, {"ctype", d.ctype}, {"bytes", d.bytes}, {"files", d.files},
                   {"row_counts", d.row_counts}});
  }
  m.extra["cluster"] = true;
  m.extra["databases"] = arr;
}

std::string cluster_database_dir(std::size_t index, const std::string& name) {
  std::string safe;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    safe += ok ? c : '_';
    if (safe.size() >= 40) break;
  }
  return fmt::format("databases/{:02}-{}", index + 1, safe);
}

}  // namespace pgr::repository
