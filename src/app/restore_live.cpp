// Restores from a live database (spec.from.live): the source is read through the same archive
// interface as a pg_dump archive (archive/live.hpp), so planning and applying are those of an
// archive restore (restore.cpp) with a different source: the schema from pg_dump in the snapshot
// of a coordinating session, the rows streamed by COPY in that snapshot (executor/live_copy.hpp),
// and a resume that reads from a new snapshot (executor/live_resume.hpp).
#include <fmt/format.h>

#include "app/restore.hpp"
#include "app/runs.hpp"
#include "archive/live.hpp"
#include "catalog/catalog.hpp"
#include "catalog/live_source.hpp"
#include "engine/live_schema.hpp"
#include "executor/live_copy.hpp"
#include "executor/live_resume.hpp"
#include "executor/target_lock.hpp"
#include "pg/pg.hpp"
#include "planner/restore_planner.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::app {

namespace {

constexpr const char* kLiveConnection = "source_live_connection";
constexpr const char* kLiveConninfo = "source_live_conninfo";
constexpr const char* kLiveDatabase = "source_live_database";
constexpr const char* kLiveConsistent = "source_live_consistent";

struct LiveSource {
  std::string conninfo;  // of the source database, with its password: never printed
  config::ConnectionRef ref;  // as the document says (conninfo without a password)
  std::string database;
  bool allow_mixed = false;
  std::string display() const {
    return fmt::format("live database \"{}\" on {}", database,
                       ref.connection.empty() ? "\"" + ref.conninfo + "\"" : "connection \"" + ref.connection + "\"");
  }
};

LiveSource live_source(const config::ConnectionRef& ref, const std::string& database, bool allow_mixed,
                       const config::Settings& settings) {
  LiveSource s;
  s.ref = {ref.connection, ref.connection.empty() ? pg::split_password(ref.conninfo).conninfo : ""};
  s.conninfo = pg::with_dbname(settings.connect_string(ref), database);
  s.database = database;
  s.allow_mixed = allow_mixed;
  return s;
}

LiveSource live_source_of(const model::Plan& plan, const config::Settings& settings) {
  const std::string& name = plan.params.at(kLiveConnection);
  if (!name.empty() && !settings.find_connection(name)) {
    fail(ErrorKind::input, fmt::format("the plan's source connection \"{}\" is not in the settings", name),
         "apply with the same pgrecover.toml that was used to plan (--config)");
  }
  // Plans hold no password: libpq finds it (settings' password_env, PGPASSWORD, a passfile).
  return live_source({name, plan.params.at(kLiveConninfo)}, plan.params.at(kLiveDatabase),
                     plan.params.at(kLiveConsistent) == "allow-mixed", settings);
}

std::vector<archive::LiveTable> live_tables(const std::vector<catalog::SourceTable>& tables) {
  std::vector<archive::LiveTable> out;
  for (const auto& t : tables) out.push_back({t.oid, t.schema, t.name, t.columns, t.bytes});
  return out;
}

std::vector<std::pair<std::string, std::string>> table_names(const std::vector<catalog::SourceTable>& tables) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& t : tables) out.emplace_back(t.schema, t.name);
  return out;
}

// Reads the source's rows for the planner's comparisons with a target that already holds rows.
class LiveCounter : public planner::RowCounter {
 public:
  LiveCounter(pg::Connection& source, pg::Connection& target) : source_(source), target_(target) {}
  std::int64_t archive_rows(const archive::TocEntry& e) override {
    return source_.exec(fmt::format("SELECT count(*) FROM ONLY {}", pg::qualified(e.namespace_, e.tag))).int64(0, 0);
  }
  std::int64_t target_rows(const std::string& schema, const std::string& table) override {
    return target_.exec(fmt::format("SELECT count(*) FROM ONLY {}", pg::qualified(schema, table))).int64(0, 0);
  }

 private:
  pg::Connection& source_;
  pg::Connection& target_;
};

}  // namespace

model::Plan plan_live_restore_document(const config::Restore& doc, const config::Settings& settings) {
  const auto& live = doc.spec.live;
  LiveSource src = live_source(live.source, live.database, live.allow_mixed, settings);
  TargetAccess t = resolve_target(doc.spec.to, doc.spec.database, settings);
  auto source = executor::open_source_session(src.conninfo, "pgrecover plan");
  auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover plan");
  catalog::refuse_clone_onto_source(source, admin, src.database, doc.spec.database);
  auto tables = catalog::read_source_tables(source);
  TempDir tmp("pgrecover-live-");
  fs::path dump = tmp.path() / "schema.dump";
  engine::dump_live_schema({src.conninfo, src.database, settings.instance.bin_dir, "", table_names(tables), nullptr}, dump);
  auto archive = archive::LiveArchive::open(dump, live_tables(tables), nullptr);

  std::string fingerprint = restore_fingerprint(doc);
  std::string id = planner::restore_plan_id(fingerprint, archive->toc().checksum, t.display);
  if (auto saved = unfinished_run(settings, id)) {
    saved->warnings.push_back(executor::live_resume_note(live.allow_mixed));
    return *saved;
  }
  catalog::Cluster cluster = catalog::read_cluster(admin);
  catalog::Database db;
  db.name = doc.spec.database;
  std::optional<pg::Connection> conn;
  if (cluster.databases.count(doc.spec.database)) {
    conn.emplace(pg::Connection::open(t.target_conninfo, "pgrecover plan"));
    db = catalog::read_database(*conn);
  }
  pg::Connection& target_conn = conn ? *conn : admin;
  LiveCounter counter(source, target_conn);
  auto who = admin.exec("SELECT current_user::text, current_setting('is_superuser') = 'on'");
  planner::RestoreInputs in;
  in.document = &doc;
  in.toc = &archive->toc();
  in.cluster = &cluster;
  in.database = &db;
  in.counter = &counter;
  in.target_role = who.str(0, 0);
  in.target_superuser = who.boolean(0, 1);
  in.source = src.display();
  in.documents_fingerprint = fingerprint;
  in.target = t.display;
  in.created_at = now_iso8601();
  auto parts = catalog::fingerprint_parts(cluster, db);
  in.target_fingerprint = catalog::fingerprint(cluster, db);
  model::Plan plan = planner::plan_restore(in);
  for (auto& [k, v] : parts) plan.fingerprints["target." + k] = v;
  plan.params[kSourceLive] = "true";
  plan.params[kLiveConnection] = src.ref.connection;
  plan.params[kLiveConninfo] = src.ref.conninfo;
  plan.params[kLiveDatabase] = src.database;
  plan.params[kLiveConsistent] = live.allow_mixed ? "allow-mixed" : "strict";
  return plan;
}

executor::ApplyResult apply_live_restore_plan(const model::Plan& given, const config::Settings& settings,
                                              const executor::ApplyOptions& options) {
  executor::RunFolder folder(settings.state_dir, given);
  if (folder.finished()) return folder.finished_result();
  const model::Plan& plan = folder.plan();
  TargetAccess t = resolve_target(plan.target, settings);
  executor::TargetLock target_lock(t.admin_conninfo, t.display.database, plan.id);
  target_lock.end_orphans(plan.id);
  LiveSource src = live_source_of(plan, settings);

  // The coordinating session: its snapshot is the moment the clone copies, held until the end.
  auto snapshot = executor::SourceSnapshot::open(src.conninfo, fmt::format("pgrecover apply {} snapshot", plan.id));
  {
    auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover apply");
    catalog::refuse_clone_onto_source(snapshot.session(), admin, src.database, plan.target.database);
  }
  auto tables = catalog::read_source_tables(snapshot.session());
  log::info("{}: snapshot {} exported; {} tables are read in it", src.display(), snapshot.id(), tables.size());
  fs::path dump = folder.dir() / "source-schema.dump";
  engine::dump_live_schema(
      {src.conninfo, src.database, settings.instance.bin_dir, snapshot.id(), table_names(tables), options.cancel}, dump);
  auto rows = std::make_shared<executor::SnapshotRows>(src.conninfo, snapshot.id(),
                                                       fmt::format("pgrecover apply {} worker", plan.id));
  auto archive = archive::LiveArchive::open(dump, live_tables(tables), rows);
  if (archive->toc().checksum != plan.fingerprints.at("archive")) {
    fail(ErrorKind::stale_plan, fmt::format("plan is stale: the schema of the {} changed since the plan was made", src.display()),
         "plan again and review the new plan");
  }
  if (folder.resumed() && !folder.journal().records().empty()) {
    // Killed before the database was created: nothing was loaded, there is nothing to empty.
    auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover apply");
    bool exists = admin.exec("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {plan.target.database}).rows() > 0;
    pg::Connection target = exists ? pg::Connection::open(t.target_conninfo, "pgrecover apply") : pg::Connection();
    auto r = executor::prepare_live_resume(plan, folder.journal(), archive->toc(), target, src.allow_mixed || !exists);
    log::warn("{}", executor::live_resume_note(src.allow_mixed));
    if (src.allow_mixed && !r.kept.empty()) {
      log::warn("the result mixes two moments of the source: {} table(s) keep the rows of the interrupted apply's snapshot, "
                "{} are loaded from snapshot {}", r.kept.size(), r.reloaded.size(), snapshot.id());
    } else if (!src.allow_mixed) {
      log::info("strict resume: {} table(s) emptied and reloaded from snapshot {}, {} foreign key(s) dropped to be "
                "added again, {} step record(s) voided", r.reloaded.size(), snapshot.id(), r.foreign_keys_dropped, r.voided);
    }
  }
  auto result = run_restore(folder, t, *archive, dump, settings, options);
  snapshot.session().exec("COMMIT");  // read-only: ends the snapshot, nothing written
  return result;
}

}  // namespace pgr::app
