#include "app/backups_cmd.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/settings.hpp"
#include "engine/verify_backup.hpp"
#include "report/backups.hpp"
#include "report/format.hpp"
#include "repository/cluster_manifest.hpp"
#include "repository/repository.hpp"
#include "sources/repositories.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::app {

namespace {

repository::Repository open_repository(const config::Settings& settings, const std::string& name) {
  return sources::open_repository(settings, name, "pgrecover backups");
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

}  // namespace

int backups_list_command(const BackupsOptions& o, std::ostream& out) {
  auto settings = config::load_settings(o.config_path);
  auto repo = open_repository(settings, o.repository);
  auto backups = repo.list();
  // Whole-cluster backups name no one database: "cluster (N databases)".
  std::map<std::string, std::size_t> cluster_sizes;
  for (auto& b : backups) {
    if (b.kind != "logical" || !b.database.empty()) continue;
    auto m = repo.read_manifest(b);
    if (!repository::is_cluster_backup(m)) continue;
    cluster_sizes[b.id] = repository::cluster_databases(m).size();
    if (!o.json) b.database = fmt::format("cluster ({} databases)", cluster_sizes[b.id]);
  }
  if (o.json) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& b : backups) {
      all.push_back(repository::to_json(b));
      if (cluster_sizes.count(b.id)) all.back()["databases"] = cluster_sizes[b.id];
    }
    out << nlohmann::json{{"format_version", 1}, {"backups", all}}.dump(2) << "\n";
    return kExitOk;
  }
  out << report::render_backups_list(repo, backups);
  return kExitOk;
}

int backups_show_command(const BackupsOptions& o, std::ostream& out) {
  auto settings = config::load_settings(o.config_path);
  auto repo = open_repository(settings, o.repository);
  auto b = repo.find(o.id);
  auto m = repo.read_manifest(b);
  auto v = repo.read_verification(b);
  // Password hashes stay in the repository: show says whether they are there, never what.
  nlohmann::json j = repository::to_json(m);
  if (j["globals"].is_object())
    for (auto& r : j["globals"]["roles"]) r["password"] = r["password"].is_null() ? nlohmann::json(nullptr) : nlohmann::json("********");
  if (o.json) {
    j["verification"] = repository::to_json(v);
    j["folder"] = b.location;
    if (!j.contains("format_version")) j["format_version"] = 1;
    out << j.dump(2) << "\n";
    return kExitOk;
  }
  out << report::render_backup_text(b, m, v);
  return kExitOk;
}

int backups_verify_command(const BackupsOptions& o, std::ostream& out) {
  auto settings = config::load_settings(o.config_path);
  auto repo = open_repository(settings, o.repository);
  auto b = repo.find(o.id);
  auto checked = engine::verify_backup(repo, b);
  const auto& m = checked.manifest;
  const auto& problems = checked.problems;
  auto rows = checked.rows;
  if (o.json) {
    nlohmann::json ps = nlohmann::json::array();
    for (const auto& p : problems) ps.push_back({{"file", p.file}, {"message", p.message}});
    out << nlohmann::json{{"format_version", 1}, {"id", b.id}, {"policy", b.policy}, {"ok", problems.empty()}, {"files", m.files.size()},
                          {"bytes", m.bytes()}, {"rows", rows}, {"problems", ps}}.dump(2) << "\n";
  } else {
    for (const auto& p : problems) out << fmt::format("{}/{}: {}: {}\n", b.policy, b.id, or_dash(p.file), p.message);
    if (problems.empty()) {
      out << fmt::format("Backup {}/{} is intact: {} files, {} checked against the manifest, {} rows read.\n", b.policy, b.id,
                         m.files.size(), report::human_bytes(static_cast<std::int64_t>(m.bytes())), rows);
    }
  }
  if (!problems.empty()) {
    fail(ErrorKind::archive,
         fmt::format("backup {}/{} is damaged: {}: {}{}", b.policy, b.id, problems.front().file, problems.front().message,
                     problems.size() > 1 ? fmt::format(" (and {} more problems)", problems.size() - 1) : ""),
         "restore from another backup; this one does not match its manifest");
  }
  return kExitOk;
}

}  // namespace pgr::app
