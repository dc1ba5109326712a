// Restores from a plain SQL script: spec.from.sql_file, or a plain-format backup in a
// repository. The script is read once at plan time (what it holds, its checksum; a corrupt
// file fails here), and run by psql at apply as one journaled step.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/restore.hpp"
#include "app/restore_point_before.hpp"
#include "app/runs.hpp"
#include "archive/plain_script.hpp"
#include "catalog/catalog.hpp"
#include "executor/run_folder.hpp"
#include "executor/sql_script_runner.hpp"
#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "planner/restore_sql.hpp"
#include "util/error.hpp"
#include "util/time.hpp"

namespace pgr::app {

model::Plan plan_sql_restore_document(const config::Restore& doc, const config::Settings& settings,
                                      const RestoreSource& src) {
  archive::PlainScript script = archive::scan_plain_script(src.archive);
  TargetAccess t = resolve_target(doc.spec.to, doc.spec.database, settings);
  std::string fingerprint = planner::restore_fingerprint(doc);
  std::string id = planner::restore_plan_id(fingerprint, script.sha256, t.display);
  if (auto saved = unfinished_run(settings, id)) return *saved;
  auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover plan");
  catalog::Cluster cluster = catalog::read_cluster(admin);
  catalog::Database db;
  db.name = doc.spec.database;
  if (cluster.databases.count(doc.spec.database)) {
    auto conn = pg::Connection::open(t.target_conninfo, "pgrecover plan");
    db = catalog::read_database(conn);
  }
  planner::RestoreInputs in;
  in.document = &doc;
  in.script = &script;
  in.cluster = &cluster;
  in.database = &db;
  in.source = src.archive;
  in.expected_rows = src.expected_rows;
  in.script_restored_before = finished_run_exists(settings, id);
  if (db.exists && !db.empty()) in.half_restored_by = executor::half_restored_script_run(settings.state_dir, doc.metadata.name, t.display);
  add_globals(src, in);
  in.documents_fingerprint = fingerprint;
  in.target = t.display;
  in.created_at = now_iso8601();
  in.target_fingerprint = catalog::fingerprint(cluster, db);
  model::Plan plan = planner::plan_sql_restore(in);
  for (auto& [k, v] : catalog::fingerprint_parts(cluster, db)) plan.fingerprints["target." + k] = v;
  return plan;
}

executor::ApplyResult apply_sql_restore_plan(const model::Plan& given, const config::Settings& settings,
                                             const executor::ApplyOptions& options) {
  RestoreApply run(given, settings);
  if (run.folder.finished()) return run.folder.finished_result();
  executor::RunFolder& folder = run.folder;
  const model::Plan& plan = folder.plan();
  const TargetAccess& t = run.target;
  // Stale checks: the same script (by checksum) into the same target, or nothing.
  if (archive::scan_plain_script(plan.source).sha256 != plan.fingerprints.at("archive")) {
    fail(ErrorKind::stale_plan, fmt::format("plan is stale: the SQL script \"{}\" changed since the plan was made", plan.source),
         "plan again and review the new plan");
  }
  if (!folder.resumed()) refuse_if_target_changed(plan, t);
  executor::SqlScriptConfig cfg;
  for (const auto& r : folder.journal().records())
    if (r.step.rfind("sql-script:", 0) == 0 && (r.type == "start" || r.type == "failed")) cfg.script_ran_before = true;
  folder.start();
  cfg.admin_conninfo = t.admin_conninfo;
  cfg.target_conninfo = t.target_conninfo;
  cfg.application_name = fmt::format("pgrecover apply {} worker", plan.id);
  cfg.psql = instance::tool_path("psql", settings.instance.bin_dir);
  cfg.role_passwords = sources::role_passwords(plan, settings);
  auto script_runner = executor::make_sql_script_runner(plan, std::move(cfg));
  auto runner = with_restore_point_before(*script_runner, plan, settings, folder.dir(), options.cancel);
  return folder.run(*runner, options, 1, [&] {
    return nlohmann::json{{"target", {{"connection", plan.target.connection},
                                      {"conninfo", plan.target.conninfo},
                                      {"database", plan.target.database}}}};
  });
}

}  // namespace pgr::app
