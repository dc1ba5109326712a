#include "facts/backup_facts.hpp"

#include <sys/stat.h>

#include <fmt/format.h>

#include "catalog/archiver.hpp"
#include "catalog/server_place.hpp"
#include "engine/access_check.hpp"
#include "engine/cluster_backup.hpp"
#include "engine/logical.hpp"
#include "engine/physical.hpp"
#include "pg/pg.hpp"
#include "repository/physical.hpp"
#include "repository/repository.hpp"
#include "sources/repositories.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::facts {

namespace {

// Where each repository of the policy sits relative to the source (3-2-1): on the filesystem of
// its data directory, or on this host when the source runs here (a Unix socket or loopback
// connection, and its data directory is here). Unknown (the source unreachable) counts as apart.
std::vector<planner::RepositoryPlacement> placements(const config::BackupPolicy& policy, const config::Settings& settings,
                                                     const std::vector<const config::RepositorySettings*>& repos,
                                                     std::string& data_dir) {
  std::vector<planner::RepositoryPlacement> out;
  std::optional<dev_t> source_dev;
  bool source_here = false;
  try {
    auto conn = pg::Connection::open(pg::with_dbname(settings.connect_string(policy.spec.source), "postgres"), "pgrecover plan");
    auto place = catalog::read_server_place(conn);
    data_dir = place.data_directory;
    struct stat st {};
    if (::stat(data_dir.c_str(), &st) == 0) {
      source_dev = st.st_dev;
      source_here = place.on_this_host();
    }
  } catch (const Error& e) {
    log::debug("could not compare the repositories' places with the source's data directory: {}", e.what());
  }
  for (const auto* rs : repos) {
    planner::RepositoryPlacement p;
    p.name = rs->name;
    p.type = rs->type;
    p.encrypted = rs->encrypted();
    p.where = rs->where();
    if (rs->type == "posix" && source_dev) {
      auto d = device_of(rs->path);
      p.same_filesystem = d && *d == *source_dev;
      p.on_source_host = source_here;
    }
    out.push_back(std::move(p));
  }
  return out;
}

void gather_physical(const config::BackupPolicy& policy, const config::Settings& settings,
                     const repository::Repository& repo, planner::BackupFacts& f) {
  try {
    auto c = pg::Connection::open(settings.connect_string(policy.spec.source), "pgrecover plan");
    for (auto& w : engine::check_archiving(c, policy.spec.cluster)) f.warnings.push_back(std::move(w));
    auto names = config::repositories_of(policy.spec);
    if (names.size() > 1) {
      // WAL goes to every copy, or a point-in-time recovery from that copy has no WAL to replay.
      std::string command = catalog::read_archive_command(c);
      std::string all;
      for (const auto& n : names) all += (all.empty() ? "" : ",") + n;
      for (const auto& n : names) {
        if (command.find(n) == std::string::npos) {
          f.warnings.push_back(fmt::format("the source's archive_command does not push WAL to repository \"{}\": a "
                                           "point-in-time recovery from that copy would lack WAL; use wal push %p "
                                           "--repository {} --cluster {}", n, all, policy.spec.cluster));
        }
      }
    }
    if (auto tli = catalog::read_current_timeline(c)) f.source_timeline = *tli;
  } catch (const Error& e) {
    f.warnings.push_back(fmt::format("could not check WAL archiving on the source: {}", e.what()));
  }
  repository::read_physical_facts(repo, f.backups, f.physical, f.wal_files);
}

// The policy's other repositories: what each holds. One that cannot be listed is planned for
// anyway (its copy step fails at apply time if it is still down), with a warning.
void gather_copies(const config::BackupPolicy& policy, const config::Settings& settings, planner::BackupFacts& f) {
  const std::string& name = policy.metadata.name;
  auto names = config::repositories_of(policy.spec);
  for (size_t i = 1; i < names.size(); ++i) {
    const auto& rs = settings.repository(names[i], fmt::format("BackupPolicy \"{}\"", name));
    planner::CopyFacts c;
    c.repository = rs.name;
    c.type = rs.type;
    try {
      auto repo = sources::open_repository(rs);
      c.where = repo.describe();
      c.backups = repo.list(name);
      c.fingerprint = repo.fingerprint(name);
      if (policy.spec.method == config::BackupMethod::physical) repository::read_physical_facts(repo, c.backups, c.physical, c.wal_files);
      for (const auto& p : repo.unfinished(name)) {
        f.warnings.push_back(fmt::format("an unfinished copy is left in repository \"{}\": {} (ignored; completed or "
                                         "removed by the next copy)", rs.name, p));
      }
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::io) throw;
      c.unreachable = e.what();
      c.backups.clear();
      if (c.where.empty()) c.where = rs.where();
      f.warnings.push_back(fmt::format("repository \"{}\" is unreachable: {}; the new backup's copy is planned and will fail "
                                       "if it still is, and nothing leaves repository \"{}\" until the copies have landed",
                                       rs.name, e.what(), f.repository));
    }
    f.copies.push_back(std::move(c));
  }
}

}  // namespace

planner::BackupFacts gather_backup_facts(const config::BackupPolicy& policy, const config::Settings& settings) {
  const std::string& name = policy.metadata.name;
  repository::check_policy_name(name);
  const auto& rs = settings.repository(policy.spec.repository, fmt::format("BackupPolicy \"{}\"", name));
  auto repo = sources::open_repository(rs);
  planner::BackupFacts f;
  f.policy = &policy;
  f.repository = rs.name;
  f.repository_path = repo.describe();
  f.repository_type = rs.type;
  f.backups = repo.list(name);
  f.repository_fingerprint = repo.fingerprint(name);
  f.now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  f.created_at = now_iso8601();
  if (policy.spec.method == config::BackupMethod::physical) gather_physical(policy, settings, repo, f);
  // pg_dump's path and version, looked up beside the planning: an apply's backup finds them done.
  if (policy.spec.method == config::BackupMethod::logical) engine::prefetch_pg_dump(settings.instance.bin_dir);
  if (policy.spec.whole_cluster()) {
    // Read at plan time so that the plan lists what it will dump; a database the list names but
    // the source lacks is an error now, not halfway through the backup.
    auto c = pg::Connection::open(pg::with_dbname(settings.connect_string(policy.spec.source), "postgres"), "pgrecover plan");
    f.databases = config::choose_databases(policy.spec, engine::read_source_databases(c));
    for (const auto& d : f.databases)
      if (!d.dump && d.reason == "not on the source") {
        fail(ErrorKind::input, fmt::format("BackupPolicy \"{}\": database \"{}\" of spec.databases is not on the source", name, d.name),
             "remove it from spec.databases, or create it");
      }
  } else if (policy.spec.method == config::BackupMethod::logical) {
    try {
      auto c = pg::Connection::open(pg::with_dbname(settings.connect_string(policy.spec.source), policy.spec.database),
                                    "pgrecover plan");
      for (auto& w : engine::unreadable_selected(c, policy.spec)) f.warnings.push_back(std::move(w));
    } catch (const Error& e) {
      log::debug("could not check what the backup role may read: {}", e.what());
    }
  }
  gather_copies(policy, settings, f);
  std::vector<const config::RepositorySettings*> all;
  for (const auto& r : config::repositories_of(policy.spec)) all.push_back(&settings.repository(r, "BackupPolicy " + name));
  std::string data_dir;
  auto places = placements(policy, settings, all, data_dir);
  for (auto& w : planner::placement_warnings(places, data_dir)) f.warnings.push_back(std::move(w));
  for (const auto& p : repo.unfinished(name)) {
    f.warnings.push_back(fmt::format("an unfinished backup folder is left from an interrupted run: {} (ignored; "
                                     "removed by the next backup)", p));
  }
  return f;
}

}  // namespace pgr::facts
