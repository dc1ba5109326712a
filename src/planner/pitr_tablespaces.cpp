#include "planner/pitr_tablespaces.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.hpp"

namespace pgr::planner {

namespace P = model::pitr_param;

std::vector<TablespacePlacement> place_tablespaces(const PitrFacts& facts, const PhysicalBackup& chosen) {
  const auto& doc = *facts.document;
  const auto& mapping = doc.spec.tablespace_mapping;
  std::vector<TablespacePlacement> out;
  for (const auto& [from, to] : mapping) {
    bool known = false;
    for (const auto& t : chosen.info.tablespaces) known = known || t.location == from;
    if (!known) {
      std::string list;
      for (const auto& t : chosen.info.tablespaces) list += fmt::format("{}{} ({})", list.empty() ? "" : ", ", t.location, t.name);
      fail(ErrorKind::input,
           fmt::format("PointInTimeRecovery \"{}\": to.tablespace_mapping names \"{}\", which is not the location of a "
                       "tablespace in backup {} (its tablespaces: {})",
                       doc.metadata.name, from, chosen.backup.id, list.empty() ? "none" : list),
           "the keys are the tablespaces' locations on the source (pgrecover backups show lists them)");
    }
  }
  for (const auto& t : chosen.info.tablespaces) {
    auto m = mapping.find(t.location);
    TablespacePlacement p{t, m == mapping.end() ? t.location : m->second, m != mapping.end(), "", ""};
    auto old = facts.old_tablespace_links.find(p.location);
    if (facts.occupied_folders.count(p.location) && !p.mapped && in_place(facts) && old != facts.old_tablespace_links.end()) {
      // The replaced cluster's own tablespace: it goes aside with its data directory.
      p.moved_aside_to = moved_aside_name(facts, p.location);
      p.old_oid = old->second;
    } else if (facts.finished_run.empty() && facts.occupied_folders.count(p.location)) {
      if (p.mapped) {
        fail(ErrorKind::input,
             fmt::format("PointInTimeRecovery \"{}\": tablespace \"{}\" (oid {}) is mapped to \"{}\", which is not empty",
                         doc.metadata.name, t.name, t.oid, p.location),
             "map it to an empty or absent folder; nothing was changed");
      }
      fail(ErrorKind::input,
           fmt::format("PointInTimeRecovery \"{}\": tablespace \"{}\" (oid {}) would be recovered into its original "
                       "location \"{}\", which is not empty (a live cluster's tablespace, or an earlier recovery's)",
                       doc.metadata.name, t.name, t.oid, p.location),
           fmt::format("map it to a new folder: to.tablespace_mapping: {{\"{}\": \"/NEW/FOLDER\"}}; nothing was changed",
                       t.location));
    }
    out.push_back(std::move(p));
  }
  return out;
}

void add_tablespace_steps(const std::vector<TablespacePlacement>& placed, model::Plan& plan) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : placed) {
    const auto& t = p.tablespace;
    nlohmann::json entry = {{"oid", t.oid}, {"name", t.name}, {"file", t.file}, {"original", t.location}, {"location", p.location}};
    if (!p.moved_aside_to.empty()) {
      entry["moved_aside_to"] = p.moved_aside_to;
      entry["old_oid"] = p.old_oid;
    }
    params.push_back(std::move(entry));
    model::Step s;
    s.id = "tablespace-" + t.oid;
    s.kind = "tablespace-directory";
    s.phase = "recovery";
    s.object = p.location;
    s.action = p.moved_aside_to.empty() ? model::Action::create : model::Action::replace;
    s.reason = fmt::format("tablespace \"{}\" (oid {}, {} bytes) from {}: {}; pg_tblspc/{} will point here", t.name, t.oid,
                           t.bytes, t.file,
                           p.mapped ? fmt::format("mapped from \"{}\" by to.tablespace_mapping", t.location)
                           : p.moved_aside_to.empty()
                               ? std::string("its original location (absent or empty)")
                               : fmt::format("its original location, which holds the old cluster's tablespace: {} is "
                                             "renamed to {} (kept, never deleted) and the old data directory's "
                                             "pg_tblspc/{} is pointed at it",
                                             p.location, p.moved_aside_to, p.old_oid),
                           t.oid);
    if (!p.moved_aside_to.empty()) s.depends_on = {"data-directory"};
    s.estimate.bytes = static_cast<std::int64_t>(t.bytes);
    plan.steps.push_back(std::move(s));
  }
  plan.params[P::tablespaces] = params.dump();
}

}  // namespace pgr::planner
