// What a Restore's selection restores: seeds, what belongs to them, what they need.
#include <regex>

#include <fmt/format.h>

#include "config/selection.hpp"
#include "model/dag.hpp"
#include "pg/pg.hpp"
#include "planner/restore_planner_impl.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

namespace pgr::planner::detail {

void Planner::select_entries() {
  const auto& sel = doc_.spec.select;
  bool everything = sel.empty();
  bool roles_skipped = doc_.spec.roles == config::RolesPolicy::no_owner;
  auto wanted_kind = [&](const TocEntry& e) {
    if (is_session_entry(e) || is_database_entry(e)) return false;  // the database's own: restore_globals.cpp
    if (!section_wanted(e)) return false;  // sections: like pg_restore --section
    if (roles_skipped && is_acl_entry(e)) return false;  // no-owner: ownership and grants are skipped
    return true;
  };
  // 1. Seeds: what the selection names.
  for (const auto& e : toc_.entries) {
    if (!wanted_kind(e)) continue;
    bool seed = false;
    if (everything) {
      seed = true;
    } else if (e.desc == "SCHEMA") {
      seed = !sel.schemas.empty() && config::selects_schema(sel, e.tag);
    } else if (is_relation_entry(e) && e.desc != "SEQUENCE") {
      seed = config::selects_table(sel, e.namespace_, e.tag);
    } else if (!e.namespace_.empty() && !is_attached_entry(e)) {
      // functions, types, ... are selected with their schema (not by table patterns)
      seed = !sel.schemas.empty() && config::selects_schema(sel, e.namespace_);
    }
    // Exclusions win over everything, including a whole-archive restore.
    if (seed && (is_relation_entry(e) || e.desc == "TABLE DATA")) {
      if (!config::selects_table(sel, e.namespace_, e.tag)) seed = false;
    }
    if (seed && e.desc == "SCHEMA" && !config::selects_schema(sel, e.tag)) seed = false;
    if (seed) included_[e.id] = {true, ""};
  }
  // 2. What hangs off a selected object follows it (data, indexes, constraints, triggers,
  //    comments, grants, owned sequences), to a fixpoint. A foreign key comes only when every
  //    table it touches is restored; otherwise it is skipped with a warning.
  bool changed = true;
  size_t before_round = 0;
  while (included_.size() != before_round) {
  before_round = included_.size();
  changed = true;
  while (changed) {
    changed = false;
    for (const auto& e : toc_.entries) {
      if (included_.count(e.id) || !wanted_kind(e) || !is_attached_entry(e)) continue;
      // The owner: the relation it belongs to, else its first non-schema dependency; a schema
      // owns it only when the schema itself was selected.
      const TocEntry* owner = nullptr;
      if (!is_relation_entry(e)) {
        // data, constraints, foreign keys, triggers: the table they are on (named in the tag)
        auto touched = idx_.tables_touched(e);
        if (!touched.empty()) owner = touched.front();
      }
      for (int d : e.dependencies) {
        if (owner) break;
        const TocEntry* dep = idx_.by_id(d);
        if (dep && is_relation_entry(*dep) && dep->desc != "SEQUENCE") {
          owner = dep;
          break;
        }
      }
      for (int d : e.dependencies) {
        const TocEntry* dep = idx_.by_id(d);
        if (!owner && dep && dep->desc != "SCHEMA") owner = dep;
      }
      for (int d : e.dependencies) {
        const TocEntry* dep = idx_.by_id(d);
        if (!owner && dep) owner = dep;
      }
      if (!owner) continue;
      auto owner_it = included_.find(owner->id);
      if (owner_it == included_.end()) continue;
      if (owner->desc == "SCHEMA" && !owner_it->second.selected) continue;
      const TocEntry* parent = owner;
      if (e.desc == "FK CONSTRAINT") {
        bool all = true;
        std::string missing;
        for (const auto* t : idx_.tables_touched(e)) {
          if (!included_.count(t->id) || !included_.at(t->id).selected) {
            all = false;
            missing = display_name(*t);
          }
        }
        if (!all) {
          if (skipped_fks_.insert(display_name(e)).second) {
            warnings_.push_back(fmt::format(
                "foreign key {} is skipped: it references {}, which is not in the selection", display_name(e), missing));
          }
          continue;
        }
      }
      bool data_of_unselected_table = (e.desc == "TABLE DATA" || e.desc == "MATERIALIZED VIEW DATA") &&
                                      !included_.at(parent->id).selected;
      if (data_of_unselected_table) continue;  // a table pulled in for its definition keeps no data
      bool selected = included_.at(parent->id).selected && parent->desc != "SCHEMA";
      std::string why = selected && everything ? "" : fmt::format("belongs to {}", display_name(*parent));
      included_[e.id] = {selected, everything ? "" : why};
      changed = true;
    }
  }
  // 3. What the included entries need: their schema, types, functions used by defaults, the
  //    sequences of serial columns; transitively. Pulled-in tables come without their data.
  std::vector<int> queue;
  for (auto& [id, inc] : included_) queue.push_back(id);
  while (!queue.empty()) {
    int id = queue.back();
    queue.pop_back();
    const TocEntry* e = idx_.by_id(id);
    if (!e) continue;
    for (int d : e->dependencies) {
      const TocEntry* dep = idx_.by_id(d);
      if (!dep || included_.count(d) || !wanted_kind(*dep)) continue;
      if (dep->desc == "TABLE DATA") continue;
      included_[d] = {false, fmt::format("needed by {}", display_name(*e))};
      queue.push_back(d);
    }
  }
  }

  if (!everything) {
    int selected = 0;
    for (auto& [id, inc] : included_)
      if (inc.selected && is_relation_entry(*idx_.by_id(id))) ++selected;
    if (selected == 0) {
      fail(ErrorKind::input,
           fmt::format("Restore \"{}\": the selection matches no table, view or sequence in the archive",
                       doc_.metadata.name),
           "check select.schemas / select.tables against \"pgrecover inspect ARCHIVE\"");
    }
  }
}


}  // namespace pgr::planner::detail
