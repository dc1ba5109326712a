#include "app/restore.hpp"

#include <functional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/restore_point_before.hpp"
#include "app/runs.hpp"
#include "catalog/catalog.hpp"
#include "engine/globals.hpp"
#include "executor/ddl_script.hpp"
#include "executor/restore_config.hpp"
#include "executor/restore_runner.hpp"
#include "executor/session_settings.hpp"
#include "executor/single_transaction.hpp"
#include "facts/restore_counters.hpp"
#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "planner/restore_planner.hpp"
#include "sources/live_source.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::app {

TargetAccess resolve_target(const config::ConnectionRef& to, const std::string& database, const config::Settings& settings) {
  TargetAccess t;
  t.admin_conninfo = settings.connect_string(to);
  t.target_conninfo = pg::with_dbname(t.admin_conninfo, database);
  t.display.connection = to.connection;
  t.display.conninfo = to.connection.empty() ? pg::split_password(to.conninfo).conninfo : "";
  t.display.database = database;
  return t;
}

TargetAccess resolve_target(const model::Target& target, const config::Settings& settings) {
  if (!target.connection.empty() && !settings.find_connection(target.connection)) {
    fail(ErrorKind::input, fmt::format("the plan's target connection \"{}\" is not in the settings", target.connection),
         "apply with the same pgrecover.toml that was used to plan (--config)");
  }
  // Plans hold no password: libpq finds it (settings' password_env, PGPASSWORD, a passfile).
  TargetAccess t = resolve_target(config::ConnectionRef{target.connection, target.conninfo}, target.database, settings);
  t.display = target;
  return t;
}

RestoreApply::RestoreApply(const model::Plan& given, const config::Settings& settings) : folder(settings.state_dir, given) {
  if (folder.finished()) return;
  target = resolve_target(folder.plan().target, settings);
  lock.emplace(target.admin_conninfo, target.display.database, folder.plan().id);
  lock->end_orphans(folder.plan().id);
}

void add_globals(const RestoreSource& src, planner::RestoreInputs& in) {
  in.role_definitions = src.role_definitions;
  if (!src.globals) return;
  for (const auto& r : src.globals->roles) {
    for (const auto& m : r.member_of) in.role_member_of[r.name].push_back(m.role);
    if (r.password && !r.password->empty()) in.roles_with_password.insert(r.name);
  }
  auto ts = engine::tablespace_definitions(*src.globals);
  for (const auto& t : src.globals->tablespaces) in.tablespace_definitions[t.name] = {t.owner, ts.at(t.name)};
  in.globals_backup = src.backup_ref;
  in.globals_repository = src.repository;
}

model::Plan plan_restore_document(const config::Restore& doc, const config::Settings& settings) {
  return plan_restore_from(doc, settings, sources::resolve_restore_source(doc, settings));
}

model::Plan plan_against_target(planner::RestoreInputs in, const TargetAccess& t,
                                const std::function<std::unique_ptr<planner::RowCounter>(pg::Connection&)>& make_counter) {
  auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover plan");
  catalog::Cluster cluster = catalog::read_cluster(admin);
  catalog::Database db;
  db.name = in.document->spec.database;
  std::optional<pg::Connection> conn;
  if (cluster.databases.count(db.name)) {
    conn.emplace(pg::Connection::open(t.target_conninfo, "pgrecover plan"));
    db = catalog::read_database(*conn);
  }
  pg::Connection& target_conn = conn ? *conn : admin;
  auto counter = make_counter(target_conn);
  auto dependencies = facts::target_dependencies(target_conn);
  auto who = admin.exec("SELECT current_user::text, current_setting('is_superuser') = 'on'");
  in.cluster = &cluster;
  in.database = &db;
  in.counter = counter.get();
  in.dependencies = dependencies.get();
  in.target_role = who.str(0, 0);
  in.target_superuser = who.boolean(0, 1);
  in.target = t.display;
  in.created_at = now_iso8601();
  in.target_fingerprint = catalog::fingerprint(cluster, db);
  model::Plan plan = planner::plan_restore(in);
  for (auto& [k, v] : catalog::fingerprint_parts(cluster, db)) plan.fingerprints["target." + k] = v;
  return plan;
}

model::Plan plan_restore_from(const config::Restore& doc, const config::Settings& settings, const RestoreSource& src) {
  if (src.plain) return plan_sql_restore_document(doc, settings, src);
  if (doc.spec.is_live()) return plan_live_restore_document(doc, settings);
  auto archive = sources::open_source_archive(src, settings);
  TargetAccess t = resolve_target(doc.spec.to, doc.spec.database, settings);
  std::string fingerprint = planner::restore_fingerprint(doc);
  // An interrupted run of this very plan id is continued: the target now holds its partial work.
  std::string id = planner::restore_plan_id(fingerprint, archive->toc().checksum, t.display);
  if (auto saved = unfinished_run(settings, id)) return *saved;
  planner::RestoreInputs in;
  in.document = &doc;
  in.toc = &archive->toc();
  in.source = src.archive;
  in.expected_rows = src.expected_rows;
  add_globals(src, in);
  in.documents_fingerprint = fingerprint;
  model::Plan plan = plan_against_target(in, t, [&](pg::Connection& c) { return facts::archive_row_counter(*archive, c); });
  for (const auto& n : src.fallback_notes) plan.warnings.push_back(n);
  sources::record_source(src, plan);
  return plan;
}

void refuse_if_target_changed(const model::Plan& plan, const TargetAccess& t) {
  std::map<std::string, std::string> recorded;
  for (const auto& [k, v] : plan.fingerprints)
    if (k.rfind("target.", 0) == 0) recorded[k.substr(7)] = v;
  auto changed = catalog::changed_parts(t.admin_conninfo, t.target_conninfo, plan.target.database, recorded);
  if (!changed.empty()) {
    std::string what;
    for (auto& c : changed) what += (what.empty() ? "" : ", ") + c;
    fail(ErrorKind::stale_plan,
         fmt::format("plan is stale: the target database \"{}\" changed since the plan was made ({})",
                     plan.target.database, what),
         "plan again and review the new plan");
  }
}

executor::ApplyResult apply_restore_plan(const model::Plan& given, const config::Settings& settings,
                                         const executor::ApplyOptions& options) {
  if (given.kind != "restore") fail(ErrorKind::input, fmt::format("plan {} is a {} plan, not a restore", given.id, given.kind));
  if (auto it = given.params.find("source_format"); it != given.params.end() && it->second == "sql") {
    return apply_sql_restore_plan(given, settings, options);
  }
  if (sources::is_live_plan(given)) return apply_live_restore_plan(given, settings, options);
  RestoreApply run(given, settings);
  if (run.folder.finished()) return run.folder.finished_result();
  executor::RunFolder& folder = run.folder;
  const model::Plan& plan = folder.plan();
  const TargetAccess& t = run.target;

  RestoreSource src = sources::source_of(plan);
  auto archive = sources::open_source_archive(src, settings);
  // Stale checks: the plan is applied exactly as reviewed, or not at all.
  if (archive->toc().checksum != plan.fingerprints.at("archive")) {
    fail(ErrorKind::stale_plan,
         fmt::format("plan is stale: the archive \"{}\" changed since the plan was made", plan.source),
         "plan again and review the new plan");
  }
  // pg_restore renders the schema from a local copy of the TOC alone: the data stays where it is.
  TempDir toc_copy("pgrecover-toc-");
  fs::path ddl_source = src.repository.empty() ? fs::path(plan.source) : archive->write_toc_only_copy(toc_copy.path());
  return run_restore(folder, t, *archive, ddl_source, settings, options);
}

executor::ApplyResult run_restore(executor::RunFolder& folder, const TargetAccess& t, const archive::Archive& archive,
                                  const fs::path& ddl_source, const config::Settings& settings,
                                  const executor::ApplyOptions& options) {
  const model::Plan& plan = folder.plan();
  auto& journal = folder.journal();
  if (!folder.resumed()) refuse_if_target_changed(plan, t);
  executor::refuse_lost_dependents(plan);
  bool single = plan.params.count("single_transaction") > 0;
  if (single && folder.resumed()) {
    auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover apply");
    executor::void_rolled_back_steps(plan, journal, admin);
  }
  folder.start();

  executor::RestoreRunnerConfig cfg = executor::restore_config_of(plan, journal, t.admin_conninfo, t.target_conninfo);
  int jobs = executor::restore_jobs(plan, options.jobs);
  // Bulk-load settings chosen from what the target has, unless the document says otherwise
  // (executor/session_settings.hpp says why). Durability of what the journal records is
  // untouched: every step commits normally (synchronous_commit stays as configured).
  {
    auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover apply");
    auto chosen = executor::choose_load_settings(executor::read_target_resources(admin), jobs, cfg.session_settings);
    cfg.session_settings = chosen.session;
    cfg.index_mwm = chosen.index_mwm;
    log::info("load sessions: {}", chosen.summary);
  }
  cfg.role_passwords = sources::role_passwords(plan, settings);
  executor::DdlScript ddl = executor::render_ddl_script(instance::tool_path("pg_restore", settings.instance.bin_dir).string(),
                                                        ddl_source, cfg.no_owner,
                                                        cfg.no_tablespaces || !cfg.tablespace_map.empty());
  executor::RestoreRunner restore_runner(plan, archive, std::move(ddl), cfg);
  auto runner = with_restore_point_before(restore_runner, plan, settings, folder.dir(), options.cancel);
  auto result = folder.run(*runner, options, jobs, [&] {
    return nlohmann::json{{"target", {{"connection", plan.target.connection},
                                      {"conninfo", plan.target.conninfo},
                                      {"database", plan.target.database}}}};
  });
  if (single && result.summary.run_status != "ok") {
    try {
      auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover apply");
      executor::void_rolled_back_steps(plan, journal, admin);
    } catch (const Error&) {
      // the next apply voids them before it starts
    }
  }
  return result;
}

}  // namespace pgr::app
