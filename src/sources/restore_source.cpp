#include "sources/restore_source.hpp"

#include <fmt/format.h>

#include "engine/globals.hpp"
#include "pg/read_only.hpp"
#include "sources/live_source.hpp"
#include "repository/archive_source.hpp"
#include "sources/repositories.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::sources {

namespace fs = std::filesystem;

namespace {
constexpr const char* kSourceRepository = "source_repository";
constexpr const char* kSourceBackup = "source_backup";
constexpr const char* kSourceData = "source_data";
}  // namespace

void record_source(const RestoreSource& src, model::Plan& plan) {
  if (src.repository.empty()) return;
  plan.params[kSourceRepository] = src.repository;
  plan.params[kSourceBackup] = src.backup_ref;
  plan.params[kSourceData] = src.data;
}

RestoreSource source_of(const model::Plan& plan) {
  RestoreSource src;
  src.archive = plan.source;
  if (auto it = plan.params.find(kSourceRepository); it != plan.params.end()) {
    src.repository = it->second;
    src.backup_ref = plan.params.at(kSourceBackup);
    src.data = plan.params.at(kSourceData);
  }
  return src;
}

std::unique_ptr<archive::Archive> open_source_archive(const RestoreSource& src, const config::Settings& settings) {
  if (src.repository.empty()) return archive::Archive::open(src.archive);
  auto repo = open_repository(settings, src.repository, "restore source");
  return repository::open_backup_archive(repo, repo.find(src.backup_ref), src.data);
}

// The password hashes of the roles a plan creates with "password: from-backup", read from the
// manifest of the backup the plan was made from: plans never carry them.
std::map<std::string, std::string> role_passwords(const model::Plan& plan, const config::Settings& settings) {
  std::map<std::string, std::string> out;
  bool wanted = false;
  for (const auto& s : plan.steps)
    if (s.kind == "role" && s.params.count("password")) wanted = true;
  if (wanted && is_live_plan(plan)) {  // a live clone: from the source server, read-only
    LiveSource src = live_source_of(plan, settings);
    auto c = pg::open_read_only(src.conninfo, fmt::format("pgrecover apply {} roles", plan.id));
    for (const auto& r : engine::capture_globals(c, src.database).roles)
      if (r.password && !r.password->empty()) out[r.name] = *r.password;
    return out;
  }
  auto backup = plan.params.find("globals_backup");
  auto repo_name = plan.params.find("globals_repository");
  if (!wanted || backup == plan.params.end() || backup->second.empty() || repo_name == plan.params.end()) return out;
  auto repo = open_repository(settings, repo_name->second, "restore roles");
  auto m = repo.read_manifest(repo.find(backup->second));
  if (m.globals)
    for (const auto& r : m.globals->roles)
      if (r.password && !r.password->empty()) out[r.name] = *r.password;
  return out;
}

RestoreSource resolve_restore_source(const config::Restore& doc, const config::Settings& settings) {
  if (doc.spec.is_live()) return {};  // app/restore_live.cpp
  if (!doc.spec.archive.empty() || !doc.spec.sql_file.empty()) {
    RestoreSource src;
    src.archive = doc.spec.archive.empty() ? doc.spec.sql_file : doc.spec.archive;
    src.plain = !doc.spec.sql_file.empty();
    return src;
  }
  std::string who = fmt::format("Restore \"{}\"", doc.metadata.name);
  const auto& ref = doc.spec.backup;
  std::string what = ref.kind == config::BackupRef::Kind::latest ? "any logical backup"
                     : ref.kind == config::BackupRef::Kind::id   ? "backup " + ref.id
                                                               : "a logical backup started before " + ref.before;
  // The repository named (or the policy's first), then the policy's other copies in order.
  std::vector<std::string> names = {doc.spec.repository};
  names.insert(names.end(), doc.spec.fallback_repositories.begin(), doc.spec.fallback_repositories.end());
  std::vector<std::string> skipped;  // why each earlier copy was passed over
  std::optional<repository::Repository> found;
  std::vector<repository::BackupInfo> backups;
  const repository::BackupInfo* chosen = nullptr;
  const config::RepositorySettings* rs = nullptr;
  for (size_t i = 0; i < names.size() && !chosen; ++i) {
    rs = &settings.repository(names[i], who);
    bool last = i + 1 == names.size();
    backups.clear();
    try {
      found.emplace(open_reachable_repository(*rs));
      for (auto& b : found->list(doc.spec.policy))
        if (b.kind == "logical") backups.push_back(std::move(b));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::io || last) throw;
      skipped.push_back(fmt::format("repository \"{}\" unreachable ({})", rs->name, e.what()));
      continue;
    }
    if (ref.kind == config::BackupRef::Kind::latest) {
      if (!backups.empty()) chosen = &backups.back();
    } else if (ref.kind == config::BackupRef::Kind::id) {
      repository::check_backup_id(ref.id);
      for (const auto& b : backups)
        if (b.id == ref.id) chosen = &b;
    } else {
      auto before = repository::parse_iso(ref.before);
      for (const auto& b : backups)  // oldest first: the last one started before T
        if (repository::parse_iso(b.started_at) < before) chosen = &b;
    }
    if (!chosen && !last) skipped.push_back(fmt::format("repository \"{}\" has no {} of policy \"{}\"", rs->name, what, doc.spec.policy));
  }
  if (!chosen) {
    std::string earlier;
    for (const auto& s : skipped) earlier += s + "; ";
    fail(ErrorKind::input,
         fmt::format("{}: {}repository \"{}\" has no {} of policy \"{}\"", who, earlier, rs->name, what, doc.spec.policy),
         "see pgrecover backups list --repository " + rs->name);
  }
  auto& repo = *found;
  auto m = repo.read_manifest(*chosen);
  RestoreSource src;
  src.plain = m.format == "plain";
  src.archive = chosen->location + "/" + m.data;
  src.repository = rs->name;
  if (!skipped.empty()) {
    std::string note;
    for (const auto& x : skipped) note += (note.empty() ? "" : "; ") + x;
    src.fallback_notes.push_back(fmt::format("{}: reading backup {} from repository \"{}\"", note, chosen->id, rs->name));
    log::warn("{}", src.fallback_notes.back());
  }
  src.backup_ref = chosen->policy + "/" + chosen->id;
  src.data = m.data;
  if (src.plain && !fs::path(chosen->location).is_absolute()) {
    // psql reads the script from a file; the S3 driver streams archives only so far.
    fail(ErrorKind::input, fmt::format("{}: backup {} is a plain SQL script in {}, which pgrecover restores only from a local repository",
                                       who, m.id, chosen->location),
         "copy the backup to a local repository (or take the policy's backups in directory or custom format)");
  }
  src.backup_id = m.id;
  src.expected_rows = m.row_counts;
  if (m.globals) src.role_definitions = engine::role_definitions(*m.globals);
  src.globals = m.globals;
  return src;
}

}  // namespace pgr::sources
