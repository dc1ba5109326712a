// Restores into what already exists: sections (pg_restore --section), existing: replace (drop
// what is replaced with everything that depends on it, recreate what the archive holds, list
// what is lost), loads into tables that foreign keys point at (one TRUNCATE for the set, or drop
// and re-add the constraints of tables that are not reloaded; foreign-key order; cycles), and the
// single transaction.
#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "pg/pg.hpp"
#include "planner/restore_planner_impl.hpp"
#include "util/error.hpp"

namespace pgr::planner::detail {

namespace {

std::string section_name(archive::Section s) { return archive::to_string(s); }

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
  return out;
}

// "s.t" of a catalog key, quoted for SQL.
std::string quoted_key(const std::string& key) {
  auto dot = key.find('.');
  return pg::qualified(key.substr(0, dot), key.substr(dot + 1));
}

// Tables of `members` whose foreign keys among them (`within`: referencing table -> its keys)
// form cycles: Tarjan's strongly connected components with more than one table. A table that
// references itself is no cycle: its rows are checked at the end of its own COPY.
std::vector<std::vector<std::string>> fk_cycles(
    const std::vector<std::string>& members,
    std::map<std::string, std::vector<const catalog::ForeignKey*>>& within) {
  std::map<std::string, int> index, low;
  std::vector<std::string> stack;
  std::set<std::string> on_stack;
  std::vector<std::vector<std::string>> cycles;
  int counter = 0;
  std::function<void(const std::string&)> visit = [&](const std::string& v) {
    index[v] = low[v] = counter++;
    stack.push_back(v);
    on_stack.insert(v);
    for (const auto* fk : within[v]) {
      std::string w = catalog::key(fk->ref_schema, fk->ref_table);
      if (w == v) continue;
      if (!index.count(w)) {
        visit(w);
        low[v] = std::min(low[v], low[w]);
      } else if (on_stack.count(w)) {
        low[v] = std::min(low[v], index[w]);
      }
    }
    if (low[v] == index[v]) {
      std::vector<std::string> scc;
      std::string w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack.erase(w);
        scc.push_back(w);
      } while (w != v);
      if (scc.size() > 1) cycles.push_back(scc);
    }
  };
  for (const auto& m : members)
    if (!index.count(m)) visit(m);
  return cycles;
}

// The pair of steps for a foreign key of a table that keeps its rows while the table it
// references is reloaded: drop it before the load, add it back (validated) after.
std::pair<Step, Step> fk_drop_and_restore(const catalog::ForeignKey& fk, const std::string& database_step) {
  std::string from = catalog::key(fk.schema, fk.table), to = catalog::key(fk.ref_schema, fk.ref_table);
  std::string object = fk.schema + "." + fk.table + " " + fk.name;
  std::map<std::string, std::string> params = {{"table", pg::qualified(fk.schema, fk.table)},
                                               {"constraint", pg::quote_ident(fk.name)},
                                               {"definition", fk.definition}};
  Step d;
  d.id = "fk-drop:" + object;
  d.kind = "fk-drop";
  d.phase = "data";
  d.object = object;
  d.action = Action::remove;
  d.reason = fmt::format("references {}, which is reloaded while {} keeps its rows: dropped before the load, added back after",
                         to, from);
  d.params = params;
  d.locks = {{pg::qualified(fk.schema, fk.table), LockMode::exclusive}, {quoted_key(to), LockMode::exclusive}};
  if (!database_step.empty()) d.depends_on.push_back(database_step);
  Step a;
  a.id = "fk-restore:" + object;
  a.kind = "fk-restore";
  a.phase = "post-data";
  a.object = object;
  a.action = Action::create;
  a.reason = fmt::format("add back (and validate) the foreign key dropped for the load of {}", to);
  a.params = params;
  a.locks = d.locks;
  a.depends_on = {d.id};
  return {std::move(d), std::move(a)};
}

// Tables that reference each other cannot be loaded while their foreign keys are in place,
// and only a superuser may switch the checks off (session_replication_role): say exactly that.
[[noreturn]] void refuse_cycle(const std::string& document, const std::string& role, const std::set<std::string>& in_cycle,
                               std::map<std::string, std::vector<const catalog::ForeignKey*>>& within) {
  std::vector<std::string> keys, tables;
  for (const auto& t : in_cycle) {
    tables.push_back(t);
    for (const auto* fk : within[t])
      if (in_cycle.count(catalog::key(fk->ref_schema, fk->ref_table)))
        keys.push_back(fk->name + " (" + t + " -> " + fk->ref_schema + "." + fk->ref_table + ")");
  }
  fail(ErrorKind::input,
       fmt::format("Restore \"{}\": tables {} of the target reference each other by foreign keys {}: no load order "
                   "satisfies them while they are in place. pgrecover loads such tables with "
                   "session_replication_role = replica, which needs a superuser, and role \"{}\" is not one",
                   document, join(tables), join(keys), role),
       "restore as a superuser, or drop those foreign keys before the restore and add them back after, or "
       "restore into a new database");
}

// One TRUNCATE for reloaded tables that foreign keys connect (a table referenced by another
// cannot be truncated alone).
Step group_truncate(const std::vector<std::string>& members,
                    std::map<std::string, std::vector<const catalog::ForeignKey*>>& within,
                    const std::string& database_step) {
  Step t;
  t.id = "truncate:" + members.front();
  t.kind = "truncate";
  t.phase = "data";
  t.object = join(members);
  t.action = Action::run;
  std::vector<std::string> fk_names, quoted;
  for (const auto& m : members) {
    quoted.push_back(quoted_key(m));
    for (const auto* fk : within[m]) fk_names.push_back(fk->name);
    t.locks.push_back({quoted_key(m), LockMode::exclusive});
  }
  std::sort(fk_names.begin(), fk_names.end());
  fk_names.erase(std::unique(fk_names.begin(), fk_names.end()), fk_names.end());
  t.reason = fmt::format("foreign keys {} connect these reloaded tables: TRUNCATE them together, then load them in "
                         "foreign-key order",
                         join(fk_names));
  t.params["sql"] = "TRUNCATE ONLY " + join(quoted);
  if (!database_step.empty()) t.depends_on.push_back(database_step);
  return t;
}

}  // namespace

// pg_restore --section, as pg_restore 15 does it (checked with --section on real archives):
// entries without a section of their own (comments, grants, labels) go with the object they
// belong to, their first dependency; those that belong to none (DEFAULT ACL) go with the section
// of the entries before them in TOC order, so default privileges come with post-data.
void Planner::compute_sections() {
  archive::Section current = archive::Section::pre_data;
  for (const auto& e : toc_.entries) {
    if (e.section != archive::Section::none) current = e.section;
    archive::Section s = current;
    if (e.section == archive::Section::none && !e.dependencies.empty()) {
      auto parent = section_of_.find(e.dependencies.front());
      if (parent != section_of_.end()) s = parent->second;
    }
    section_of_[e.id] = s;
  }
}

bool Planner::section_wanted(const TocEntry& e) const {
  const auto& want = doc_.spec.sections;
  auto it = section_of_.find(e.id);
  archive::Section s = it == section_of_.end() ? e.section : it->second;
  if (s == archive::Section::none) s = archive::Section::pre_data;
  return std::find(want.begin(), want.end(), section_name(s)) != want.end();
}

// Data and post-data entries need their tables: restored by this plan, or already in the target.
void Planner::check_sections() const {
  std::vector<std::string> missing;
  std::set<std::string> seen;
  for (const auto& e : toc_.entries) {
    if (!included_.count(e.id)) continue;
    auto sec = section_of_.at(e.id);
    if (sec != archive::Section::data && sec != archive::Section::post_data) continue;
    std::vector<std::pair<std::string, std::string>> tables;
    if (e.desc == "TABLE DATA") {
      tables.emplace_back(e.namespace_, e.tag);
    } else {
      for (const auto* t : idx_.tables_touched(e)) {
        if (included_.count(t->id)) continue;
        tables.emplace_back(t->namespace_, t->tag);
      }
    }
    for (const auto& [ns, name] : tables) {
      const TocEntry* rel = idx_.relation(ns, name);
      if (rel && included_.count(rel->id)) continue;
      bool present = db_exists() && in_.database->relations.count(catalog::key(ns, name));
      if (!present && seen.insert(ns + "." + name).second) missing.push_back(ns + "." + name);
    }
  }
  if (missing.empty()) return;
  fail(ErrorKind::input,
       fmt::format("Restore \"{}\": sections [{}] restore data or post-data objects of tables that are not in the "
                   "target database \"{}\" and not restored by this plan: {}",
                   doc_.metadata.name, join(doc_.spec.sections), doc_.spec.database, join(missing)),
       "restore the pre-data section first (sections: [pre-data] or [pre-data, post-data]), or add pre-data to sections");
}

// The target table's columns that the archive's table does not have (generated columns, which
// COPY never lists, left out on both sides).
std::vector<std::string> Planner::extra_columns(const TocEntry& e) const {
  const auto& db = *in_.database;
  auto rel = db.relations.find(catalog::key(e.namespace_, e.tag));
  const auto* data = idx_.data_of(e);
  if (rel == db.relations.end() || !data || data->copy_stmt.empty()) return {};
  auto open = data->copy_stmt.find('(');
  auto close = data->copy_stmt.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return {};
  std::string list = data->copy_stmt.substr(open + 1, close - open - 1);
  std::set<std::string> archive;
  size_t pos = 0;
  while (pos < list.size()) {
    auto id = pg::parse_identifier(list, pos);
    if (!id) return {};  // a COPY statement we cannot read: no claim either way
    archive.insert(*id);
    while (pos < list.size() && (list[pos] == ',' || list[pos] == ' ')) ++pos;
  }
  const auto& gen = rel->second.generated_columns;
  std::vector<std::string> out;
  for (const auto& c : rel->second.columns)
    if (!archive.count(c) && std::find(gen.begin(), gen.end(), c) == gen.end()) out.push_back(c);
  return out;
}

// The archive's columns (from the COPY statement of its data) the target table lacks.
std::vector<std::string> Planner::missing_columns(const TocEntry& e) const {
  const auto& db = *in_.database;
  auto rel = db.relations.find(catalog::key(e.namespace_, e.tag));
  const auto* data = idx_.data_of(e);
  if (rel == db.relations.end() || !data || data->copy_stmt.empty()) return {};
  auto open = data->copy_stmt.find('(');
  auto close = data->copy_stmt.find(')', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos) return {};
  std::string list = data->copy_stmt.substr(open + 1, close - open - 1);
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < list.size()) {
    auto id = pg::parse_identifier(list, pos);
    if (!id) break;
    // generated columns are not in COPY: only the archive's columns must exist
    if (std::find(rel->second.columns.begin(), rel->second.columns.end(), *id) == rel->second.columns.end()) {
      out.push_back(*id);
    }
    while (pos < list.size() && (list[pos] == ',' || list[pos] == ' ')) ++pos;
  }
  return out;
}

const TocEntry* Planner::entry_for(const catalog::DroppedObject& o) const {
  std::string table = o.on_table.rfind(o.schema + ".", 0) == 0 ? o.on_table.substr(o.schema.size() + 1) : o.on_table;
  for (const auto& e : toc_.entries) {
    if (e.namespace_ != o.schema) continue;
    bool match = false;
    if (o.catalog == "pg_class") {
      match = (o.kind == "i" || o.kind == "I") ? e.desc == "INDEX" && e.tag == o.name
                                               : is_relation_entry(e) && e.tag == o.name;
    } else if (o.catalog == "pg_constraint") {
      match = (e.desc == "CONSTRAINT" || e.desc == "FK CONSTRAINT" || e.desc == "CHECK CONSTRAINT") &&
              e.tag == table + " " + o.name;
    } else if (o.catalog == "pg_trigger") {
      match = e.desc == "TRIGGER" && e.tag == table + " " + o.name;
    } else if (o.catalog == "pg_policy") {
      match = e.desc == "POLICY" && e.tag == table + " " + o.name;
    } else if (o.catalog == "pg_rewrite") {
      match = e.desc == "RULE" && e.tag == table + " " + o.name;
    } else if (o.catalog == "pg_proc") {
      match = (e.desc == "FUNCTION" || e.desc == "PROCEDURE" || e.desc == "AGGREGATE") && e.tag == o.name;
    } else if (o.catalog == "pg_type") {
      match = (e.desc == "TYPE" || e.desc == "DOMAIN") && e.tag == o.name;
    }
    if (match) return &e;
  }
  return nullptr;
}

// existing: replace. A table whose columns differ is dropped with DROP TABLE ... CASCADE and
// recreated. What the cascade takes with it (read from the target's pg_depend) is recreated from
// the archive when the archive holds it (shown -/+), else listed as lost (shown -).
void Planner::plan_replacements() {
  if (!db_exists() || doc_.spec.existing != config::ExistingPolicy::replace) return;
  std::vector<std::pair<std::string, std::string>> tables;
  std::map<std::string, int> root_of;  // "schema.table" -> TABLE entry id
  for (const auto& e : toc_.entries) {
    if (!included_.count(e.id) || e.desc != "TABLE" || !section_wanted(e)) continue;
    if (!in_.database->relations.count(catalog::key(e.namespace_, e.tag))) continue;
    auto missing = missing_columns(e);
    auto extra = extra_columns(e);
    if (missing.empty() && extra.empty()) continue;
    roots_.insert(e.id);
    root_of[catalog::key(e.namespace_, e.tag)] = e.id;
    tables.emplace_back(e.namespace_, e.tag);
    std::string what = !missing.empty() ? fmt::format("lacks column(s) {}", join(missing)) : "";
    if (!extra.empty()) what += fmt::format("{}has column(s) {} that the archive's table does not", what.empty() ? "" : " and ", join(extra));
    recreate_reason_[e.id] = fmt::format("the target table {}: DROP TABLE ... CASCADE and recreate (existing: replace)", what);
  }
  if (tables.empty() || !in_.dependencies) return;
  for (const auto& o : in_.dependencies->drop_cascade(tables)) {
    auto root = root_of.find(o.root);
    if (root == root_of.end()) continue;
    // The drop locks the other tables it changes (a foreign key of theirs, a trigger, ...): no
    // load of those tables may run beside it (each would wait for the other).
    if (!o.on_table.empty() && o.on_table != o.root) cascade_locks_[root->second].insert(o.on_table);
    if (o.catalog == "pg_class" && catalog::key(o.schema, o.name) == o.root) continue;  // the root itself
    if (o.catalog == "pg_constraint" && !o.on_table.empty()) dropped_constraints_.insert(o.on_table + "." + o.name);
    const TocEntry* e = entry_for(o);
    if (e && included_.count(e->id)) {
      if (roots_.count(e->id)) continue;
      dropped_with_.emplace(e->id, root->second);
      recreate_reason_.emplace(e->id, fmt::format("dropped with {} (DROP TABLE ... CASCADE): recreated from the archive",
                                                  o.root));
      continue;
    }
    if (o.part) continue;  // recreated by its relation's own definition
    if (std::any_of(lost_.begin(), lost_.end(), [&](const auto& l) {
          return l.catalog == o.catalog && l.schema == o.schema && l.name == o.name && l.on_table == o.on_table;
        })) {
      continue;  // dropped with two roots: listed once
    }
    lost_.push_back(o);
  }
  if (!lost_.empty()) {
    std::vector<std::string> names;
    for (const auto& o : lost_) names.push_back(fmt::format("{} {}", o.type, o.identity));
    warnings_.push_back(fmt::format(
        "{} object(s) that the restore does not recreate depend on replaced tables and would be dropped with them: {}; "
        "apply refuses this plan unless the document sets allow_dropping_dependents: true",
        lost_.size(), join(names)));
  }
}

void Planner::add_lost_steps() {
  for (const auto& o : lost_) {
    Step s;
    std::string kind = o.type;
    if (o.catalog == "pg_class") {
      kind = o.kind == "v" ? "view" : o.kind == "m" ? "materialized-view" : o.kind == "S" ? "sequence"
             : (o.kind == "i" || o.kind == "I") ? "index" : o.kind == "f" ? "foreign-table" : "table";
    } else if (o.catalog == "pg_constraint") {
      kind = o.kind == "f" ? "fk-constraint" : "constraint";
    } else if (o.catalog == "pg_proc") {
      kind = "function";
    }
    std::replace(kind.begin(), kind.end(), ' ', '-');
    std::string table = o.on_table.rfind(o.schema + ".", 0) == 0 ? o.on_table.substr(o.schema.size() + 1) : o.on_table;
    s.object = o.on_table.empty() || o.catalog == "pg_class" ? o.schema + "." + o.name : o.schema + "." + table + " " + o.name;
    s.id = "lost:" + kind + ":" + s.object;
    s.kind = kind;
    s.phase = "pre-data";
    s.action = Action::remove;
    s.reason = fmt::format("depends on {}, which is dropped and recreated (existing: replace); not {}: lost",
                           o.root, entry_for(o) ? "restored by this plan (selection or sections)" : "in the archive");
    s.params = {{"lost", "true"}, {"identity", o.type + " " + o.identity}, {"dropped_by", o.root}};
    auto root = idx_.relation(o.root.substr(0, o.root.find('.')), o.root.substr(o.root.find('.') + 1));
    if (root && ids_.count(root->id)) s.depends_on = {ids_.at(root->id)};
    if (!database_step_.empty()) s.depends_on.push_back(database_step_);
    s.locks = {};
    steps_.push_back(std::move(s));
  }
}

// Loads into tables that already exist in the target and that foreign keys point at. TRUNCATE of
// a table fails while another table's foreign key references it, so:
//   - tables reloaded together that foreign keys connect are truncated together, in one step,
//     and loaded in foreign-key order (referenced tables first) without a TRUNCATE of their own;
//   - a foreign key from a table that is not reloaded is dropped before and added back after;
//   - a cycle of foreign keys among reloaded tables is loaded with session_replication_role =
//     replica (superuser only; otherwise planning says what blocks it).
void Planner::plan_loads_into_existing() {
  if (!db_exists() || in_.database->foreign_keys.empty()) return;
  std::map<std::string, Step*> load_of;  // catalog key -> its table-data step (reloaded, existing table)
  for (auto& s : steps_) {
    if (s.kind != "table-data" || s.action == Action::no_op || !s.toc_id) continue;
    const TocEntry* e = idx_.by_id(s.toc_id);
    std::string key = catalog::key(e->namespace_, e->tag);
    if (!in_.database->relations.count(key)) continue;
    const TocEntry* rel = idx_.relation(e->namespace_, e->tag);
    if (rel && (roots_.count(rel->id) || dropped_with_.count(rel->id))) continue;  // recreated: no foreign keys yet
    load_of[key] = &s;
  }
  if (load_of.empty()) return;
  // Union-find over reloaded tables connected by foreign keys.
  std::map<std::string, std::string> parent;
  std::function<std::string(const std::string&)> find = [&](const std::string& k) {
    auto it = parent.find(k);
    if (it == parent.end() || it->second == k) return k;
    return it->second = find(it->second);
  };
  std::map<std::string, std::vector<const catalog::ForeignKey*>> within;  // referencing table -> its keys in the set
  std::vector<const catalog::ForeignKey*> outside;                         // from tables that are not reloaded
  for (const auto& fk : in_.database->foreign_keys) {
    std::string from = catalog::key(fk.schema, fk.table), to = catalog::key(fk.ref_schema, fk.ref_table);
    if (dropped_constraints_.count(from + "." + fk.name)) continue;
    if (!load_of.count(to)) continue;
    if (load_of.count(from)) {
      parent.try_emplace(from, from);
      parent.try_emplace(to, to);
      parent[find(from)] = find(to);
      within[from].push_back(&fk);
    } else {
      outside.push_back(&fk);
    }
  }
  // Foreign keys from tables that keep their rows: dropped before the loads, added back after.
  std::map<std::string, std::vector<std::string>> drops_before;  // referenced table -> fk-drop step ids
  std::vector<Step> extra;
  for (const auto* fk : outside) {
    std::string to = catalog::key(fk->ref_schema, fk->ref_table);
    auto [d, a] = fk_drop_and_restore(*fk, database_step_);
    a.depends_on.push_back(load_of.at(to)->id);
    drops_before[to].push_back(d.id);
    extra.push_back(std::move(d));
    extra.push_back(std::move(a));
  }
  for (auto& [to, drops] : drops_before) {
    auto& deps = load_of.at(to)->depends_on;
    deps.insert(deps.end(), drops.begin(), drops.end());
  }
  // Groups of reloaded tables connected by foreign keys: one TRUNCATE, foreign-key order.
  std::map<std::string, std::vector<std::string>> groups;
  for (auto& [k, p] : parent) groups[find(k)].push_back(k);
  for (auto& [root, members] : groups) {
    std::sort(members.begin(), members.end());
    // Foreign-key order: a table loads after the tables it references; cycles cannot be ordered.
    auto cycles = fk_cycles(members, within);
    std::set<std::string> in_cycle;
    for (const auto& c : cycles) in_cycle.insert(c.begin(), c.end());
    if (!cycles.empty() && !in_.target_superuser) refuse_cycle(doc_.metadata.name, in_.target_role, in_cycle, within);
    Step t = group_truncate(members, within, database_step_);
    for (const auto& m : members) {
      auto it = drops_before.find(m);
      if (it != drops_before.end()) t.depends_on.insert(t.depends_on.end(), it->second.begin(), it->second.end());
    }
    for (const auto& m : members) {
      Step* load = load_of.at(m);
      load->params["truncated_by"] = t.id;
      load->depends_on.push_back(t.id);
      if (in_cycle.count(m)) {
        load->params["replication_role"] = "replica";
        load->reason += "; loaded with session_replication_role = replica: its foreign keys form a cycle, so no load "
                        "order satisfies them (foreign-key checks and triggers do not fire, as with pg_restore "
                        "--disable-triggers)";
        continue;
      }
      for (const auto* fk : within[m]) {
        std::string to = catalog::key(fk->ref_schema, fk->ref_table);
        if (to != m) load->depends_on.push_back(load_of.at(to)->id);
      }
      if (!within[m].empty()) load->reason += "; after the tables it references (foreign-key order)";
    }
    extra.push_back(std::move(t));
  }
  for (auto& s : extra) steps_.push_back(std::move(s));
}

// single_transaction: one worker runs every step in one transaction (pg_restore -1). CREATE
// DATABASE cannot run inside a transaction, so it comes before BEGIN.
void Planner::add_single_transaction() {
  if (!doc_.spec.single_transaction) return;
  Step b;
  b.id = "transaction:begin";
  b.kind = "begin";
  b.phase = "globals";
  b.object = "one transaction";
  b.action = Action::run;
  b.reason = doc_.spec.jobs > 1
                 ? fmt::format("single_transaction: every step below runs in this one transaction, so jobs is 1 "
                               "(the document asks for {}); a failure rolls all of it back",
                               doc_.spec.jobs)
                 : "single_transaction: every step below runs in this one transaction; a failure rolls all of it back";
  if (!database_step_.empty()) b.depends_on.push_back(database_step_);
  Step c;
  c.id = "transaction:commit";
  c.kind = "commit";
  c.phase = "post-restore";
  c.object = "one transaction";
  c.action = Action::run;
  c.reason = "commit: nothing of the restore is visible in the target before this";
  // Verification runs its checks in read-only transactions of their own: after the commit.
  for (auto& s : steps_) {
    if (s.id == database_step_) continue;
    if (s.kind == "verify" || s.kind == "row-count") {
      s.depends_on.push_back(c.id);
      s.reason += " (after the commit)";
      continue;
    }
    s.depends_on.push_back(b.id);
    c.depends_on.push_back(s.id);
  }
  c.depends_on.push_back(b.id);
  bool any = std::any_of(steps_.begin(), steps_.end(), [&](const Step& s) { return s.action != Action::no_op && s.id != database_step_; });
  if (!any) b.action = c.action = Action::no_op;
  steps_.push_back(std::move(b));
  steps_.push_back(std::move(c));
}

}  // namespace pgr::planner::detail
