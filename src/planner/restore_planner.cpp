#include "planner/restore_planner.hpp"

#include <algorithm>
#include <regex>

#include <fmt/format.h>

#include "config/selection.hpp"
#include "model/dag.hpp"
#include "pg/pg.hpp"
#include "planner/restore_planner_impl.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

namespace pgr::planner::detail {

std::string Planner::step_id(const TocEntry& e) {
  auto it = ids_.find(e.id);
  if (it != ids_.end()) return it->second;
  std::string id = step_kind(e.desc) + ":" + display_name(e);
  if (!used_ids_.insert(id).second) {
    id += fmt::format("#{}", e.id);
    used_ids_.insert(id);
  }
  ids_[e.id] = id;
  return id;
}

Action Planner::data_action(const TocEntry& e, std::string& reason) {
  const auto& db = *in_.database;
  auto it = db.relations.find(catalog::key(e.namespace_, e.tag));
  std::string key = catalog::key(e.namespace_, e.tag);
  if (it == db.relations.end()) {
    reason = "load rows";
    return Action::create;
  }
  if (!it->second.has_rows) {
    // An empty table equals an empty archive table; otherwise its rows are loaded.
    std::int64_t want = -1;
    if (auto ex = in_.expected_rows.find(key); ex != in_.expected_rows.end()) want = ex->second;
    else if (in_.counter) want = in_.counter->archive_rows(e);
    if (want == 0) {
      reason = "present and empty, as in the archive";
      return Action::no_op;
    }
    reason = "load rows";
    return Action::create;
  }
  std::int64_t want = -1;
  if (auto ex = in_.expected_rows.find(key); ex != in_.expected_rows.end()) {
    want = ex->second;
  } else if (in_.counter) {
    want = in_.counter->archive_rows(e);
  }
  std::int64_t have = in_.counter ? in_.counter->target_rows(e.namespace_, e.tag) : -1;
  if (want >= 0 && have == want) {
    bool reload_policy = doc_.spec.existing == config::ExistingPolicy::truncate ||
                         doc_.spec.existing == config::ExistingPolicy::replace;
    std::optional<bool> same = reload_policy && in_.counter ? in_.counter->same_contents(e) : std::nullopt;
    if (same && !*same) {
      reason = fmt::format("target table has the archive's row count ({}) but other rows: truncate and reload", have);
      return Action::replace;
    }
    reason = same ? fmt::format("present with the same rows ({})", have)
             : reload_policy
                 ? fmt::format("present with the same row count ({}); contents not compared (only tables with up to {} MB "
                               "of archive data are)",
                               have, kContentCompareLimit >> 20)
                 : fmt::format("present with the same row count ({})", have);
    return Action::no_op;
  }
  switch (doc_.spec.existing) {
    case config::ExistingPolicy::skip:
      reason = fmt::format("target table has {} rows (archive: {}); kept because existing: skip", have, want);
      return Action::no_op;
    case config::ExistingPolicy::truncate:
    case config::ExistingPolicy::replace:
      reason = fmt::format("target table has {} rows, the archive {}: truncate and reload", have, want);
      return Action::replace;
    case config::ExistingPolicy::fail:
      conflict(fmt::format("table {} already has {} rows (the archive has {})", display_name(e), have, want));
      reason = "conflict";
      return Action::no_op;
  }
  return Action::create;
}

Action Planner::present_action(const TocEntry& e, std::string& reason) {
  const auto& db = *in_.database;
  const std::string& ns = e.namespace_;
  auto found_rel = [&](const std::string& name) { return db.relations.count(catalog::key(ns, name)) > 0; };
  std::optional<bool> present;
  if (e.desc == "SCHEMA") {
    present = db.schemas.count(e.tag) > 0;
  } else if (is_relation_entry(e) || e.desc == "INDEX") {
    present = found_rel(e.tag);
    if (*present && e.desc == "TABLE") {
      // Same columns? The COPY statement of the data entry lists the archive's columns.
      const auto& rel = db.relations.at(catalog::key(ns, e.tag));
      if (const auto* data = idx_.data_of(e); data && !data->copy_stmt.empty()) {
        auto open = data->copy_stmt.find('(');
        auto close = data->copy_stmt.find(')', open == std::string::npos ? 0 : open);
        if (open != std::string::npos && close != std::string::npos) {
          std::vector<std::string> cols;
          std::string list = data->copy_stmt.substr(open + 1, close - open - 1);
          size_t pos = 0;
          while (pos < list.size()) {
            auto id = pg::parse_identifier(list, pos);
            if (!id) break;
            cols.push_back(*id);
            while (pos < list.size() && (list[pos] == ',' || list[pos] == ' ')) ++pos;
          }
          std::vector<std::string> have = rel.columns;
          std::vector<std::string> want = cols;
          std::sort(have.begin(), have.end());
          std::sort(want.begin(), want.end());
          // generated columns are not in COPY: only require the archive's columns to exist
          bool subset = std::includes(have.begin(), have.end(), want.begin(), want.end());
          if (!subset) {
            // existing: replace drops and recreates it (plan_replacements decides, with its dependents)
            if (doc_.spec.existing == config::ExistingPolicy::fail) {
              conflict(fmt::format("table {} exists with other columns", display_name(e)));
            }
            reason = "exists with other columns; kept";
            return Action::no_op;
          }
        }
      }
    }
  } else if (e.desc == "CONSTRAINT" || e.desc == "FK CONSTRAINT" || e.desc == "CHECK CONSTRAINT" ||
             e.desc == "TRIGGER" || e.desc == "POLICY" || e.desc == "RULE") {
    const std::set<std::string>& set = e.desc == "TRIGGER" ? db.triggers
                                       : e.desc == "POLICY" ? db.policies
                                       : e.desc == "RULE"   ? db.rules
                                                            : db.constraints;
    // Domain constraints are tagged by the domain name, table ones by the table name.
    std::set<std::string> names = idx_.table_names(ns);
    for (const auto& t : db.types)
      if (t.rfind(ns + ".", 0) == 0) names.insert(t.substr(ns.size() + 1));
    if (auto split = split_tag(e.tag, names)) present = set.count(ns + "." + split->first + "." + split->second) > 0;
  } else if (e.desc == "FUNCTION" || e.desc == "PROCEDURE" || e.desc == "AGGREGATE") {
    present = db.functions.count(ns + "." + e.tag) > 0;
  } else if (e.desc == "TYPE" || e.desc == "DOMAIN") {
    present = db.types.count(ns + "." + e.tag) > 0;
  } else if (e.desc == "DEFAULT ACL") {
    // "DEFAULT PRIVILEGES FOR TABLES" by its role (the owner) in its schema (or all schemas)
    static const std::map<std::string, std::string> kind = {
        {"TABLES", "r"}, {"SEQUENCES", "S"}, {"FUNCTIONS", "f"}, {"TYPES", "T"}, {"SCHEMAS", "n"}};
    auto space = e.tag.rfind(' ');
    auto it = kind.find(space == std::string::npos ? e.tag : e.tag.substr(space + 1));
    if (it != kind.end()) present = db.default_acls.count(e.owner + "|" + e.namespace_ + "|" + it->second) > 0;
  } else if (e.desc == "EXTENSION") {
    present = db.extensions.count(e.tag) > 0;
  } else if (e.desc == "SEQUENCE SET") {
    static const std::regex setval(R"(setval\('(.*)',\s*(-?\d+),\s*(true|false)\))");
    std::smatch m;
    auto seq = db.sequences.find(catalog::key(ns, e.tag));
    if (seq != db.sequences.end() && std::regex_search(e.defn, m, setval)) {
      bool equal = std::to_string(seq->second.last_value) == m[2].str() &&
                   seq->second.is_called == (m[3].str() == "true");
      reason = equal ? "sequence already at the archived value" : "set the sequence to the archived value";
      return equal ? Action::no_op : Action::update;
    }
    present = false;
  } else if (e.desc == "TABLE DATA") {
    return data_action(e, reason);
  } else if (e.desc == "MATERIALIZED VIEW DATA") {
    auto it = db.relations.find(catalog::key(ns, e.tag));
    present = it != db.relations.end() && it->second.has_rows;
  } else if (e.desc == "BLOBS" || e.desc == "BLOB" || e.desc == "LARGE OBJECTS" || e.desc == "BLOB METADATA") {
    present = db.large_objects > 0;
  }
  if (present.has_value()) {
    reason = *present ? "already present" : "missing in the target";
    return *present ? Action::no_op : Action::create;
  }
  // Comments, grants, defaults, ownership links, ...: they follow the objects they belong to.
  for (int d : e.dependencies) {
    auto it = action_.find(d);
    if (it != action_.end() && (it->second == Action::create || it->second == Action::replace)) {
      reason = "its object is created";
      return Action::create;
    }
  }
  reason = "its object is already present";
  return Action::no_op;
}

void Planner::decide_actions() {
  bool fresh = !db_exists();
  // TOC order is a valid dependency order, so an entry's dependencies are decided before it.
  for (const auto& e : toc_.entries) {
    if (!included_.count(e.id)) continue;
    std::string why;
    Action a = fresh ? Action::create : present_action(e, why);
    if (fresh) why = e.desc == "TABLE DATA" ? "load rows" : "create";
    // existing: replace: dropped (the table itself, or with it by CASCADE) and recreated.
    if (auto rr = recreate_reason_.find(e.id); rr != recreate_reason_.end()) {
      a = Action::replace;
      why = rr->second;
    }
    // A recreated object brings everything attached to it back (data, sequence values,
    // comments, grants, defaults).
    if (!fresh && !recreate_reason_.count(e.id)) {
      for (int d : e.dependencies) {
        const TocEntry* dep = idx_.by_id(d);
        if (dep && recreate_reason_.count(d) && included_.count(d)) {
          a = Action::create;
          why = fmt::format("{} is recreated", display_name(*dep));
        }
      }
    }
    action_[e.id] = a;
    const auto& inc = included_.at(e.id);
    reason_[e.id] = inc.reason.empty() ? why : inc.reason + "; " + why;
  }
}

std::vector<model::TableLock> locks_for(const TocEntry& e, const TocIndex& idx) {
  std::vector<model::TableLock> out;
  auto table_key = [](const TocEntry* t) { return pg::qualified(t->namespace_, t->tag); };
  if (e.section == archive::Section::pre_data || e.section == archive::Section::none) {
    if (!is_acl_entry(e)) return {{kCatalogLock, LockMode::exclusive}};
  }
  auto touched = idx.tables_touched(e);
  LockMode mode = e.desc == "INDEX" ? LockMode::share : LockMode::exclusive;
  for (const auto* t : touched) out.push_back({table_key(t), mode});
  // A data-only archive (pg_dump -a) has no TABLE entries: the data entry names its table.
  if (out.empty() && e.desc == "TABLE DATA") out.push_back({pg::qualified(e.namespace_, e.tag), LockMode::exclusive});
  if (out.empty()) out.push_back({kCatalogLock, LockMode::exclusive});
  return out;
}

// A post-data step that follows `parent` on the same object (attach a constraint, validate a
// foreign key): unchanged when the parent is.
Step follow_up(const Step& parent, const std::string& kind, Action action, const std::string& reason) {
  Step f;
  f.id = kind + ":" + parent.object;
  f.kind = kind;
  f.phase = "post-data";
  f.object = parent.object;
  f.action = parent.action == Action::no_op ? Action::no_op : action;
  f.reason = reason;
  f.depends_on = {parent.id};
  return f;
}

// The critical-path weight of a post-data entry, as a multiple of its table's data: what the
// executor's priorities are made of, so only the ratios matter. Measured on
// bench/live_clone_bench.sh's dataset (bench/results/live-clone-20261202T011447Z.txt, its --json
// step events): the GIN index on events took 12.7 s against 6.6 s for the table's data, its
// B-tree primary key and index 1.6 s and 1.5 s; pgbench_accounts' B-tree primary key and indexes
// 4.4 s, 3.6 s and 2.7 s against 9.7 s for its data loaded by two sessions. A B-tree build weighs
// about an eighth of a GIN build, and a foreign key's validation (1.9 s for events) about half
// its table's data. Before, a B-tree build weighed as much as its table's data, so a split
// table's chain outranked another table's data and GIN build and held both sessions meanwhile.
double build_weight(const TocEntry& e) {
  if (e.desc == "INDEX") {
    if (e.defn.find(" USING gin ") != std::string::npos) return 4.0;
    if (e.defn.find(" USING gist ") != std::string::npos || e.defn.find(" USING spgist ") != std::string::npos) return 3.0;
    if (e.defn.find(" USING brin ") != std::string::npos) return 0.1;
    return 0.5;
  }
  if (e.desc == "CONSTRAINT") return 0.5;
  if (e.desc == "FK CONSTRAINT") return 0.5;
  return 0.01;
}

// PRIMARY KEY and UNIQUE constraints take ACCESS EXCLUSIVE, so they would wait for (and block)
// every other index build on the table. Build their index first with CREATE UNIQUE INDEX (a
// SHARE lock, alongside the other builds) and attach it with ADD CONSTRAINT ... USING INDEX (an
// instant step). Only the plain form is split; partitioned tables fall back at run time.
void Planner::split_unique_constraints() {
  static const std::regex simple(
      R"(^ALTER TABLE ONLY ([^\n]+)\n    ADD CONSTRAINT ("(?:[^"]|"")+"|[^\s"]+) (PRIMARY KEY|UNIQUE) \(([^()\n]+)\);\n*$)");
  std::vector<Step> attach;
  std::map<std::string, std::string> renamed;  // constraint step -> its attach step
  for (auto& s : steps_) {
    if (s.kind != "constraint" || !s.toc_id) continue;
    const TocEntry* e = idx_.by_id(s.toc_id);
    std::smatch m;
    if (!e || !std::regex_match(e->defn, m, simple)) continue;
    s.params["index_first"] = "true";
    s.params["table"] = m[1];
    s.params["constraint"] = m[2];
    s.params["constraint_type"] = m[3];
    s.params["columns"] = m[4];
    for (auto& l : s.locks) l.mode = LockMode::share;
    Step a = follow_up(s, "constraint-attach", Action::create, "attach the unique index as the constraint (instant)");
    a.locks = s.locks;
    for (auto& l : a.locks) l.mode = LockMode::exclusive;
    a.estimate.bytes = 1;
    a.params = s.params;
    renamed[s.id] = a.id;
    attach.push_back(std::move(a));
  }
  // What depended on the constraint now depends on it being attached.
  for (auto& s : steps_) {
    for (auto& d : s.depends_on) {
      auto it = renamed.find(d);
      if (it != renamed.end()) d = it->second;
    }
  }
  for (auto& a : attach) steps_.push_back(std::move(a));
}

std::vector<const TocEntry*> Planner::pre_data_tables(const TocEntry& e) const {
  std::vector<const TocEntry*> out;
  if (e.desc == "SEQUENCE OWNED BY") {
    // ALTER SEQUENCE s OWNED BY schema.table.column;
    size_t pos = e.defn.find(" OWNED BY ");
    if (pos == std::string::npos) return out;
    pos += 10;
    auto schema = pg::parse_identifier(e.defn, pos);
    if (!schema || pos >= e.defn.size() || e.defn[pos] != '.') return out;
    ++pos;
    auto table = pg::parse_identifier(e.defn, pos);
    if (table) {
      if (const auto* t = idx_.relation(*schema, *table)) out.push_back(t);
    }
    return out;
  }
  if (!is_relation_entry(e)) return idx_.tables_touched(e);
  for (int d : e.dependencies) {  // identity sequences: ALTER TABLE ... ADD GENERATED
    const TocEntry* dep = idx_.by_id(d);
    if (dep && dep->desc == "TABLE") out.push_back(dep);
  }
  return out;
}

void Planner::build_steps() {
  std::map<int, std::string> data_step_of_table;  // relation entry id -> data step id
  for (const auto& e : toc_.entries) {
    if (!included_.count(e.id)) continue;
    if (e.desc == "TABLE DATA" || e.desc == "MATERIALIZED VIEW DATA") {
      if (const auto* rel = idx_.relation(e.namespace_, e.tag)) data_step_of_table[rel->id] = step_id(e);
    }
  }
  for (const auto& e : toc_.entries) {
    if (!included_.count(e.id)) continue;
    Step s;
    s.id = step_id(e);
    s.kind = step_kind(e.desc);
    s.object = display_name(e);
    s.toc_id = e.id;
    s.action = action_.at(e.id);
    s.reason = reason_.at(e.id);
    // Comments and labels (section none) belong to the phase of what they describe.
    bool on_post_data = false;
    for (int d : e.dependencies)
      if (const auto* de = idx_.by_id(d); de && de->section == archive::Section::post_data) on_post_data = true;
    s.phase = is_acl_entry(e)                                             ? "acl"
              : e.section == archive::Section::data                       ? "data"
              : e.section == archive::Section::post_data || on_post_data ? "post-data"
                                                                          : "pre-data";
    s.locks = locks_for(e, idx_);
    // A database made from template0 already has schema public: its CREATE is skipped, its
    // owner and comment still applied (pg_restore would stop or warn on "already exists").
    if (e.desc == "SCHEMA" && e.tag == "public" && !db_exists() && s.action == Action::create) {
      s.params["skip_create"] = "true";
      s.reason = "the new database already has it: apply its owner and privileges";
    }
    std::set<std::string> deps;
    for (int d : e.dependencies)
      if (included_.count(d)) deps.insert(step_id(*idx_.by_id(d)));
    if (roots_.count(e.id)) {
      s.params["drop_first"] = "DROP TABLE IF EXISTS " + pg::qualified(e.namespace_, e.tag) + " CASCADE";
      s.locks.push_back({pg::qualified(e.namespace_, e.tag), LockMode::exclusive});
      for (const auto& t : cascade_locks_[e.id]) {
        auto dot = t.find('.');
        s.locks.push_back({pg::qualified(t.substr(0, dot), t.substr(dot + 1)), LockMode::exclusive});
      }
    }
    // Dropped by a replaced table's CASCADE: recreated only once that drop happened.
    if (auto dw = dropped_with_.find(e.id); dw != dropped_with_.end()) deps.insert(step_id(*idx_.by_id(dw->second)));
    // Post-data work on a table waits for the table's rows.
    if (e.section == archive::Section::post_data || e.desc == "MATERIALIZED VIEW DATA") {
      for (const auto* t : idx_.tables_touched(e)) {
        auto it = data_step_of_table.find(t->id);
        if (it != data_step_of_table.end() && it->second != s.id) deps.insert(it->second);
      }
    }
    if (!database_step_.empty()) deps.insert(database_step_);
    deps.insert(global_steps_.begin(), global_steps_.end());
    for (const auto& r : roles_of(e)) {
      auto it = role_steps_.find(r);
      if (it != role_steps_.end()) deps.insert(it->second);
    }
    s.depends_on.assign(deps.begin(), deps.end());
    // Estimates: data moves its stored bytes; building an index or checking a constraint reads
    // the table, so it weighs as much as the table's data.
    if (e.desc == "TABLE DATA") {
      s.estimate.bytes = std::max<std::int64_t>(e.data.bytes, 0);
      auto ex = in_.expected_rows.find(catalog::key(e.namespace_, e.tag));
      if (ex != in_.expected_rows.end()) s.estimate.rows = ex->second;
    } else if (e.section == archive::Section::post_data) {
      std::int64_t base = 0;
      for (const auto* t : idx_.tables_touched(e)) {
        if (const auto* d = idx_.data_of(*t)) base = std::max<std::int64_t>(base, d->data.bytes);
      }
      s.estimate.bytes = static_cast<std::int64_t>(static_cast<double>(base) * build_weight(e));
    }
    steps_.push_back(std::move(s));
  }
  // A table's load waits for the pre-data statements that touch the table (column defaults,
  // OWNED BY, identity, ATTACH PARTITION): run during the load they would queue behind its lock.
  // Loads do not wait for the rest of pre-data, so they overlap it.
  {
    std::map<std::string, Step*> by_id;
    for (auto& st : steps_) by_id[st.id] = &st;
    for (const auto& st : steps_) {
      if (st.phase != "pre-data" || !st.toc_id) continue;
      const TocEntry* e = idx_.by_id(st.toc_id);
      if (!e || e->desc == "TABLE" || e->desc == "SCHEMA") continue;
      for (const auto* t : pre_data_tables(*e)) {
        auto it = data_step_of_table.find(t->id);
        if (it == data_step_of_table.end()) continue;
        auto& deps = by_id.at(it->second)->depends_on;
        if (std::find(deps.begin(), deps.end(), st.id) == deps.end()) deps.push_back(st.id);
      }
    }
  }
  // Foreign keys are added NOT VALID (instant) and validated in a separate step, so validations
  // of different tables run in parallel. Partitioned tables cannot take NOT VALID keys.
  std::vector<Step> extra;
  for (auto& s : steps_) {
    if (s.kind != "fk-constraint") continue;
    const TocEntry* e = idx_.by_id(s.toc_id);
    if (!e || e->defn.find("ALTER TABLE ONLY ") == std::string::npos) continue;
    s.params["not_valid"] = "true";
    Step v = follow_up(s, "fk-validate", Action::run, "validate the foreign key added NOT VALID");
    v.estimate = s.estimate;
    s.estimate.bytes = 1;  // adding it NOT VALID is instant: the validation reads the tables
    v.locks = {s.locks.empty() ? model::TableLock{kCatalogLock, LockMode::exclusive} : s.locks.front()};
    v.params["toc_id"] = std::to_string(s.toc_id);
    extra.push_back(std::move(v));
  }
  for (auto& v : extra) steps_.push_back(std::move(v));
  add_lost_steps();
  plan_loads_into_existing();
  split_unique_constraints();
  // Post-data waits for all of pre-data, as in pg_restore: some post-data entries need pre-data
  // entries they do not name (INDEX ATTACH needs the TABLE ATTACH of its partition).
  {
    Step b;
    b.id = "barrier:pre-data";
    b.kind = "barrier";
    b.phase = "pre-data";
    b.object = "all pre-data objects";
    b.reason = "post-data work starts once every pre-data object exists";
    bool all_noop = true;
    for (const auto& s : steps_) {
      if (s.phase != "pre-data") continue;
      b.depends_on.push_back(s.id);
      if (s.action != Action::no_op) all_noop = false;
    }
    b.action = all_noop ? Action::no_op : Action::run;
    b.locks = {};
    bool any_after = false;
    for (auto& s : steps_) {
      if (s.phase == "post-data") {
        s.depends_on.push_back(b.id);
        any_after = true;
      }
    }
    if (any_after) steps_.push_back(std::move(b));
  }
  // Grants and default privileges come after every object exists (pg_restore's ACL pass):
  // ALTER DEFAULT PRIVILEGES applied early would change the grants of later objects.
  std::vector<std::string> objects;
  for (auto& s : steps_)
    if (s.phase != "acl") objects.push_back(s.id);
  bool any_acl = std::any_of(steps_.begin(), steps_.end(), [](const Step& s) { return s.phase == "acl"; });
  if (any_acl) {
    Step b;
    b.id = "barrier:objects";
    b.kind = "barrier";
    b.phase = "acl";
    b.object = "all objects";
    b.reason = "grants and default privileges are applied after every object exists";
    b.depends_on = objects;
    bool all_noop = true;
    for (auto& s : steps_)
      if (s.phase == "acl" && s.action != Action::no_op) all_noop = false;
    b.action = all_noop ? Action::no_op : Action::run;
    for (auto& s : steps_)
      if (s.phase == "acl") s.depends_on.push_back(b.id);
    steps_.push_back(std::move(b));
  }
}

model::Plan Planner::run() {
  compute_sections();
  select_entries();
  check_sections();
  plan_replacements();
  decide_actions();
  add_roles_and_database();
  build_steps();
  if (!conflicts_.empty()) {
    std::string list;
    for (auto& c : conflicts_) list += "\n  - " + c;
    fail(ErrorKind::input,
         fmt::format("Restore \"{}\": the target database \"{}\" already has conflicting objects "
                     "(existing: fail):{}",
                     doc_.metadata.name, doc_.spec.database, list),
         "restore into a new database, or set existing: skip, truncate or replace");
  }
  plan_splits();
  add_post_restore_steps();
  add_single_transaction();
  model::sort_steps(steps_);

  model::Plan plan;
  plan.id = restore_plan_id(in_.documents_fingerprint, toc_.checksum, in_.target);
  plan.created_at = in_.created_at;
  plan.kind = "restore";
  plan.document = doc_.metadata.name;
  plan.annotations = doc_.metadata.annotations;
  plan.fingerprints = {{"documents", in_.documents_fingerprint},
                       {"archive", toc_.checksum},
                       {"target", in_.target_fingerprint}};
  plan.source = in_.source;
  plan.target = in_.target;
  plan.warnings = warnings_;
  plan.steps = std::move(steps_);
  plan.params["jobs"] = std::to_string(doc_.spec.single_transaction ? 1 : doc_.spec.jobs);
  if (doc_.spec.single_transaction) plan.params["single_transaction"] = "true";
  if (doc_.spec.allow_dropping_dependents) plan.params["allow_dropping_dependents"] = "true";
  if (doc_.spec.sections.size() != 3) plan.params["sections"] = nlohmann::json(doc_.spec.sections).dump();
  plan.params["roles"] = config::to_string(doc_.spec.roles);
  plan.params["existing"] = config::to_string(doc_.spec.existing);
  nlohmann::json settings = doc_.spec.session_settings;
  plan.params["session_settings"] = settings.dump();
  for (const auto& [k, v] : extra_params_) plan.params[k] = v;
  return plan;
}

}  // namespace pgr::planner::detail

namespace pgr::planner {

using detail::Planner;

std::string restore_plan_id(const std::string& documents_fingerprint, const std::string& toc_checksum,
                            const model::Target& target) {
  std::string h = sha256_hex(fmt::format("restore\n{}\n{}\n{}\n{}\n{}", documents_fingerprint, toc_checksum,
                                         target.connection, target.conninfo, target.database));
  return "r-" + h.substr(0, 16);
}

model::Plan plan_restore(const RestoreInputs& in) {
  if (!in.document || !in.toc || !in.cluster || !in.database) {
    fail(ErrorKind::internal, "plan_restore: missing inputs");
  }
  Planner p(in);
  return p.run();
}

}  // namespace pgr::planner
