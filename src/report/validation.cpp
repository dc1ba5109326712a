#include "report/validation.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace pgr::report {

namespace {

std::string duration_text(std::chrono::seconds s) {
  const auto n = s.count();
  if (n % (7 * 86400) == 0) return fmt::format("{}w", n / (7 * 86400));
  if (n % 86400 == 0) return fmt::format("{}d", n / 86400);
  if (n % 3600 == 0) return fmt::format("{}h", n / 3600);
  if (n % 60 == 0) return fmt::format("{}m", n / 60);
  return fmt::format("{}s", n);
}

std::string connection_text(const config::ConnectionRef& ref, const config::Settings& settings) {
  return ref.connection.empty() ? "conninfo \"" + settings.display_string(ref) + "\"" : ref.connection;
}

// before: {restore_point: NAME}: made first, on the source of a physical policy (recorded in its
// repository) or on the target server (recorded nowhere).
std::string restore_point_first(const config::RestorePointBefore& b) {
  if (b.name.empty()) return "";
  if (b.resolved_policy.empty()) return fmt::format("; first a restore point \"{}\" on the target server (not recorded)", b.name);
  return fmt::format("; first a restore point \"{}\" on the source of policy \"{}\"", b.name, b.resolved_policy);
}

std::string describe(const config::BackupPolicy& p, const config::Settings& settings) {
  const auto& s = p.spec;
  std::string out = s.method == config::BackupMethod::logical
                        ? fmt::format("{} {} backup of database \"{}\" from {}", to_string(s.method),
                                      to_string(s.format), s.database, connection_text(s.source, settings))
                        : fmt::format("physical backup of cluster \"{}\" from {}", s.cluster,
                                      connection_text(s.source, settings));
  auto repos = config::repositories_of(s);
  if (repos.size() > 1) {
    std::string names;
    for (const auto& r : repos) names += (names.empty() ? "\"" : ", \"") + r + "\"";
    out += fmt::format(" into repositories {} ({} copies: taken into the first, copied to the others)", names, repos.size());
  } else {
    out += fmt::format(" into repository \"{}\"", s.repository);
  }
  if (s.schedule_every.count() > 0) out += ", every " + duration_text(s.schedule_every);
  std::vector<std::string> keep;
  if (s.keep_last) keep.push_back(fmt::format("last {}", *s.keep_last));
  if (s.keep_daily) keep.push_back(fmt::format("daily {}", *s.keep_daily));
  if (s.keep_weekly) keep.push_back(fmt::format("weekly {}", *s.keep_weekly));
  if (s.keep_monthly) keep.push_back(fmt::format("monthly {}", *s.keep_monthly));
  if (!keep.empty()) out += ", keep " + fmt::format("{}", fmt::join(keep, "/"));
  if (s.drill_every.count() > 0) out += ", drill every " + duration_text(s.drill_every);
  return out;
}

std::string describe(const config::Restore& r, const config::Settings& settings) {
  const auto& s = r.spec;
  std::string from;
  if (!s.archive.empty()) {
    from = "archive " + s.archive;
  } else if (!s.sql_file.empty()) {
    from = "SQL script " + s.sql_file;
  } else if (s.is_live()) {
    from = fmt::format("live database \"{}\" on {} (one snapshot, consistent: {})", s.live.database,
                       connection_text(s.live.source, settings), s.live.allow_mixed ? "allow-mixed" : "strict");
  } else {
    const std::string which = s.backup.kind == config::BackupRef::Kind::latest ? "latest"
                              : s.backup.kind == config::BackupRef::Kind::id   ? "backup " + s.backup.id
                                                                             : "before " + s.backup.before;
    from = fmt::format("policy \"{}\" ({})", s.policy, which);
  }
  return fmt::format("restore {} from {} into database \"{}\" on {}, existing: {}{}",
                     s.select.empty() ? "everything" : "a selection", from, s.database, connection_text(s.to, settings),
                     to_string(s.existing), restore_point_first(s.before));
}

std::string describe(const config::PointInTimeRecovery& x, const config::Settings&) {
  const auto& s = x.spec;
  static const char* kinds[] = {"time", "xid", "name", "lsn", "immediate", "latest"};
  std::string target = kinds[static_cast<int>(s.target.kind)];
  if (!s.target.value.empty()) target += " " + s.target.value;
  return fmt::format("recover policy \"{}\" to {} into {}, then {}{}", s.policy, target, s.data_directory.string(),
                     to_string(s.action), restore_point_first(s.before));
}

template <typename Doc>
std::string describe_named(const config::DocumentSummary& d, const config::Settings& settings, const std::vector<Doc>& docs) {
  for (const auto& doc : docs) {
    if (doc.metadata.name == d.name && doc.metadata.where == d.where) return describe(doc, settings);
  }
  return "";
}

}  // namespace

std::string render_validation(const config::ValidationReport& report, const config::Settings& settings, bool json) {
  if (json) {
    nlohmann::json j = {{"format_version", 1}, {"valid", report.ok()}};
    j["documents"] = nlohmann::json::array();
    for (const auto& d : report.summaries) {
      j["documents"].push_back({{"file", d.where.file}, {"line", d.where.line}, {"kind", d.kind}, {"name", d.name}});
    }
    j["problems"] = nlohmann::json::array();
    for (const auto& p : report.problems) {
      j["problems"].push_back(
          {{"file", p.where.file}, {"line", p.where.line}, {"column", p.where.column}, {"message", p.message}});
    }
    return j.dump(2) + "\n";
  }

  if (!report.ok()) {
    std::string out;
    for (const auto& p : report.problems) out += p.str() + "\n";
    return out + fmt::format("{} problem{} found; nothing was run\n", report.problems.size(),
                             report.problems.size() == 1 ? "" : "s");
  }
  std::string out;
  const auto& docs = report.documents;
  for (const auto& d : report.summaries) {
    std::string what = d.kind == "BackupPolicy" ? describe_named(d, settings, docs.policies)
                       : d.kind == "Restore"    ? describe_named(d, settings, docs.restores)
                                                : describe_named(d, settings, docs.recoveries);
    out += fmt::format("{}:{}: {} \"{}\": {}\n", d.where.file, d.where.line, d.kind, d.name, what);
  }
  return out + fmt::format("{} document{} valid\n", report.summaries.size(), report.summaries.size() == 1 ? "" : "s");
}

}  // namespace pgr::report
