#include "planner/restore_sql.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "model/dag.hpp"
#include "pg/pg.hpp"
#include "planner/restore_planner_impl.hpp"
#include "util/error.hpp"

namespace pgr::planner {

namespace {

using detail::kCatalogLock;
using model::Action;
using model::LockMode;
using model::Step;

// The roles the script's statements name and that it does not create itself.
std::set<std::string> roles_named(const archive::PlainScript& script) {
  std::set<std::string> out(script.owners.begin(), script.owners.end());
  auto add = [&](const std::string& desc, const std::vector<std::string>& lines) {
    for (const auto& line : lines) {
      archive::TocEntry e;
      e.desc = desc;
      e.defn = line;
      for (auto& r : roles_of(e)) out.insert(r);
    }
  };
  add("ACL", script.acl_lines);
  add("POLICY", script.policy_lines);
  for (const auto& r : script.roles_created) out.erase(r);
  out.erase("");
  return out;
}

void refuse_what_a_script_cannot_do(const config::Restore& doc, const archive::PlainScript& script) {
  const auto& s = doc.spec;
  std::string who = fmt::format("Restore \"{}\"", doc.metadata.name);
  auto refuse = [&](const std::string& what, const std::string& hint) {
    fail(ErrorKind::input, fmt::format("{}: {}", who, what), hint);
  };
  if (!s.select.empty()) {
    refuse("select does not apply to a plain SQL script: psql runs it whole",
           "restore the whole script, or take the dump with pg_dump -Fc / -Fd to restore a selection");
  }
  if (s.existing != config::ExistingPolicy::fail) {
    refuse(fmt::format("existing: {} does not apply to a plain SQL script, which creates every object itself",
                       config::to_string(s.existing)),
           "restore into a new database (to.create: true), or drop the existing one first");
  }
  if (s.roles == config::RolesPolicy::no_owner) {
    refuse("roles: no-owner does not apply to a plain SQL script, whose ownership statements psql runs as they are",
           "use roles: create-missing, or take the dump with pg_dump --no-owner --no-privileges");
  }
  if (s.single_transaction && script.connects) {
    refuse("single_transaction cannot hold a script with \\connect lines (pg_dumpall, pg_dump --create): each "
           "\\connect leaves the transaction",
           "leave single_transaction out for this script");
  }
  if (!s.tablespace_map.empty() || s.tablespaces_default) {
    refuse("tablespaces: default and tablespaces.map do not apply to a plain SQL script",
           "take the dump with pg_dump --no-tablespaces, or from a pg_dump archive");
  }
}

// The same script into the same target ran to its end before: nothing to do (a script cannot
// be compared with what it made; its own finished run is the record).
model::Plan already_restored(const RestoreInputs& in) {
  const std::string& db = in.document->spec.database;
  Step run;
  run.id = "sql-script:" + db;
  run.kind = "sql-script";
  run.phase = "data";
  run.object = db;
  run.action = Action::no_op;
  run.reason = "an earlier run of this plan restored this script into the database";
  run.params["file"] = in.source;
  model::Plan plan;
  plan.id = restore_plan_id(in.documents_fingerprint, in.script->sha256, in.target);
  plan.created_at = in.created_at;
  plan.kind = "restore";
  plan.document = in.document->metadata.name;
  plan.annotations = in.document->metadata.annotations;
  plan.fingerprints = {{"documents", in.documents_fingerprint}, {"archive", in.script->sha256}, {"target", in.target_fingerprint}};
  plan.source = in.source;
  plan.target = in.target;
  plan.steps = {run};
  plan.params = {{"source_format", "sql"}, {"jobs", "1"}};
  return plan;
}

std::string create_database_sql(const config::Restore& doc, const archive::PlainScript& script) {
  std::string encoding = !doc.spec.encoding.empty() ? doc.spec.encoding : !script.encoding.empty() ? script.encoding : "UTF8";
  std::string sql = fmt::format("CREATE DATABASE {} WITH TEMPLATE = template0 ENCODING = {}",
                                pg::quote_ident(doc.spec.database), pg::quote_literal(encoding));
  if (!doc.spec.locale.empty()) sql += fmt::format(" LC_COLLATE = {0} LC_CTYPE = {0}", pg::quote_literal(doc.spec.locale));
  return sql;
}

}  // namespace

model::Plan plan_sql_restore(const RestoreInputs& in) {
  if (!in.document || !in.script || !in.cluster || !in.database) fail(ErrorKind::internal, "plan_sql_restore: missing inputs");
  const config::Restore& doc = *in.document;
  const archive::PlainScript& script = *in.script;
  const std::string& db = doc.spec.database;
  refuse_what_a_script_cannot_do(doc, script);
  if (in.script_restored_before && in.database->exists && !in.database->empty()) return already_restored(in);
  std::vector<std::string> warnings;
  std::map<std::string, std::string> params;
  std::vector<Step> steps;

  // The databases a pg_dumpall script creates must not exist: CREATE DATABASE would stop it.
  std::vector<std::string> creates;
  for (const auto& d : script.databases_created) {
    if (in.cluster->databases.count(d)) {
      fail(ErrorKind::input,
           fmt::format("Restore \"{}\": the script creates database \"{}\", which exists on the target",
                       doc.metadata.name, d),
           "restore into a cluster without it, or drop it first");
    }
    creates.push_back(d);
  }
  // Roles: the script's own CREATE ROLE lines (pg_dumpall) make theirs; the others come from
  // the backup's globals as for an archive.
  std::vector<Step> roles = detail::role_steps(in, roles_named(script), warnings, params);
  std::vector<std::string> before_script;
  for (auto& r : roles) {
    before_script.push_back(r.id);
    steps.push_back(std::move(r));
  }

  std::string create_sql;
  bool exists = in.database->exists;
  bool start_over = exists && !in.database->empty() && !script.cluster_dump && !in.half_restored_by.empty();
  if (start_over) {
    create_sql = create_database_sql(doc, script);
    warnings.push_back(fmt::format("database \"{}\" holds what run {} of this restore left when its script failed: "
                                   "it is dropped and created anew before the script runs",
                                   db, in.half_restored_by));
  } else if (!exists) {
    if (!doc.spec.create) {
      fail(ErrorKind::input, fmt::format("Restore \"{}\": database \"{}\" does not exist on the target", doc.metadata.name, db),
           "create it first, or set to.create: true");
    }
    std::string encoding = !doc.spec.encoding.empty() ? doc.spec.encoding : !script.encoding.empty() ? script.encoding : "UTF8";
    create_sql = create_database_sql(doc, script);
    Step d;
    d.id = "database:" + db;
    d.kind = "database";
    d.phase = "database";
    d.object = db;
    d.action = Action::create;
    d.reason = fmt::format("missing on the target (to.create: true); encoding {}", encoding);
    d.params["sql"] = create_sql;
    d.locks = {{kCatalogLock, LockMode::exclusive}};
    d.depends_on = before_script;
    before_script.push_back(d.id);
    steps.push_back(std::move(d));
  } else if (!in.database->empty() && !script.cluster_dump) {
    fail(ErrorKind::input,
         fmt::format("Restore \"{}\": database \"{}\" is not empty, and a plain SQL script creates every object "
                     "itself (psql would stop at the first one that exists)",
                     doc.metadata.name, db),
         "restore into a new database (to.create: true), or drop and re-create it first");
  }

  Step run;
  run.id = "sql-script:" + db;
  run.kind = "sql-script";
  run.phase = "data";
  run.object = db;
  run.action = Action::run;
  run.reason = fmt::format("psql -v ON_ERROR_STOP=1{} of the {}{} ({} bytes{})", doc.spec.single_transaction ? " --single-transaction" : "",
                           script.cluster_dump ? "pg_dumpall script" : "SQL script",
                           script.connects ? ", following its \\connect lines" : "", script.file_bytes,
                           script.compression == archive::Compression::none ? "" : std::string(", ") + archive::to_string(script.compression));
  run.params["file"] = in.source;
  run.params["single_transaction"] = doc.spec.single_transaction ? "true" : "false";
  // Run again after a failure, the script starts over: what this plan created is created anew.
  if (!create_sql.empty()) run.params["recreate_sql"] = create_sql;
  if (start_over) {
    run.params["start_over"] = "true";
    run.reason += fmt::format("; first drops and re-creates the database run {} left half restored", in.half_restored_by);
  }
  if (!creates.empty()) run.params["drop_databases"] = nlohmann::json(creates).dump();
  run.depends_on = before_script;
  run.locks = {{kCatalogLock, LockMode::exclusive}};
  run.estimate.bytes = static_cast<std::int64_t>(script.file_bytes);
  steps.push_back(run);

  std::vector<std::string> after = {run.id};
  if (doc.spec.analyze && !script.connects) {
    Step a;
    a.id = "analyze:" + db;
    a.kind = "analyze-database";
    a.phase = "post-restore";
    a.object = db;
    a.action = Action::run;
    a.reason = "fresh statistics for the planner after the load";
    a.depends_on = {run.id};
    a.locks = {{kCatalogLock, LockMode::none}};
    after.push_back(a.id);
    steps.push_back(std::move(a));
  }
  nlohmann::json tables = nlohmann::json::array();
  if (doc.spec.verify_row_counts && !script.connects) {
    for (const auto& [name, rows] : script.row_counts) {
      auto m = in.expected_rows.find(name.first + "." + name.second);
      tables.push_back({{"table", pg::qualified(name.first, name.second)},
                        {"expected", m == in.expected_rows.end() ? rows : m->second}});
    }
  }
  if (!tables.empty() || !doc.spec.verify_sql.empty()) {
    Step v;
    v.id = "verify:" + db;
    v.kind = "verify";
    v.phase = "post-restore";
    v.object = db;
    v.action = Action::run;
    v.reason = fmt::format("check row counts of {} tables{} and {} SQL checks", tables.size(),
                           in.expected_rows.empty() ? " (as in the script)" : " (from the backup's manifest)",
                           doc.spec.verify_sql.size());
    v.depends_on = after;
    v.params["tables"] = tables.dump();
    v.params["sql"] = nlohmann::json(doc.spec.verify_sql).dump();
    v.locks = {{kCatalogLock, LockMode::none}};
    steps.push_back(std::move(v));
  }
  if (script.connects) {
    warnings.push_back("the script connects to other databases (\\connect): row counts are not verified, and "
                       "post.analyze covers none of them");
  }
  model::sort_steps(steps);

  model::Plan plan;
  plan.id = restore_plan_id(in.documents_fingerprint, script.sha256, in.target);
  plan.created_at = in.created_at;
  plan.kind = "restore";
  plan.document = doc.metadata.name;
  plan.annotations = doc.metadata.annotations;
  plan.fingerprints = {{"documents", in.documents_fingerprint}, {"archive", script.sha256}, {"target", in.target_fingerprint}};
  plan.source = in.source;
  plan.target = in.target;
  plan.warnings = warnings;
  plan.steps = std::move(steps);
  plan.params = params;
  plan.params["source_format"] = "sql";
  plan.params["jobs"] = "1";
  plan.params["roles"] = config::to_string(doc.spec.roles);
  plan.params["existing"] = config::to_string(doc.spec.existing);
  return plan;
}

}  // namespace pgr::planner
