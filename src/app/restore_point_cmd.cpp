#include "app/restore_point_cmd.hpp"

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/signals.hpp"
#include "config/documents.hpp"
#include "engine/restore_point.hpp"
#include "pg/pg.hpp"
#include "repository/restore_points.hpp"
#include "sources/repositories.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::app {

int restore_point_command(const RestorePointOptions& o, std::ostream& out) {
  auto settings = config::load_settings(o.config_path);
  std::vector<std::filesystem::path> paths;
  for (const auto& p : o.paths) paths.emplace_back(p);
  if (paths.empty()) paths.emplace_back(".");
  auto docs = config::load_documents(paths, settings);
  const auto* policy = docs.find_policy(o.policy);
  if (!policy) {
    fail(ErrorKind::input, fmt::format("no BackupPolicy \"{}\" among the documents", o.policy),
         "give the folder or file that holds it (pgrecover restore-point NAME --policy P PATH)");
  }
  if (policy->spec.method != config::BackupMethod::physical) {
    fail(ErrorKind::input,
         fmt::format("BackupPolicy \"{}\" takes logical backups: restore points need a physical policy and its WAL archive",
                     o.policy));
  }
  const auto& rs = settings.repository(policy->spec.repository, fmt::format("BackupPolicy \"{}\"", o.policy));
  engine::RestorePointRequest req;
  auto repo = sources::open_repository(rs);
  req.repository = &repo;
  req.policy = o.policy;
  req.cluster = policy->spec.cluster;
  req.name = o.name;
  req.timeout = config::parse_duration(o.timeout);
  req.cancel = &install_cancel_handlers();
  repository::check_restore_point_name(o.name);  // before connecting
  auto source = pg::Connection::open(pg::with_dbname(settings.connect_string(policy->spec.source), "postgres"),
                                     "pgrecover restore-point");
  auto point = engine::create_restore_point(source, req);
  // The policy's other copies get the record too, so a recovery reading from any of them finds
  // the name (their WAL comes from archive_command pushing to every copy).
  auto names = config::repositories_of(policy->spec);
  for (size_t i = 1; i < names.size(); ++i) {
    try {
      auto copy = sources::open_repository(settings, names[i], fmt::format("BackupPolicy \"{}\"", o.policy), /*create=*/true);
      if (!repository::find_restore_point(copy.storage(), point.cluster, point.name)) repository::record_restore_point(copy.storage(), point);
    } catch (const Error& e) {
      log::warn("restore point \"{}\" is recorded in repository \"{}\" but not in \"{}\": {}", point.name, rs.name, names[i],
                e.what());
    }
  }
  if (o.json) {
    nlohmann::json j = {{"format_version", 1}, {"name", point.name},         {"cluster", point.cluster},
                        {"policy", point.policy}, {"lsn", point.lsn},          {"timeline", point.timeline},
                        {"segment", point.segment}, {"created_at", point.created_at}};
    out << j.dump(2) << "\n";
  } else {
    out << fmt::format("restore point \"{}\" at {} (timeline {}, {}), archived in segment {} of cluster \"{}\"\n",
                       point.name, point.lsn, point.timeline, point.created_at, point.segment, point.cluster);
  }
  return kExitOk;
}

}  // namespace pgr::app
