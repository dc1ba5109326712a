#include "report/backups.hpp"

#include <sstream>

#include <fmt/format.h>

#include "report/format.hpp"
#include "repository/cluster_manifest.hpp"

namespace pgr::report {

namespace {
std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }
}  // namespace

std::string render_backups_list(const repository::Repository& repo, const std::vector<repository::BackupInfo>& backups) {
  std::ostringstream out;
  if (backups.empty()) {
    out << fmt::format("No backups in repository \"{}\" ({}).\n", repo.name(), repo.describe());
    return out.str();
  }
  out << fmt::format("{:<20} {:<20} {:<8} {:<16} {:<21} {:>10}  {:<21} {}\n", "ID", "POLICY", "KIND", "DATABASE", "STARTED",
                     "SIZE", "VERIFIED", "ENCRYPTED");
  for (const auto& b : backups) {
    out << fmt::format("{:<20} {:<20} {:<8} {:<16} {:<21} {:>10}  {:<21} {}\n", b.id, b.policy, b.kind, or_dash(b.database),
                       b.started_at, human_bytes(static_cast<std::int64_t>(b.bytes)), or_dash(b.verified_at),
                       b.encryption_key_id.empty() ? "no" : "key id " + b.encryption_key_id);
  }
  return out.str();
}

std::string render_backup_text(const repository::BackupInfo& b, const repository::Manifest& m,
                               const repository::Verification& v) {
  std::ostringstream out;
  out << fmt::format("Backup {} of policy {} ({})\n", m.id, m.policy, m.kind);
  out << fmt::format("  folder:       {}\n", b.location);
  out << fmt::format("  database:     {}\n", or_dash(m.database));
  out << fmt::format("  source:       PostgreSQL {} (system identifier {})\n", m.server_version, or_dash(m.system_identifier));
  out << fmt::format("  time:         {} .. {}\n", m.started_at, m.finished_at);
  out << fmt::format("  tool:         {}\n", or_dash(m.tool));
  std::string opts;
  for (const auto& x : m.pg_dump_options) opts += (opts.empty() ? "" : " ") + x;
  if (!opts.empty()) out << fmt::format("  options:      {}\n", opts);
  out << fmt::format("  archive:      {} ({})\n", or_dash(m.data), or_dash(m.format));
  out << fmt::format("  size:         {} in {} files\n", human_bytes(static_cast<std::int64_t>(m.bytes())), m.files.size());
  std::int64_t rows = 0;
  for (const auto& [t, n] : m.row_counts) rows += n;
  out << fmt::format("  rows:         {} in {} tables\n", rows, m.row_counts.size());
  if (m.globals) {
    out << fmt::format("  globals:      {} roles, {} tablespaces, passwords {}\n", m.globals->roles.size(),
                       m.globals->tablespaces.size(), m.globals->passwords_included ? "included" : "not readable by the backup role");
  }
  out << fmt::format("  encryption:   {}\n", m.encryption_key_id.empty() ? std::string("none (stored in clear)")
                                                                      : "AES-256-GCM, key id " + m.encryption_key_id);
  if (m.kind == "physical" && m.extra.is_object() && m.extra.contains("tablespaces")) {
    out << "  tablespaces:  (oid, name, location on the source, size; to.tablespace_mapping keys are the locations)\n";
    for (const auto& t : m.extra.at("tablespaces")) {
      out << fmt::format("    {:<8} {:<20} {} {}\n", t.value("oid", ""), t.value("name", ""), t.value("location", ""),
                         human_bytes(t.value("bytes", std::int64_t{0})));
    }
  }
  out << fmt::format("  verified:     {}\n", v.verified_at.empty() ? "never (no successful restore drill)" : v.verified_at + " (restore drill " + v.drill_run + ")");
  if (!v.checked_at.empty()) out << fmt::format("  checked:      {}\n", v.checked_at);
  if (!v.last_failure.empty()) out << fmt::format("  last failure: {} {}\n", v.last_failure_at, v.last_failure);
  if (repository::is_cluster_backup(m)) {
    auto dbs = repository::cluster_databases(m);
    out << fmt::format("  databases:    {} (whole cluster)\n", dbs.size());
    out << fmt::format("    {:<24} {:<16} {:<10} {:<14} {:>10} {:>12} {:>8}\n", "NAME", "OWNER", "ENCODING", "LOCALE", "SIZE", "ROWS", "TABLES");
    for (const auto& d : dbs) {
      out << fmt::format("    {:<24} {:<16} {:<10} {:<14} {:>10} {:>12} {:>8}\n", d.name, or_dash(d.owner), or_dash(d.encoding),
                         or_dash(d.collate), human_bytes(static_cast<std::int64_t>(d.bytes)), d.rows(), d.row_counts.size());
    }
  }
  if (!m.row_counts.empty()) {
    out << "  tables:\n";
    for (const auto& [t, n] : m.row_counts) out << fmt::format("    {:<40} {:>12}\n", t, n);
  }
  return out.str();
}

}  // namespace pgr::report
