#include "repository/restore_points.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "repository/wal_archive.hpp"
#include "storage/storage.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pgr::repository {

namespace {

// The key prefix of a cluster's restore points; validates the cluster name like the WAL archive.
std::string folder(const std::string& cluster) {
  check_cluster_name(cluster);
  return "restore_points/" + cluster + "/";
}

RestorePoint from_json(const nlohmann::json& j) {
  RestorePoint p;
  p.name = j.at("name").get<std::string>();
  p.cluster = j.at("cluster").get<std::string>();
  p.policy = j.value("policy", "");
  p.lsn = j.at("lsn").get<std::string>();
  p.timeline = j.at("timeline").get<std::uint32_t>();
  p.segment = j.at("segment").get<std::string>();
  p.created_at = j.at("created_at").get<std::string>();
  check_restore_point_name(p.name);
  parse_lsn(p.lsn);
  return p;
}

}  // namespace

bool valid_restore_point_name(std::string_view n) {
  return !n.empty() && n.size() <= 63 && n[0] != '.' && std::all_of(n.begin(), n.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
         });
}

void check_restore_point_name(std::string_view name) {
  if (!valid_restore_point_name(name)) {
    fail(ErrorKind::input, fmt::format("invalid restore point name \"{}\"", name),
         "a restore point name uses letters, digits, '.', '_' and '-', does not start with '.', and has at most 63 "
         "characters");
  }
}

std::vector<RestorePoint> list_restore_points(const storage::Storage& repo, const std::string& cluster) {
  std::vector<RestorePoint> out;
  const std::string prefix = folder(cluster);
  for (const auto& o : repo.list(prefix)) {
    std::string file = o.key.substr(prefix.size());
    if (file.find('/') != std::string::npos || file.size() < 6 || file.substr(file.size() - 5) != ".json" ||
        !valid_restore_point_name(file.substr(0, file.size() - 5))) {
      continue;  // anything foreign
    }
    try {
      auto text = storage::get(repo, o.key, 1 << 20);
      if (!text) continue;  // removed while listing
      auto p = from_json(nlohmann::json::parse(*text));
      if (p.name + ".json" == file && p.cluster == cluster) out.push_back(std::move(p));
    } catch (const std::exception& x) {
      log::warn("ignoring the unreadable restore point {}: {}", repo.describe(o.key), x.what());
    }
  }
  std::sort(out.begin(), out.end(), [](const RestorePoint& a, const RestorePoint& b) {
    return parse_lsn(a.lsn) < parse_lsn(b.lsn) || (a.lsn == b.lsn && a.name < b.name);
  });
  return out;
}

std::optional<RestorePoint> find_restore_point(const storage::Storage& repo, const std::string& cluster,
                                               std::string_view name) {
  for (auto& p : list_restore_points(repo, cluster))
    if (p.name == name) return p;
  return std::nullopt;
}

void record_restore_point(storage::Storage& repo, const RestorePoint& p) {
  check_restore_point_name(p.name);
  const std::string prefix = folder(p.cluster);
  if (find_restore_point(repo, p.cluster, p.name)) {
    fail(ErrorKind::input, fmt::format("restore point \"{}\" is already recorded for cluster \"{}\"", p.name, p.cluster),
         "choose another name: recovery to a name stops at the first restore point of that name");
  }
  nlohmann::json j = {{"name", p.name},         {"cluster", p.cluster},   {"policy", p.policy},
                      {"lsn", p.lsn},           {"timeline", p.timeline}, {"segment", p.segment},
                      {"created_at", p.created_at}};
  storage::put(repo, prefix + p.name + ".json", j.dump(2) + "\n");
}

namespace {
std::shared_ptr<storage::Storage> posix(const std::filesystem::path& root) {
  return storage::open(storage::posix_location(root), root.string(), false);
}
}  // namespace

std::vector<RestorePoint> list_restore_points(const std::filesystem::path& root, const std::string& cluster) {
  return list_restore_points(*posix(root), cluster);
}

std::optional<RestorePoint> find_restore_point(const std::filesystem::path& root, const std::string& cluster,
                                               std::string_view name) {
  return find_restore_point(*posix(root), cluster, name);
}

void record_restore_point(const std::filesystem::path& root, const RestorePoint& p) {
  record_restore_point(*posix(root), p);
}

}  // namespace pgr::repository
