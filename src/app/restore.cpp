#include "app/restore.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/repositories.hpp"
#include "app/runs.hpp"
#include "catalog/catalog.hpp"
#include "engine/globals.hpp"
#include "executor/ddl_script.hpp"
#include "executor/restore_runner.hpp"
#include "executor/session_settings.hpp"
#include "executor/single_transaction.hpp"
#include "executor/target_lock.hpp"
#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "planner/restore_planner.hpp"
#include "repository/archive_source.hpp"
#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::app {

namespace {

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
  // The archive's COPY rows against COPY (SELECT the same columns) of the target, in pg_dump's
  // session settings, as order-independent digests. Bounded by kContentCompareLimit.
  std::optional<bool> same_contents(const archive::TocEntry& e) override {
    if (e.data.bytes < 0 || e.data.bytes > planner::kContentCompareLimit) return std::nullopt;
    auto open = e.copy_stmt.find(" (");
    auto close = e.copy_stmt.rfind(") FROM stdin");
    if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
    std::string columns = e.copy_stmt.substr(open + 2, close - open - 2);
    MultisetDigest archive_side, target_side;
    auto reader = archive_.open_data(e);
    for (std::string row; reader->next_row(row);) archive_side.add(row);
    conn_.exec("BEGIN READ ONLY");
    try {
      for (const auto& s : archive_.toc().entries)
        if (s.desc == "ENCODING" || s.desc == "STDSTRINGS") conn_.exec(s.defn);
      conn_.exec("SET LOCAL DateStyle = ISO; SET LOCAL IntervalStyle = postgres; SET LOCAL extra_float_digits = 3");
      auto out = conn_.copy_out(fmt::format("COPY (SELECT {} FROM ONLY {}) TO STDOUT", columns,
                                            pg::qualified(e.namespace_, e.tag)));
      for (std::string row; out.next(row);) target_side.add(row);
      conn_.exec("ROLLBACK");
    } catch (const pg::DbError& x) {
      conn_.exec("ROLLBACK");
      if (x.sqlstate() == "42703") return false;  // a column of the archive's is missing: not the same rows
      throw;
    } catch (...) {
      conn_.exec("ROLLBACK");
      throw;
    }
    return archive_side == target_side;
  }

 private:
  const archive::Archive& archive_;
  pg::Connection& conn_;
};

class Dependencies : public planner::TargetDependencies {
 public:
  explicit Dependencies(pg::Connection& c) : conn_(c) {}
  std::vector<catalog::DroppedObject> drop_cascade(const std::vector<std::pair<std::string, std::string>>& tables) override {
    return catalog::read_drop_cascade(conn_, tables);
  }

 private:
  pg::Connection& conn_;
};

// The plan records where its archive is; apply reopens it the same way.
constexpr const char* kSourceRepository = "source_repository";
constexpr const char* kSourceBackup = "source_backup";
constexpr const char* kSourceData = "source_data";

RestoreSource source_of(const model::Plan& plan) {
  RestoreSource src;
  src.archive = plan.source;
  if (auto it = plan.params.find(kSourceRepository); it != plan.params.end()) {
    src.repository = it->second;
    src.backup_ref = plan.params.at(kSourceBackup);
    src.data = plan.params.at(kSourceData);
  }
  return src;
}

}  // namespace

std::unique_ptr<archive::Archive> open_source_archive(const RestoreSource& src, const config::Settings& settings) {
  if (src.repository.empty()) return archive::Archive::open(src.archive);
  auto repo = open_repository(settings, src.repository, "restore source");
  return repository::open_backup_archive(repo, repo.find(src.backup_ref), src.data);
}

// The password hashes of the roles a plan creates with "password: from-backup", read from the
// manifest of the backup the plan was made from: plans never carry them.
std::map<std::string, std::string> role_passwords(const model::Plan& plan, const config::Settings& settings) {
  std::map<std::string, std::string> out;
  bool wanted = false;
  for (const auto& s : plan.steps)
    if (s.kind == "role" && s.params.count("password")) wanted = true;
  auto backup = plan.params.find("globals_backup");
  auto repo_name = plan.params.find("globals_repository");
  if (!wanted || backup == plan.params.end() || backup->second.empty() || repo_name == plan.params.end()) return out;
  auto repo = open_repository(settings, repo_name->second, "restore roles");
  auto m = repo.read_manifest(repo.find(backup->second));
  if (m.globals)
    for (const auto& r : m.globals->roles)
      if (r.password && !r.password->empty()) out[r.name] = *r.password;
  return out;
}

RestoreSource resolve_restore_source(const config::Restore& doc, const config::Settings& settings) {
  if (doc.spec.is_live()) return {};  // restore_live.cpp
  if (!doc.spec.archive.empty() || !doc.spec.sql_file.empty()) {
    RestoreSource src;
    src.archive = doc.spec.archive.empty() ? doc.spec.sql_file : doc.spec.archive;
    src.plain = !doc.spec.sql_file.empty();
    return src;
  }
  std::string who = fmt::format("Restore \"{}\"", doc.metadata.name);
  const auto& ref = doc.spec.backup;
  std::string what = ref.kind == config::BackupRef::Kind::latest ? "any logical backup"
                     : ref.kind == config::BackupRef::Kind::id   ? "backup " + ref.id
                                                               : "a logical backup started before " + ref.before;
  // The repository named (or the policy's first), then the policy's other copies in order.
  std::vector<std::string> names = {doc.spec.repository};
  names.insert(names.end(), doc.spec.fallback_repositories.begin(), doc.spec.fallback_repositories.end());
  std::vector<std::string> skipped;  // why each earlier copy was passed over
  std::optional<repository::Repository> found;
  std::vector<repository::BackupInfo> backups;
  const repository::BackupInfo* chosen = nullptr;
  const config::RepositorySettings* rs = nullptr;
  for (size_t i = 0; i < names.size() && !chosen; ++i) {
    rs = &settings.repository(names[i], who);
    bool last = i + 1 == names.size();
    backups.clear();
    try {
      found.emplace(open_reachable_repository(*rs));
      for (auto& b : found->list(doc.spec.policy))
        if (b.kind == "logical") backups.push_back(std::move(b));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::io || last) throw;
      skipped.push_back(fmt::format("repository \"{}\" unreachable ({})", rs->name, e.what()));
      continue;
    }
    if (ref.kind == config::BackupRef::Kind::latest) {
      if (!backups.empty()) chosen = &backups.back();
    } else if (ref.kind == config::BackupRef::Kind::id) {
      repository::check_backup_id(ref.id);
      for (const auto& b : backups)
        if (b.id == ref.id) chosen = &b;
    } else {
      auto before = repository::parse_iso(ref.before);
      for (const auto& b : backups)  // oldest first: the last one started before T
        if (repository::parse_iso(b.started_at) < before) chosen = &b;
    }
    if (!chosen && !last) skipped.push_back(fmt::format("repository \"{}\" has no {} of policy \"{}\"", rs->name, what, doc.spec.policy));
  }
  if (!chosen) {
    std::string earlier;
    for (const auto& s : skipped) earlier += s + "; ";
    fail(ErrorKind::input,
         fmt::format("{}: {}repository \"{}\" has no {} of policy \"{}\"", who, earlier, rs->name, what, doc.spec.policy),
         "see pgrecover backups list --repository " + rs->name);
  }
  auto& repo = *found;
  auto m = repo.read_manifest(*chosen);
  RestoreSource src;
  src.plain = m.format == "plain";
  src.archive = chosen->location + "/" + m.data;
  src.repository = rs->name;
  if (!skipped.empty()) {
    std::string note;
    for (const auto& x : skipped) note += (note.empty() ? "" : "; ") + x;
    src.fallback_notes.push_back(fmt::format("{}: reading backup {} from repository \"{}\"", note, chosen->id, rs->name));
    log::warn("{}", src.fallback_notes.back());
  }
  src.backup_ref = chosen->policy + "/" + chosen->id;
  src.data = m.data;
  if (src.plain && !fs::path(chosen->location).is_absolute()) {
    // psql reads the script from a file; the S3 driver streams archives only so far.
    fail(ErrorKind::input, fmt::format("{}: backup {} is a plain SQL script in {}, which pgrecover restores only from a local repository",
                                       who, m.id, chosen->location),
         "copy the backup to a local repository (or take the policy's backups in directory or custom format)");
  }
  src.backup_id = m.id;
  src.expected_rows = m.row_counts;
  if (m.globals) src.role_definitions = engine::role_definitions(*m.globals);
  src.globals = m.globals;
  return src;
}

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

std::string restore_fingerprint(const config::Restore& doc) {
  const auto& s = doc.spec;
  nlohmann::json j = {{"name", doc.metadata.name},
                      {"archive", s.archive},
                      {"repository", s.repository},
                      {"policy", s.policy},
                      {"backup", {static_cast<int>(s.backup.kind), s.backup.id, s.backup.before}},
                      {"to", {s.to.connection, pg::split_password(s.to.conninfo).conninfo}},
                      {"database", s.database},
                      {"create", s.create},
                      {"select", {s.select.schemas, s.select.tables, s.select.exclude_schemas, s.select.exclude_tables}},
                      {"existing", config::to_string(s.existing)},
                      {"roles", config::to_string(s.roles)},
                      {"post", {s.fix_sequences, s.analyze, s.verify_row_counts, s.verify_sql}},
                      {"settings", s.session_settings}};
  // Fields added later count only when set, so the plan ids of existing documents stay the same.
  if (s.sections.size() != 3) j["sections"] = s.sections;
  if (s.single_transaction) j["single_transaction"] = true;
  if (s.allow_dropping_dependents) j["allow_dropping_dependents"] = true;
  if (!s.sql_file.empty()) j["sql_file"] = s.sql_file;
  if (s.is_live()) {
    j["live"] = {s.live.source.connection, pg::split_password(s.live.source.conninfo).conninfo, s.live.database,
                 s.live.allow_mixed};
  }
  if (s.tablespaces_default || !s.tablespace_map.empty()) j["tablespaces"] = {s.tablespaces_default, s.tablespace_map};
  if (!s.encoding.empty() || !s.locale.empty()) j["new_database"] = {s.encoding, s.locale};
  return sha256_hex(j.dump());
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
  return plan_restore_from(doc, settings, resolve_restore_source(doc, settings));
}

model::Plan plan_restore_from(const config::Restore& doc, const config::Settings& settings, const RestoreSource& src) {
  if (src.plain) return plan_sql_restore_document(doc, settings, src);
  if (doc.spec.is_live()) return plan_live_restore_document(doc, settings);
  auto archive = open_source_archive(src, settings);
  TargetAccess t = resolve_target(doc.spec.to, doc.spec.database, settings);
  std::string fingerprint = restore_fingerprint(doc);
  // An interrupted run of this very plan id is continued: the target now holds its partial work.
  std::string id = planner::restore_plan_id(fingerprint, archive->toc().checksum, t.display);
  if (auto saved = unfinished_run(settings, id)) return *saved;
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
  Dependencies dependencies(counter_conn);
  auto who = admin.exec("SELECT current_user::text, current_setting('is_superuser') = 'on'");
  planner::RestoreInputs in;
  in.document = &doc;
  in.toc = &archive->toc();
  in.cluster = &cluster;
  in.database = &db;
  in.counter = &counter;
  in.dependencies = &dependencies;
  in.target_role = who.str(0, 0);
  in.target_superuser = who.boolean(0, 1);
  in.source = src.archive;
  in.expected_rows = src.expected_rows;
  add_globals(src, in);
  in.documents_fingerprint = fingerprint;
  in.target = t.display;
  in.created_at = now_iso8601();
  auto parts = catalog::fingerprint_parts(cluster, db);
  in.target_fingerprint = catalog::fingerprint(cluster, db);
  model::Plan plan = planner::plan_restore(in);
  for (const auto& n : src.fallback_notes) plan.warnings.push_back(n);
  for (auto& [k, v] : parts) plan.fingerprints["target." + k] = v;
  if (!src.repository.empty()) {
    plan.params[kSourceRepository] = src.repository;
    plan.params[kSourceBackup] = src.backup_ref;
    plan.params[kSourceData] = src.data;
  }
  return plan;
}

void refuse_if_target_changed(const model::Plan& plan, const TargetAccess& t) {
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

executor::ApplyResult apply_restore_plan(const model::Plan& given, const config::Settings& settings,
                                         const executor::ApplyOptions& options) {
  if (given.kind != "restore") fail(ErrorKind::input, fmt::format("plan {} is a {} plan, not a restore", given.id, given.kind));
  if (auto it = given.params.find("source_format"); it != given.params.end() && it->second == "sql") {
    return apply_sql_restore_plan(given, settings, options);
  }
  if (given.params.count(kSourceLive)) return apply_live_restore_plan(given, settings, options);
  executor::RunFolder folder(settings.state_dir, given);
  if (folder.finished()) return folder.finished_result();
  const model::Plan& plan = folder.plan();
  TargetAccess t = resolve_target(plan.target, settings);
  executor::TargetLock target_lock(t.admin_conninfo, t.display.database, plan.id);
  target_lock.end_orphans(plan.id);

  RestoreSource src = source_of(plan);
  auto archive = open_source_archive(src, settings);
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
  // existing: replace may drop objects it cannot recreate: only when the document says so.
  if (!plan.params.count("allow_dropping_dependents")) {
    std::vector<std::string> lost;
    for (const auto& s : plan.steps)
      if (s.params.count("lost") && s.action == model::Action::remove) lost.push_back(s.params.at("identity"));
    if (!lost.empty()) {
      std::string list;
      for (const auto& l : lost) list += "\n  - " + l;
      fail(ErrorKind::input,
           fmt::format("plan {} would drop {} object(s) of database \"{}\" that depend on replaced tables and that the "
                       "restore does not recreate:{}",
                       plan.id, lost.size(), plan.target.database, list),
           "set allow_dropping_dependents: true in the Restore document to accept their loss, or recreate them "
           "yourself after the restore; nothing was changed");
    }
  }
  bool single = plan.params.count("single_transaction") > 0;
  if (single && folder.resumed()) {
    auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover apply");
    executor::void_rolled_back_steps(plan, journal, admin);
  }
  folder.start();

  executor::RestoreRunnerConfig cfg;
  cfg.single_transaction = single;
  cfg.admin_conninfo = t.admin_conninfo;
  cfg.target_conninfo = t.target_conninfo;
  cfg.application_name = fmt::format("pgrecover apply {} worker", plan.id);
  cfg.no_owner = plan.params.count("roles") && plan.params.at("roles") == "no-owner";
  if (auto it = plan.params.find("session_settings"); it != plan.params.end() && !it->second.empty()) {
    cfg.session_settings = nlohmann::json::parse(it->second).get<std::map<std::string, std::string>>();
  }
  int jobs = options.jobs > 0 ? options.jobs : std::stoi(plan.params.count("jobs") ? plan.params.at("jobs") : "1");
  if (single) jobs = 1;  // one transaction is one connection
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
  for (const auto& r : journal.records())
    if (r.type == "done" && !r.step.empty()) cfg.prior_rows[r.step] = r.rows;

  cfg.no_tablespaces = plan.params.count("tablespaces") && plan.params.at("tablespaces") == "default";
  if (auto it = plan.params.find("tablespace_map"); it != plan.params.end() && !it->second.empty()) {
    cfg.tablespace_map = nlohmann::json::parse(it->second).get<std::map<std::string, std::string>>();
  }
  cfg.role_passwords = role_passwords(plan, settings);
  executor::DdlScript ddl = executor::render_ddl_script(instance::tool_path("pg_restore", settings.instance.bin_dir).string(),
                                                        ddl_source, cfg.no_owner,
                                                        cfg.no_tablespaces || !cfg.tablespace_map.empty());
  executor::RestoreRunner runner(plan, archive, std::move(ddl), cfg);
  auto result = folder.run(runner, options, jobs, [&] {
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
