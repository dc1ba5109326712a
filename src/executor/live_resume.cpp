#include "executor/live_resume.hpp"

#include <map>
#include <set>

#include <fmt/format.h>

#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::executor {

namespace {

// Entries whose contents are read from the source: the rows, large objects, sequence values and
// materialized views (refreshed from the rows).
bool reads_source(const std::string& desc) {
  return desc == "TABLE DATA" || desc == "BLOBS" || desc == "LARGE OBJECTS" || desc == "SEQUENCE SET" ||
         desc == "MATERIALIZED VIEW DATA";
}

// Steps that check or describe the data: done again after it is reloaded.
bool checks_data(const std::string& kind) {
  return kind == "analyze" || kind == "verify" || kind == "row-count" || kind == "sequence-fix" || kind == "fk-validate";
}

}  // namespace

void resume_live_clone(const model::Plan& plan, Journal& journal, const archive::Toc& toc, const std::string& admin_conninfo,
                       const std::string& target_conninfo, bool allow_mixed, const std::string& snapshot) {
  if (journal.records().empty()) return;
  auto admin = pg::Connection::open(admin_conninfo, "pgrecover apply");
  bool exists = admin.exec("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {plan.target.database}).rows() > 0;
  pg::Connection target = exists ? pg::Connection::open(target_conninfo, "pgrecover apply") : pg::Connection();
  auto r = prepare_live_resume(plan, journal, toc, target, allow_mixed || !exists);
  log::warn("{}", live_resume_note(allow_mixed));
  if (allow_mixed && !r.kept.empty()) {
    log::warn("the result mixes two moments of the source: {} table(s) keep the rows of the interrupted apply's snapshot, "
              "{} are loaded from snapshot {}", r.kept.size(), r.reloaded.size(), snapshot);
  } else if (!allow_mixed) {
    log::info("strict resume: {} table(s) emptied and reloaded from snapshot {}, {} foreign key(s) dropped to be "
              "added again, {} step record(s) voided", r.reloaded.size(), snapshot, r.foreign_keys_dropped, r.voided);
  }
}

std::string live_resume_note(bool allow_mixed) {
  return allow_mixed
             ? "live source, consistent: allow-mixed: the snapshot of the interrupted apply died with it; the tables "
               "not finished are loaded again from a new snapshot, so the result mixes two moments of the source"
             : "live source, consistent: strict: the snapshot of the interrupted apply died with it; every table is "
               "emptied and loaded again from a new snapshot (with large objects, sequences and materialized views), "
               "so the result is the source at one moment";
}

std::pair<std::string, std::string> constraint_of(const std::string& defn) {
  static const std::string kAlter = "ALTER TABLE ONLY ";
  size_t pos = defn.find(kAlter);
  if (pos == std::string::npos) return {};
  size_t end = defn.find('\n', pos);
  if (end == std::string::npos) return {};
  std::string table = defn.substr(pos + kAlter.size(), end - pos - kAlter.size());
  while (!table.empty() && (table.back() == ' ' || table.back() == '\r')) table.pop_back();
  size_t cpos = defn.find("ADD CONSTRAINT ");
  if (cpos == std::string::npos) return {};
  size_t p = cpos + 15;
  auto name = pg::parse_identifier(defn, p);
  if (!name) return {};
  return {table, *name};
}

LiveResume prepare_live_resume(const model::Plan& plan, Journal& journal, const archive::Toc& toc,
                               pg::Connection& target, bool allow_mixed) {
  LiveResume out;
  std::map<int, const archive::TocEntry*> entries;
  for (const auto& e : toc.entries) entries[e.id] = &e;
  auto entry_of = [&](const model::Step& s) -> const archive::TocEntry* {
    auto it = entries.find(s.toc_id);
    return s.toc_id && it != entries.end() ? it->second : nullptr;
  };
  auto done = journal.done_steps();
  auto in_flight = journal.in_flight_steps();
  auto parts = journal.parts();
  int run = journal.last_run();
  auto void_step = [&](const std::string& id, const std::string& why) {
    journal.append({"failed", id, now_iso8601(), run, 0, 0, 0, why}, false);
    ++out.voided;
  };
  auto reset_parts = [&](const std::string& id) {
    if (parts.count(id)) journal.append({"parts-reset", id, now_iso8601(), run, 0, 0, 0, "read again from a new snapshot"}, false);
  };
  if (allow_mixed) {
    for (const auto& s : plan.steps) {
      const archive::TocEntry* e = entry_of(s);
      if (!e || e->desc != "TABLE DATA") continue;
      if (done.count(s.id)) {
        out.kept.push_back(s.object);
      } else {
        out.reloaded.push_back(s.object);
        reset_parts(s.id);
      }
    }
    journal.sync();
    return out;
  }
  // strict: foreign keys first (TRUNCATE refuses a table other tables' keys point at).
  std::vector<std::string> tables;
  for (const auto& s : plan.steps) {
    const archive::TocEntry* e = entry_of(s);
    bool touched = done.count(s.id) || in_flight.count(s.id);
    if (e && e->desc == "FK CONSTRAINT" && touched) {
      auto [table, name] = constraint_of(e->defn);
      if (!table.empty()) {
        target.exec(fmt::format("ALTER TABLE ONLY {} DROP CONSTRAINT IF EXISTS {}", table, pg::quote_ident(name)));
        ++out.foreign_keys_dropped;
      }
      void_step(s.id, "foreign key dropped: the data is reloaded from a new snapshot");
      continue;
    }
    if (e && e->desc == "TABLE DATA") {
      tables.push_back(pg::qualified(e->namespace_, e->tag));
      out.reloaded.push_back(s.object);
      reset_parts(s.id);
    }
    if (!touched) continue;
    if ((e && reads_source(e->desc)) || checks_data(s.kind)) void_step(s.id, "reloaded from a new snapshot");
  }
  // One TRUNCATE for every table that exists by now (created by the earlier runs' schema steps).
  std::string list;
  for (const auto& t : tables) {
    if (target.exec("SELECT pg_catalog.to_regclass($1) IS NOT NULL", {t}).boolean(0, 0)) list += (list.empty() ? "" : ", ") + t;
  }
  if (!list.empty()) target.exec("TRUNCATE ONLY " + list);
  journal.sync();
  return out;
}

}  // namespace pgr::executor
