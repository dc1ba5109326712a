#include "app/restore.hpp"

#include "app/backup.hpp"
#include "app/run_folder.hpp"

#include <sys/file.h>
#include <fcntl.h>

#include <chrono>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "executor/ddl_script.hpp"
#include "executor/journal.hpp"
#include "executor/restore_runner.hpp"
#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "planner/restore_planner.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"
#include "util/process.hpp"
#include "util/redact.hpp"

namespace pgr::app {

namespace {

std::string strip_password(const std::string& conninfo) {
  // Plans record the conninfo without any password: the password comes from settings, the
  // environment (PGPASSWORD) or a passfile when the plan is applied.
  return redact_secrets(conninfo).find(kRedacted) == std::string::npos ? conninfo : redact_secrets(conninfo);
}

class Counter : public planner::RowCounter {
 public:
  Counter(const archive::Archive& a, pg::Connection& c) : archive_(a), conn_(c) {}
  std::int64_t archive_rows(const archive::TocEntry& e) override {
    auto reader = archive_.open_data(e);
    std::vector<char> buf(1 << 20);
    std::int64_t rows = 0;
    for (size_t n; (n = reader->read(buf.data(), buf.size())) > 0;) rows += std::count(buf.data(), buf.data() + n, '\n');
    return rows;
  }
  std::int64_t target_rows(const std::string& schema, const std::string& table) override {
    return conn_.exec(fmt::format("SELECT count(*) FROM ONLY {}", pg::qualified(schema, table))).int64(0, 0);
  }

 private:
  const archive::Archive& archive_;
  pg::Connection& conn_;
};

// One apply per target at a time: a session-level advisory lock on the target server, held by
// a dedicated connection for the whole run, so it also works across machines.
class TargetLock {
 public:
  TargetLock(const TargetAccess& t, const std::string& plan_id) {
    conn_ = pg::Connection::open(t.admin_conninfo, fmt::format("pgrecover apply {} lock", plan_id));
    std::string key = "pgrecover:" + t.display.database;
    auto r = conn_.exec("SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext($1))", {key});
    if (!r.boolean(0, 0)) {
      auto who = conn_.exec(
          "SELECT a.application_name, a.pid, coalesce(a.client_addr::text, 'local'), a.backend_start::text "
          "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
          "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = (pg_catalog.hashtext($1)::bigint & 4294967295)::oid",
          {key});
      std::string holder = who.rows() ? fmt::format("\"{}\" (server pid {}, from {}, since {})", who.str(0, 0),
                                                    who.str(0, 1), who.str(0, 2), who.str(0, 3))
                                       : "another session";
      fail(ErrorKind::locked,
           fmt::format("another apply holds the lock on database \"{}\": {}", t.display.database, holder),
           "wait for it to finish, or stop it; two applies never touch the same target at once");
    }
  }

  // Sessions of an earlier, killed apply of this plan may still be running a statement on the
  // server (it notices the dead client only when it next talks to it) and could commit a step
  // the resumed run is redoing. We hold the lock, so no live apply owns them: end them, and wait
  // until they are gone, before any step runs.
  void end_orphans(const std::string& plan_id) {
    std::string pattern = fmt::format("pgrecover apply {} %", plan_id);
    const char* find = "SELECT pid FROM pg_catalog.pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_catalog.pg_backend_pid()";
    auto orphans = conn_.exec(find, {pattern});
    if (orphans.rows() == 0) return;
    log::warn("ending {} session(s) left on the server by an interrupted apply of {}", orphans.rows(), plan_id);
    conn_.exec("SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
               "WHERE application_name LIKE $1 AND pid <> pg_catalog.pg_backend_pid()",
               {pattern});
    for (int i = 0; i < 600; ++i) {
      if (conn_.exec(find, {pattern}).rows() == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    fail(ErrorKind::database,
         fmt::format("sessions of an interrupted apply of {} are still running on the server after 60 s", plan_id),
         "end them (pg_terminate_backend needs the same role or pg_signal_backend), then apply again");
  }

 private:
  pg::Connection conn_;
};

std::string pg_restore_path() {
  try {
    return (instance::find_bin_dir() / "pg_restore").string();
  } catch (const Error&) {
    auto p = find_on_path("pg_restore");
    if (p.empty()) {
      fail(ErrorKind::instance, "pg_restore was not found", "install postgresql-client-15 (or the server package)");
    }
    return p.string();
  }
}

}  // namespace

TargetAccess resolve_target(const spec::ConnectionRef& to, const std::string& database, const spec::Settings& settings) {
  TargetAccess t;
  t.admin_conninfo = settings.connect_string(to);
  t.target_conninfo = pg::with_dbname(t.admin_conninfo, database);
  t.display.connection = to.connection;
  t.display.conninfo = to.connection.empty() ? strip_password(to.conninfo) : "";
  t.display.database = database;
  return t;
}

TargetAccess resolve_target(const model::Target& target, const spec::Settings& settings) {
  spec::ConnectionRef ref{target.connection, target.conninfo};
  if (!target.connection.empty() && !settings.find_connection(target.connection)) {
    fail(ErrorKind::input, fmt::format("the plan's target connection \"{}\" is not in the settings", target.connection),
         "apply with the same pgrecover.toml that was used to plan (--config)");
  }
  if (ref.conninfo.find(kRedacted) != std::string::npos) {
    // the password was removed when planning: let libpq find it (PGPASSWORD, passfile)
    ref.conninfo = std::string(ref.conninfo);
    std::string cleaned;
    size_t pos = 0;
    while (pos < ref.conninfo.size()) {
      size_t sp = ref.conninfo.find(' ', pos);
      std::string word = ref.conninfo.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos);
      if (word.find(kRedacted) == std::string::npos) cleaned += (cleaned.empty() ? "" : " ") + word;
      if (sp == std::string::npos) break;
      pos = sp + 1;
    }
    ref.conninfo = cleaned;
  }
  TargetAccess t = resolve_target(ref, target.database, settings);
  t.display = target;
  return t;
}

std::string restore_fingerprint(const spec::Restore& doc) {
  const auto& s = doc.spec;
  nlohmann::json j = {{"name", doc.metadata.name},
                      {"archive", s.archive},
                      {"repository", s.repository},
                      {"policy", s.policy},
                      {"backup", {static_cast<int>(s.backup.kind), s.backup.id, s.backup.before}},
                      {"to", {s.to.connection, strip_password(s.to.conninfo)}},
                      {"database", s.database},
                      {"create", s.create},
                      {"select", {s.select.schemas, s.select.tables, s.select.exclude_schemas, s.select.exclude_tables}},
                      {"existing", spec::to_string(s.existing)},
                      {"roles", spec::to_string(s.roles)},
                      {"post", {s.fix_sequences, s.analyze, s.verify_row_counts, s.verify_sql}},
                      {"settings", s.session_settings}};
  return sha256_hex(j.dump());
}

std::string restore_plan_id_for(const spec::Restore& doc, const std::string& toc_checksum, const model::Target& target) {
  return planner::restore_plan_id(restore_fingerprint(doc), toc_checksum, target);
}

model::Plan plan_restore_document(const spec::Restore& doc, const spec::Settings& settings) {
  RestoreSource src = resolve_restore_source(doc, settings);
  auto archive = archive::Archive::open(src.archive);
  TargetAccess t = resolve_target(doc.spec.to, doc.spec.database, settings);
  auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover plan");
  catalog::Cluster cluster = catalog::read_cluster(admin);
  catalog::Database db;
  db.name = doc.spec.database;
  std::optional<pg::Connection> conn;
  if (cluster.databases.count(doc.spec.database)) {
    conn.emplace(pg::Connection::open(t.target_conninfo, "pgrecover plan"));
    db = catalog::read_database(*conn);
  }
  pg::Connection& counter_conn = conn ? *conn : admin;
  Counter counter(*archive, counter_conn);
  planner::RestoreInputs in;
  in.document = &doc;
  in.toc = &archive->toc();
  in.cluster = &cluster;
  in.database = &db;
  in.counter = &counter;
  in.source = src.archive;
  in.expected_rows = src.expected_rows;
  in.role_definitions = src.role_definitions;
  in.documents_fingerprint = restore_fingerprint(doc);
  in.target = t.display;
  in.created_at = executor::now_iso8601();
  auto parts = catalog::fingerprint_parts(cluster, db);
  in.target_fingerprint = catalog::fingerprint(cluster, db);
  model::Plan plan = planner::plan_restore(in);
  for (auto& [k, v] : parts) plan.fingerprints["target." + k] = v;
  return plan;
}

std::string run_dir(const spec::Settings& settings, const std::string& plan_id) {
  if (plan_id.empty() || plan_id.find('/') != std::string::npos || plan_id.find("..") != std::string::npos) {
    fail(ErrorKind::input, fmt::format("invalid plan id \"{}\"", plan_id));
  }
  return (settings.state_dir / "runs" / plan_id).string();
}

std::unique_ptr<model::Plan> unfinished_run_plan(const spec::Settings& settings, const std::string& plan_id) {
  fs::path dir = run_dir(settings, plan_id);
  if (!fs::exists(dir / "plan.json") || !fs::exists(dir / "journal")) return nullptr;
  auto journal = executor::Journal::open(dir, plan_id);
  if (journal.finished() || journal.records().empty()) return nullptr;
  return std::make_unique<model::Plan>(model::load_plan((dir / "plan.json").string()));
}

ApplyResult apply_restore_plan(const model::Plan& plan, const spec::Settings& settings, const ApplyOptions& options) {
  if (plan.kind != "restore") fail(ErrorKind::input, fmt::format("plan {} is a {} plan, not a restore", plan.id, plan.kind));
  RunFolder folder(settings, plan);
  if (folder.finished()) return folder.finished_result();
  auto& journal = folder.journal();
  TargetAccess t = resolve_target(plan.target, settings);
  TargetLock target_lock(t, plan.id);
  target_lock.end_orphans(plan.id);

  auto archive = archive::Archive::open(plan.source);
  // Stale checks: the plan is applied exactly as reviewed, or not at all.
  if (archive->toc().checksum != plan.fingerprints.at("archive")) {
    fail(ErrorKind::stale_plan,
         fmt::format("plan is stale: the archive \"{}\" changed since the plan was made", plan.source),
         "plan again and review the new plan");
  }
  if (!folder.resumed()) {
    auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover apply");
    auto cluster = catalog::read_cluster(admin);
    catalog::Database db;
    if (cluster.databases.count(plan.target.database)) {
      auto c = pg::Connection::open(t.target_conninfo, "pgrecover apply");
      db = catalog::read_database(c);
    }
    auto now = catalog::fingerprint_parts(cluster, db);
    std::vector<std::string> changed;
    for (auto& [k, v] : now) {
      auto it = plan.fingerprints.find("target." + k);
      if (it != plan.fingerprints.end() && it->second != v) changed.push_back(k);
    }
    if (!changed.empty()) {
      std::string what;
      for (auto& c : changed) what += (what.empty() ? "" : ", ") + c;
      fail(ErrorKind::stale_plan,
           fmt::format("plan is stale: the target database \"{}\" changed since the plan was made ({})",
                       plan.target.database, what),
           "plan again and review the new plan");
    }
  }
  folder.start();

  executor::RestoreRunnerConfig cfg;
  cfg.admin_conninfo = t.admin_conninfo;
  cfg.target_conninfo = t.target_conninfo;
  cfg.application_name = fmt::format("pgrecover apply {} worker", plan.id);
  cfg.no_owner = plan.params.count("roles") && plan.params.at("roles") == "no-owner";
  if (auto it = plan.params.find("session_settings"); it != plan.params.end() && !it->second.empty()) {
    cfg.session_settings = nlohmann::json::parse(it->second).get<std::map<std::string, std::string>>();
  }
  // Bulk-load defaults unless the document says otherwise. Durability of what the journal
  // records is untouched: every step commits normally (synchronous_commit stays as configured).
  cfg.session_settings.try_emplace("maintenance_work_mem", "512MB");
  int jobs = options.jobs > 0 ? options.jobs : std::stoi(plan.params.count("jobs") ? plan.params.at("jobs") : "1");
  // pgrecover already runs `jobs` steps at once: parallel workers inside each index build would
  // oversubscribe the cores and slow the critical path (measured with bench/: a GIN-bound restore
  // went from 6.33 s to 5.55 s median on 2 cores). With one job, the server's default stays.
  if (jobs > 1) cfg.session_settings.try_emplace("max_parallel_maintenance_workers", "0");
  for (const auto& r : journal.records())
    if (r.type == "done" && !r.step.empty()) cfg.prior_rows[r.step] = r.rows;

  executor::DdlScript ddl = executor::render_ddl_script(pg_restore_path(), plan.source, cfg.no_owner);
  executor::RestoreRunner runner(plan, *archive, std::move(ddl), cfg);
  return folder.run(runner, options, jobs,
                    {{"target", {{"connection", plan.target.connection},
                                 {"conninfo", plan.target.conninfo},
                                 {"database", plan.target.database}}}});
}

}  // namespace pgr::app
