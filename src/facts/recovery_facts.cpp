#include "facts/recovery_facts.hpp"

#include <signal.h>

#include <fmt/format.h>

#include "instance/instance.hpp"
#include "instance/tablespace_links.hpp"
#include "repository/restore_points.hpp"
#include "repository/wal_archive.hpp"
#include "sources/physical_source.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/process.hpp"
#include "util/time.hpp"

namespace pgr::facts {

namespace {

// This host's side: the data directory, the folders the tablespaces would go to, and whether
// the server user may read the settings file that restore_command names.
void read_local_side(const config::Settings& settings, RecoveryFacts& r) {
  auto& f = r.facts;
  const auto& s = r.document.spec;
  f.data_directory_empty = empty_or_absent(s.data_directory);
  if (!f.data_directory_empty && s.move_aside_existing) f.old_tablespace_links = instance::tablespace_links(s.data_directory);
  for (const auto& b : f.backups) {
    for (const auto& t : b.info.tablespaces) {
      if (!empty_or_absent(t.location)) f.occupied_folders.insert(t.location);
    }
  }
  for (const auto& [from, to] : s.tablespace_mapping) {
    if (!empty_or_absent(to)) f.occupied_folders.insert(to);
  }
  f.executable = fs::read_symlink("/proc/self/exe").string();
  f.settings_file = fs::absolute(settings.file).string();
  f.running_as_root = running_as_root();
  f.created_at = now_iso8601();
  if (f.running_as_root) {
    auto user = lookup_user(settings.instance.run_as.empty() ? "postgres" : settings.instance.run_as);
    if (!readable_by(user, f.settings_file)) {
      f.warnings.push_back(fmt::format("the settings file {} is not readable by user \"{}\", who runs restore_command",
                                       f.settings_file, user.name));
    }
  }
}

}  // namespace

std::unique_ptr<RecoveryFacts> gather_recovery_facts(const config::PointInTimeRecovery& doc,
                                                     const config::Settings& settings, const std::string& only_backup) {
  auto r = std::make_unique<RecoveryFacts>();
  auto& f = r->facts;
  // The repository named (or the policy's first), else the policy's other copies in order: the
  // first reachable one holding a physical backup of the policy. The plan reads from that one
  // (restore_command included) and says why when it is not the one named.
  std::string who = fmt::format("PointInTimeRecovery \"{}\"", doc.metadata.name);
  std::vector<std::string> names = {doc.spec.repository};
  names.insert(names.end(), doc.spec.fallback_repositories.begin(), doc.spec.fallback_repositories.end());
  auto found = sources::find_physical_backups(settings, names, doc.spec.policy, only_backup, who);
  f.backups = std::move(found.backups);
  const config::RepositorySettings& chosen = *found.settings;
  r->document = doc;
  r->document.spec.repository = chosen.name;
  r->document.spec.fallback_repositories.clear();
  for (const auto& n : names)
    if (n != chosen.name) r->document.spec.fallback_repositories.push_back(n);
  if (!found.skipped.empty() && !f.backups.empty()) {
    std::string note;
    for (const auto& x : found.skipped) note += (note.empty() ? "" : "; ") + x;
    note += fmt::format(": reading from repository \"{}\" (base backup and WAL)", chosen.name);
    log::warn("{}", note);
    f.warnings.push_back(note);
  }
  r->repository = std::move(found.repository);
  r->wal = std::make_unique<repository::StoredWalArchives>(r->repository->storage_ptr());
  f.document = &r->document;
  f.repository_path = r->repository->describe();
  f.wal = r->wal.get();
  if (!f.backups.empty()) {
    f.restore_points = repository::list_restore_points(r->repository->storage(), f.backups.back().info.wal_cluster);
  }
  read_local_side(settings, *r);
  return r;
}

void add_unarchived_wal(RecoveryFacts& r, std::size_t chosen) {
  auto& f = r.facts;
  const auto& s = r.document.spec;
  if (f.data_directory_empty || !s.move_aside_existing) return;
  f.unarchived_wal = repository::unarchived_wal(
      repository::WalArchive(r.repository->storage_ptr(), f.backups[chosen].info.wal_cluster), s.data_directory / "pg_wal");
}

void refuse_running_server(const std::filesystem::path& data_directory, const std::string& who) {
  instance::PostmasterInfo pm;
  if (instance::read_postmaster_pid(data_directory, pm) && pm.pid > 0 && ::kill(static_cast<pid_t>(pm.pid), 0) == 0) {
    fail(ErrorKind::input,
         fmt::format("{}: a PostgreSQL server (pid {}) is running in \"{}\"", who, pm.pid, data_directory.string()),
         "stop it first (pg_ctl stop -D DIR); nothing was changed");
  }
}

}  // namespace pgr::facts
