#include "repository/restore_points.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "repository/wal_archive.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pgr::repository {

namespace {

std::filesystem::path folder(const std::filesystem::path& root, const std::string& cluster) {
  WalArchive check(root, cluster);  // validates the cluster name
  return root / "restore_points" / cluster;
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

std::vector<RestorePoint> list_restore_points(const std::filesystem::path& root, const std::string& cluster) {
  std::vector<RestorePoint> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(folder(root, cluster), ec)) {
    std::string file = e.path().filename().string();
    if (file.size() < 6 || file.substr(file.size() - 5) != ".json" || !valid_restore_point_name(file.substr(0, file.size() - 5))) {
      continue;  // temporary files and anything foreign
    }
    try {
      auto p = from_json(nlohmann::json::parse(read_file(e.path())));
      if (p.name + ".json" == file && p.cluster == cluster) out.push_back(std::move(p));
    } catch (const std::exception& x) {
      log::warn("ignoring the unreadable restore point file {}: {}", e.path().string(), x.what());
    }
  }
  std::sort(out.begin(), out.end(), [](const RestorePoint& a, const RestorePoint& b) {
    return parse_lsn(a.lsn) < parse_lsn(b.lsn) || (a.lsn == b.lsn && a.name < b.name);
  });
  return out;
}

std::optional<RestorePoint> find_restore_point(const std::filesystem::path& root, const std::string& cluster,
                                               std::string_view name) {
  for (auto& p : list_restore_points(root, cluster))
    if (p.name == name) return p;
  return std::nullopt;
}

void record_restore_point(const std::filesystem::path& root, const RestorePoint& p) {
  check_restore_point_name(p.name);
  auto dir = folder(root, p.cluster);
  if (find_restore_point(root, p.cluster, p.name)) {
    fail(ErrorKind::input, fmt::format("restore point \"{}\" is already recorded for cluster \"{}\"", p.name, p.cluster),
         "choose another name: recovery to a name stops at the first restore point of that name");
  }
  create_private_dirs(dir);
  nlohmann::json j = {{"name", p.name},         {"cluster", p.cluster},   {"policy", p.policy},
                      {"lsn", p.lsn},           {"timeline", p.timeline}, {"segment", p.segment},
                      {"created_at", p.created_at}};
  write_file_atomic(dir / (p.name + ".json"), j.dump(2) + "\n", 0600);
}

}  // namespace pgr::repository
