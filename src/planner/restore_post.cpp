// The post-restore steps: analyze, sequence-fix, verify (roles and the database: restore_globals.cpp).
#include <regex>

#include <fmt/format.h>

#include "config/selection.hpp"
#include "model/dag.hpp"
#include "pg/pg.hpp"
#include "planner/restore_planner_impl.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

namespace pgr::planner::detail {

namespace {

// Tables with at least this much data (as stored in the archive) get a row-count step of their own.
constexpr std::int64_t kOwnRowCountBytes = std::int64_t{1} << 20;

// A post-restore step of `kind` on the table that `data` loads, after it.
Step after_load(const std::string& kind, const Step& data) {
  Step s;
  s.id = kind + ":" + data.object;
  s.kind = kind;
  s.phase = "post-restore";
  s.object = data.object;
  s.depends_on = {data.id};
  return s;
}

}  // namespace

void Planner::add_post_restore_steps() {
  std::map<std::string, const Step*> by_id;
  for (const auto& s : steps_) by_id[s.id] = &s;
  std::vector<Step> extra;
  bool any_change = false;
  for (const auto& s : steps_)
    if (s.action != Action::no_op) any_change = true;
  std::vector<std::string> verify_deps;
  std::vector<std::string> verified_tables;
  size_t counted_alone = 0;  // tables with a row-count step of their own
  // Post-data steps (other than foreign keys) per table entry, computed once.
  std::map<int, std::vector<std::string>> post_data_of;
  for (const auto& o : steps_) {
    if (o.phase != "post-data" || o.kind == "fk-constraint" || o.kind == "fk-validate") continue;
    const TocEntry* oe = idx_.by_id(o.toc_id);
    if (!oe) continue;
    for (const auto* t : idx_.tables_touched(*oe)) post_data_of[t->id].push_back(o.id);
  }
  for (const auto& s : steps_) {
    if (s.kind != "table-data" && s.kind != "materialized-view-data") continue;
    const TocEntry* e = idx_.by_id(s.toc_id);
    const TocEntry* rel = idx_.relation(e->namespace_, e->tag);
    std::string qualified = pg::qualified(e->namespace_, e->tag);
    // ANALYZE as soon as the table's rows and indexes are in.
    if (doc_.spec.analyze) {
      Step a = after_load("analyze", s);
      if (rel) {
        auto it = post_data_of.find(rel->id);
        if (it != post_data_of.end()) a.depends_on.insert(a.depends_on.end(), it->second.begin(), it->second.end());
      }
      bool analyzed = false;
      if (db_exists()) {
        auto it = in_.database->relations.find(catalog::key(e->namespace_, e->tag));
        analyzed = it != in_.database->relations.end() && (it->second.analyzed || !it->second.has_rows);
      }
      a.action = s.action != Action::no_op || !analyzed ? Action::run : Action::no_op;
      a.reason = a.action == Action::run ? "fresh statistics for the planner after the load" : "already analyzed";
      a.params["table"] = qualified;
      a.locks = {{qualified, LockMode::exclusive}};
      a.estimate.bytes = 1;
      verify_deps.push_back(a.id);
      extra.push_back(std::move(a));
    }
    if (s.kind != "table-data") continue;  // a refreshed view has no archived row count
    verified_tables.push_back(qualified);
    verify_deps.push_back(s.id);
    // A big table's row count as soon as its rows are in, beside its index builds (a count only
    // shares the table with them) instead of at the end of the run. Small tables are counted
    // together by verify: a step each would cost more than their counts (5,000 one-row tables:
    // 16-21 s instead of 11-14 s, bench/results/restore-20261202T102759Z-default.txt).
    if (doc_.spec.verify_row_counts && s.estimate.bytes >= kOwnRowCountBytes) {
      extra.push_back(row_count_step(s, qualified));
      ++counted_alone;
    }
  }
  // sequence-fix: a sequence must not be behind the column it feeds (serial and identity).
  if (doc_.spec.fix_sequences) {
    static const std::regex owned(R"(ALTER SEQUENCE (.+) OWNED BY (.+)\.("(?:[^"]|"")*"|[^.;]+);)");
    static const std::regex identity(R"(ALTER TABLE (?:ONLY )?(.+) ALTER COLUMN ("(?:[^"]|"")*"|\S+) ADD GENERATED)");
    for (const auto& e : toc_.entries) {
      if (!included_.count(e.id)) continue;
      std::smatch m;
      std::string seq, table, column;
      if (e.desc == "SEQUENCE OWNED BY" && std::regex_search(e.defn, m, owned)) {
        seq = m[1];
        table = m[2];
        column = m[3];
      } else if (e.desc == "SEQUENCE" && std::regex_search(e.defn, m, identity)) {
        seq = pg::qualified(e.namespace_, e.tag);
        table = m[1];
        column = m[2];
      } else {
        continue;
      }
      // Which table-data step loads that table?
      const Step* data = nullptr;
      for (const auto& s : steps_) {
        if (s.kind != "table-data") continue;
        const TocEntry* de = idx_.by_id(s.toc_id);
        if (de && pg::qualified(de->namespace_, de->tag) == table) data = &s;
      }
      // pg_dump qualifies names only when needed; compare after normalising quotes
      if (!data) {
        for (const auto& s : steps_) {
          if (s.kind != "table-data") continue;
          const TocEntry* de = idx_.by_id(s.toc_id);
          std::string plain = de->namespace_ + "." + de->tag;
          if (de && (plain == table || pg::quote_ident(de->namespace_) + "." + de->tag == table ||
                     de->namespace_ + "." + pg::quote_ident(de->tag) == table)) {
            data = &s;
          }
        }
      }
      if (!data) continue;
      Step f;
      f.id = "sequence-fix:" + display_name(e);
      if (by_id.count(f.id)) continue;
      f.kind = "sequence-fix";
      f.phase = "post-restore";
      f.object = display_name(e);
      f.depends_on = {data->id};
      for (const auto& s : steps_)
        if (s.kind == "sequence-set" && s.object == display_name(e)) f.depends_on.push_back(s.id);
      f.action = data->action != Action::no_op ? Action::run : Action::no_op;
      f.reason = f.action == Action::run ? fmt::format("make sure the sequence is not behind max({})", column)
                                         : "table data unchanged";
      f.params = {{"sequence", seq}, {"table", table}, {"column", column}};
      f.locks = {{kCatalogLock, LockMode::none}};
      verify_deps.push_back(f.id);
      extra.push_back(std::move(f));
    }
  }
  for (auto& s : extra) steps_.push_back(std::move(s));
  // verify: row counts and the document's SQL checks, after everything else.
  if (doc_.spec.verify_row_counts || !doc_.spec.verify_sql.empty()) {
    Step v;
    v.id = "verify:" + doc_.spec.database;
    v.kind = "verify";
    v.phase = "post-restore";
    v.object = doc_.spec.database;
    for (const auto& s : steps_) v.depends_on.push_back(s.id);
    v.action = any_change ? Action::run : Action::no_op;
    const size_t counted = doc_.spec.verify_row_counts ? verified_tables.size() : 0;
    v.reason = any_change ? fmt::format("check row counts of {} tables and {} SQL checks", counted - counted_alone,
                                        doc_.spec.verify_sql.size())
                          : "nothing changed";
    if (any_change && counted_alone > 0) {
      v.reason += fmt::format(" ({} more tables counted by their row-count steps)", counted_alone);
    }
    if (doc_.spec.verify_row_counts) {
      nlohmann::json tables = nlohmann::json::array();
      for (const auto& s : steps_) {
        if (s.kind != "table-data" || s.estimate.bytes >= kOwnRowCountBytes) continue;
        const TocEntry* e = idx_.by_id(s.toc_id);
        nlohmann::json t = {{"table", pg::qualified(e->namespace_, e->tag)}, {"step", s.id}};
        auto ex = in_.expected_rows.find(catalog::key(e->namespace_, e->tag));
        if (ex != in_.expected_rows.end()) t["expected"] = ex->second;
        tables.push_back(t);
      }
      v.params["tables"] = tables.dump();
    }
    v.params["counted_alone"] = std::to_string(counted_alone);
    v.params["sql"] = nlohmann::json(doc_.spec.verify_sql).dump();
    steps_.push_back(std::move(v));
  }
}


Step Planner::row_count_step(const Step& data, const std::string& qualified) const {
  const TocEntry* e = idx_.by_id(data.toc_id);
  Step c = after_load("row-count", data);
  c.action = data.action != Action::no_op ? Action::run : Action::no_op;
  c.params = {{"table", qualified}, {"step", data.id}};
  auto ex = in_.expected_rows.find(catalog::key(e->namespace_, e->tag));
  if (ex != in_.expected_rows.end()) c.params["expected"] = std::to_string(ex->second);
  c.reason = c.action == Action::no_op ? "table data unchanged"
             : ex != in_.expected_rows.end()
                 ? fmt::format("count the rows: {} expected (the backup's count)", ex->second)
                 : "count the rows: as many as the load copied";
  c.locks = {{qualified, LockMode::share}};
  c.estimate.bytes = 1;
  return c;
}

}  // namespace pgr::planner::detail
