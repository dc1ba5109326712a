#include "app/backups_cmd.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/backup_take.hpp"
#include "executor/journal.hpp"
#include "report/plan_text.hpp"
#include "repository/repository.hpp"
#include "spec/settings.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::app {

namespace {

repository::Repository open_repository(const spec::Settings& settings, const std::string& name) {
  if (name.empty()) {
    if (settings.repositories.size() != 1) {
      fail(ErrorKind::usage,
           settings.repositories.empty() ? "no repository is configured in the settings"
                                         : fmt::format("{} repositories are configured; name one with --repository",
                                                       settings.repositories.size()),
           "repositories are named in pgrecover.toml: [repositories.NAME] path = \"...\"");
    }
    const auto& r = settings.repositories.begin()->second;
    return repository::Repository::open(r.path, r.name, false);
  }
  const auto* r = settings.find_repository(name);
  if (!r) fail(ErrorKind::usage, fmt::format("repository \"{}\" is not in the settings", name));
  return repository::Repository::open(r->path, r->name, false);
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

}  // namespace

int backups_list_command(const BackupsOptions& o, std::ostream& out) {
  auto settings = spec::load_settings(o.config_path);
  auto repo = open_repository(settings, o.repository);
  auto backups = repo.list();
  if (o.json) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& b : backups) all.push_back(repository::to_json(b));
    out << nlohmann::json{{"format_version", 1}, {"backups", all}}.dump(2) << "\n";
    return kExitOk;
  }
  if (backups.empty()) {
    out << fmt::format("No backups in repository \"{}\" ({}).\n", repo.name(), repo.root().string());
    return kExitOk;
  }
  out << fmt::format("{:<20} {:<20} {:<8} {:<16} {:<21} {:>10}  {}\n", "ID", "POLICY", "KIND", "DATABASE", "STARTED",
                     "SIZE", "VERIFIED");
  for (const auto& b : backups) {
    out << fmt::format("{:<20} {:<20} {:<8} {:<16} {:<21} {:>10}  {}\n", b.id, b.policy, b.kind, or_dash(b.database),
                       b.started_at, report::human_bytes(static_cast<std::int64_t>(b.bytes)), or_dash(b.verified_at));
  }
  return kExitOk;
}

int backups_show_command(const BackupsOptions& o, std::ostream& out) {
  auto settings = spec::load_settings(o.config_path);
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
    j["folder"] = b.dir.string();
    if (!j.contains("format_version")) j["format_version"] = 1;
    out << j.dump(2) << "\n";
    return kExitOk;
  }
  out << fmt::format("Backup {} of policy {} ({})\n", m.id, m.policy, m.kind);
  out << fmt::format("  folder:       {}\n", b.dir.string());
  out << fmt::format("  database:     {}\n", or_dash(m.database));
  out << fmt::format("  source:       PostgreSQL {} (system identifier {})\n", m.server_version, or_dash(m.system_identifier));
  out << fmt::format("  time:         {} .. {}\n", m.started_at, m.finished_at);
  out << fmt::format("  tool:         {}\n", or_dash(m.tool));
  std::string opts;
  for (const auto& x : m.pg_dump_options) opts += (opts.empty() ? "" : " ") + x;
  if (!opts.empty()) out << fmt::format("  options:      {}\n", opts);
  out << fmt::format("  archive:      {} ({})\n", or_dash(m.data), or_dash(m.format));
  out << fmt::format("  size:         {} in {} files\n", report::human_bytes(static_cast<std::int64_t>(m.bytes())), m.files.size());
  std::int64_t rows = 0;
  for (const auto& [t, n] : m.row_counts) rows += n;
  out << fmt::format("  rows:         {} in {} tables\n", rows, m.row_counts.size());
  if (m.globals) {
    out << fmt::format("  globals:      {} roles, {} tablespaces, passwords {}\n", m.globals->roles.size(),
                       m.globals->tablespaces.size(), m.globals->passwords_included ? "included" : "not readable by the backup role");
  }
  out << fmt::format("  verified:     {}\n", v.verified_at.empty() ? "never (no successful restore drill)" : v.verified_at + " (restore drill " + v.drill_run + ")");
  if (!v.checked_at.empty()) out << fmt::format("  checked:      {}\n", v.checked_at);
  if (!v.last_failure.empty()) out << fmt::format("  last failure: {} {}\n", v.last_failure_at, v.last_failure);
  if (!m.row_counts.empty()) {
    out << "  tables:\n";
    for (const auto& [t, n] : m.row_counts) out << fmt::format("    {:<40} {:>12}\n", t, n);
  }
  return kExitOk;
}

int backups_verify_command(const BackupsOptions& o, std::ostream& out) {
  auto settings = spec::load_settings(o.config_path);
  auto repo = open_repository(settings, o.repository);
  auto b = repo.find(o.id);
  auto m = repo.read_manifest(b);
  std::vector<repository::VerifyProblem> problems = repo.verify_files(b);
  std::int64_t rows = 0;
  // The archive, read end to end: only when the bytes are the ones the manifest describes.
  if (problems.empty() && m.kind == "logical" && m.format != "plain" && !m.data.empty()) {
    try {
      auto counted = count_archive_rows(b.dir / m.data);
      for (const auto& [t, n] : counted) {
        rows += n;
        auto it = m.row_counts.find(t);
        if (it == m.row_counts.end()) problems.push_back({m.data, fmt::format("table {} is not in the manifest", t)});
        else if (it->second != n) problems.push_back({m.data, fmt::format("table {} has {} rows, the manifest says {}", t, n, it->second)});
      }
      for (const auto& [t, n] : m.row_counts)
        if (!counted.count(t)) problems.push_back({m.data, fmt::format("table {} of the manifest has no data in the archive", t)});
    } catch (const Error& e) {
      problems.push_back({m.data, fmt::format("the archive cannot be read: {}", e.what())});
    }
  }
  auto v = repo.read_verification(b);
  std::string now = executor::now_iso8601();
  if (problems.empty()) v.checked_at = now;
  else {
    v.last_failure_at = now;
    v.last_failure = fmt::format("verify: {}: {}", problems.front().file, problems.front().message);
  }
  try {
    repo.write_verification(b, v);
  } catch (const Error& e) {
    log::warn("could not record the verification in the repository: {}", e.what());
  }
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
