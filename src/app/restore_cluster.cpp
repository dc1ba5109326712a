// Restoring a whole-cluster logical backup: the Restore document becomes one restore plan per
// selected database, applied in order under the same apply, each a reviewable plan of its own
// with its own journal (so resume is the per-database resume, exactly). The globals come first:
// the first plan creates every role of the backup (as pg_dumpall's script would, unless the
// document says roles: require or no-owner), and each plan creates its database with the owner,
// encoding, locale, settings and privileges its archive records (as pg_restore --create).
#include <algorithm>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "app/restore_point_before.hpp"
#include "app/restore.hpp"
#include "repository/cluster_manifest.hpp"
#include "sources/repositories.hpp"
#include "util/error.hpp"

namespace pgr::app {

namespace {

// The selected databases of the backup, in the manifest's order; errors name the document field.
std::vector<repository::ClusterDatabase> selected(const config::Restore& doc, const std::vector<repository::ClusterDatabase>& all,
                                                  const std::string& backup) {
  const auto& want = doc.spec.select_databases;
  std::set<std::string> names;
  for (const auto& d : all) names.insert(d.name);
  for (const auto& n : want)
    if (!names.count(n)) {
      fail(ErrorKind::input, fmt::format("Restore \"{}\": spec.select.databases: backup {} has no database \"{}\"", doc.metadata.name, backup, n),
           "pgrecover backups show " + backup + " lists its databases");
    }
  std::vector<repository::ClusterDatabase> out;
  for (const auto& d : all)
    if (want.empty() || std::find(want.begin(), want.end(), d.name) != want.end()) out.push_back(d);
  if (!doc.spec.database.empty() && out.size() != 1) {
    fail(ErrorKind::input,
         fmt::format("Restore \"{}\": spec.to.database renames one database, and backup {} is a whole-cluster backup of {} "
                     "databases", doc.metadata.name, backup, out.size()),
         "leave spec.to.database out (each database keeps its name), or select one database with select.databases");
  }
  return out;
}

}  // namespace

namespace {

std::vector<model::Plan> plans_of(const config::Restore& doc, const config::Settings& settings) {
  RestoreSource src = sources::resolve_restore_source(doc, settings);
  std::optional<repository::Manifest> m;
  if (!src.repository.empty()) {
    auto repo = sources::open_repository(settings, src.repository, "restore source");
    m = repo.read_manifest(repo.find(src.backup_ref));
  }
  if (!m || !repository::is_cluster_backup(*m)) {
    if (!doc.spec.select_databases.empty()) {
      fail(ErrorKind::input, fmt::format("Restore \"{}\": spec.select.databases: the source is a backup of one database, not "
                                         "of a whole cluster", doc.metadata.name),
           "leave select.databases out");
    }
    if (doc.spec.database.empty()) {
      fail(ErrorKind::input, fmt::format("Restore \"{}\": spec.to.database is required: the source is a backup of one database",
                                         doc.metadata.name),
           "name the target database in spec.to.database");
    }
    return {plan_restore_from(doc, settings, src)};
  }
  std::vector<model::Plan> plans;
  std::string location = src.archive.substr(0, src.archive.size() - m->data.size());  // "<backup folder>/"
  for (const auto& d : selected(doc, repository::cluster_databases(*m), src.backup_ref)) {
    config::Restore one = doc;
    one.metadata.name = fmt::format("{}/{}", doc.metadata.name, d.name);
    one.spec.database = doc.spec.database.empty() ? d.name : doc.spec.database;
    one.spec.select_databases.clear();
    // Every role of the backup with the first database, as pg_dumpall's globals would be.
    if (plans.empty() && one.spec.roles == config::RolesPolicy::create_missing && src.globals) one.spec.roles = config::RolesPolicy::all;
    RestoreSource part = src;
    part.data = d.data;
    part.archive = location + d.data;
    part.expected_rows = d.row_counts;
    model::Plan p = plan_restore_from(one, settings, part);
    // The roles the earlier plans create are expected when this one is applied: its role steps
    // find them present. Every other fingerprint of its own database still guards it.
    if (!plans.empty()) p.fingerprints.erase("target.roles");
    p.params["cluster_backup"] = src.backup_ref;
    p.params["cluster_database"] = d.name;
    plans.push_back(std::move(p));
  }
  return plans;
}

}  // namespace

std::vector<model::Plan> plan_restore_documents(const config::Restore& doc, const config::Settings& settings) {
  auto plans = plans_of(doc, settings);
  // before.restore_point: first in the first plan (a whole-cluster backup gives one per database).
  if (!plans.empty()) add_restore_point_before(plans.front(), doc.spec.before, fmt::format("Restore \"{}\"", doc.metadata.name), settings);
  return plans;
}

}  // namespace pgr::app
