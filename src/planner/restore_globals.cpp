// The database, tablespaces and roles a restore needs before any archive entry: a new database
// is created as the source was (encoding, collation, ctype, owner, ALTER DATABASE ... SET, like
// pg_restore --create), tablespaces are created, mapped or dropped, and roles are created from
// the backup's globals with their attributes (every role the restored objects mention, or every
// captured role under roles: all).
#include <functional>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pg/pg.hpp"
#include "planner/restore_planner_impl.hpp"
#include "util/error.hpp"

namespace pgr::planner::detail {

namespace {

const TocEntry* first_of(const archive::Toc& toc, std::string_view desc) {
  for (const auto& e : toc.entries)
    if (e.desc == desc) return &e;
  return nullptr;
}

// Replaces the database name after every "DATABASE " in pg_dump's SQL (quoted or not, as
// pg_dump's fmtId wrote it) with the target's name.
std::string rename_database(const std::string& sql, const std::string& from, const std::string& to) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t at = sql.find("DATABASE ", pos);
    if (at == std::string::npos) break;
    size_t id_start = at + 9, id_end = id_start;
    auto id = pg::parse_identifier(sql, id_end);
    out += sql.substr(pos, id_start - pos);
    if (id && *id == from) {
      out += pg::quote_ident(to);
    } else {
      out += sql.substr(id_start, id_end - id_start);
      if (id_end == id_start) id_end = id_start;
    }
    pos = id_end;
  }
  return out + sql.substr(pos);
}

// "KEY = 'value'" or "KEY = name" in pg_dump's CREATE DATABASE text.
std::string clause_value(const std::string& sql, const std::string& key) {
  std::regex re("\\b" + key + R"( = ('(?:[^']|'')*'|"(?:[^"]|"")*"|\S+?)(?=[ ;]))");
  std::smatch m;
  if (!std::regex_search(sql, m, re)) return {};
  std::string v = m[1];
  if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"')) {
    char q = v.front();
    v = v.substr(1, v.size() - 2);
    std::string unq;
    for (size_t i = 0; i < v.size(); ++i) {
      unq += v[i];
      if (v[i] == q && i + 1 < v.size() && v[i + 1] == q) ++i;
    }
    v = unq;
  }
  return v;
}

// The SQL that gives the new database `name` what the source database `src` had: its owner, the
// DATABASE PROPERTIES entry (ALTER DATABASE / ALTER ROLE ... IN DATABASE ... SET), its comment
// and privileges, renamed. Without roles (no-owner), only what names no role.
std::string database_properties(const archive::Toc& toc, const TocEntry& src, const std::string& name, bool with_roles) {
  std::string props;
  if (with_roles && !src.owner.empty()) {
    props += fmt::format("ALTER DATABASE {} OWNER TO {};\n", pg::quote_ident(name), pg::quote_ident(src.owner));
  }
  if (const TocEntry* p = first_of(toc, "DATABASE PROPERTIES")) {
    std::string text = rename_database(p->defn, src.tag, name);
    if (!with_roles) {  // keep the database's own lines, not those naming roles
      std::string kept;
      size_t pos = 0;
      while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos + 1);
        if (line.rfind("ALTER ROLE ", 0) != 0) kept += line;
        pos = nl == std::string::npos ? text.size() : nl + 1;
      }
      text = kept;
    }
    props += text;
  }
  for (const auto& e : toc.entries) {
    if (!is_database_entry(e) || (!with_roles && e.desc == "ACL")) continue;
    props += rename_database(e.defn, src.tag, name);
  }
  return props;
}

}  // namespace

void Planner::add_roles_and_database() {
  add_database();
  add_tablespaces();
  add_roles();
}

// Roles the new database itself needs: its owner, and those in its settings and privileges.
std::set<std::string> Planner::database_roles() const {
  std::set<std::string> out;
  if (db_exists() || doc_.spec.roles == config::RolesPolicy::no_owner) return out;
  if (const TocEntry* d = first_of(toc_, "DATABASE"); d && !d->owner.empty()) out.insert(d->owner);
  if (const TocEntry* p = first_of(toc_, "DATABASE PROPERTIES")) {
    static const std::regex role_in_db(R"(ALTER ROLE (\S+) IN DATABASE)");
    for (auto it = std::sregex_iterator(p->defn.begin(), p->defn.end(), role_in_db); it != std::sregex_iterator(); ++it) {
      size_t pos = 0;
      std::string text = (*it)[1];
      if (auto id = pg::parse_identifier(text, pos)) out.insert(*id);
    }
  }
  for (const auto& e : toc_.entries)
    if (e.desc == "ACL" && is_database_entry(e))
      for (const auto& r : roles_of(e)) out.insert(r);
  return out;
}

void Planner::add_database() {
  if (db_exists()) {
    if (!in_.database->empty() && doc_.spec.existing == config::ExistingPolicy::fail) {
      // Not a conflict by itself: present-and-equal objects are no-ops. Say it for the reviewer.
      warnings_.push_back(fmt::format("database \"{}\" is not empty: objects already present are left as they are",
                                      doc_.spec.database));
    }
    return;
  }
  if (!doc_.spec.create) {
    fail(ErrorKind::input,
         fmt::format("Restore \"{}\": database \"{}\" does not exist on the target", doc_.metadata.name,
                     doc_.spec.database),
         "create it first, or set to.create: true");
  }
  const std::string& name = doc_.spec.database;
  const TocEntry* src = first_of(toc_, "DATABASE");
  std::string encoding = doc_.spec.encoding, collate, ctype, provider, icu, tablespace;
  if (src) {
    if (encoding.empty()) encoding = clause_value(src->defn, "ENCODING");
    if (doc_.spec.locale.empty()) {
      collate = clause_value(src->defn, "LOCALE");
      ctype = collate;
      if (collate.empty()) {
        collate = clause_value(src->defn, "LC_COLLATE");
        ctype = clause_value(src->defn, "LC_CTYPE");
      }
      provider = clause_value(src->defn, "LOCALE_PROVIDER");
      icu = clause_value(src->defn, "ICU_LOCALE");
    }
    tablespace = clause_value(src->defn, "TABLESPACE");
  }
  if (encoding.empty()) encoding = idx_.encoding();
  if (!doc_.spec.locale.empty()) collate = ctype = doc_.spec.locale;
  std::string sql = fmt::format("CREATE DATABASE {} WITH TEMPLATE = template0 ENCODING = {}", pg::quote_ident(name),
                                pg::quote_literal(encoding));
  std::string said = "encoding " + encoding;
  if (!provider.empty() && provider != "libc") sql += " LOCALE_PROVIDER = " + provider;
  if (!collate.empty()) {
    sql += fmt::format(" LC_COLLATE = {} LC_CTYPE = {}", pg::quote_literal(collate), pg::quote_literal(ctype));
    said += collate == ctype ? ", locale " + collate : ", collation " + collate + ", ctype " + ctype;
  }
  if (!icu.empty()) sql += " ICU_LOCALE = " + pg::quote_literal(icu);
  if (!tablespace.empty() && !doc_.spec.tablespaces_default) {
    auto m = doc_.spec.tablespace_map.find(tablespace);
    std::string t = m == doc_.spec.tablespace_map.end() ? tablespace : m->second;
    if (!t.empty() && t != "pg_default") {
      sql += " TABLESPACE = " + pg::quote_ident(t);
      said += ", tablespace " + t;
    }
  }
  Step d;
  d.id = "database:" + name;
  d.kind = "database";
  d.phase = "database";
  d.object = name;
  d.action = Action::create;
  d.reason = fmt::format("missing on the target (to.create: true); {} {}", src ? "as the source:" : "with", said);
  d.params["sql"] = sql;
  d.locks = {{kCatalogLock, LockMode::exclusive}};
  database_step_ = d.id;
  steps_.push_back(std::move(d));

  // Owner, ALTER DATABASE ... SET, per-role settings in it, its comment and privileges: one step
  // after the roles exist (they are added as its dependencies in add_roles).
  if (!src) return;
  std::string props = database_properties(toc_, *src, name, doc_.spec.roles != config::RolesPolicy::no_owner);
  if (props.find_first_not_of(" \n;") == std::string::npos) return;
  Step s;
  s.id = "database-settings:" + name;
  s.kind = "database-settings";
  s.phase = "database";
  s.object = name;
  s.action = Action::create;
  s.reason = "the source database's owner, settings, comment and privileges (as pg_restore --create)";
  s.params["sql"] = props;
  s.depends_on = {database_step_};
  s.locks = {{kCatalogLock, LockMode::exclusive}};
  global_steps_.push_back(s.id);
  steps_.push_back(std::move(s));
}

void Planner::add_tablespaces() {
  if (doc_.spec.tablespaces_default) {
    extra_params_["tablespaces"] = "default";
    return;
  }
  if (!doc_.spec.tablespace_map.empty()) extra_params_["tablespace_map"] = nlohmann::json(doc_.spec.tablespace_map).dump();
  std::set<std::string> used;
  for (const auto& e : toc_.entries)
    if (included_.count(e.id) && !e.tablespace.empty()) used.insert(e.tablespace);
  if (!db_exists())
    if (const TocEntry* src = first_of(toc_, "DATABASE"))
      if (auto t = clause_value(src->defn, "TABLESPACE"); !t.empty()) used.insert(t);
  for (const auto& t : used) {
    auto m = doc_.spec.tablespace_map.find(t);
    if (m != doc_.spec.tablespace_map.end()) {
      if (!m->second.empty() && m->second != "pg_default" && !in_.cluster->tablespaces.count(m->second)) {
        fail(ErrorKind::input,
             fmt::format("Restore \"{}\": tablespaces.map sends tablespace \"{}\" to \"{}\", which does not exist on "
                         "the target",
                         doc_.metadata.name, t, m->second),
             "create it first (CREATE TABLESPACE), or map to pg_default");
      }
      continue;
    }
    if (in_.cluster->tablespaces.count(t)) continue;
    auto def = in_.tablespace_definitions.find(t);
    if (def == in_.tablespace_definitions.end()) {
      fail(ErrorKind::input,
           fmt::format("Restore \"{}\": the restored objects use tablespace \"{}\", which is not on the target and not "
                       "in the backup's globals",
                       doc_.metadata.name, t),
           fmt::format("create it first, or map it with tablespaces: {{map: {{{}: pg_default}}}}, or put everything in "
                       "the default with tablespaces: default",
                       t));
    }
    Step s;
    s.id = "tablespace:" + t;
    s.kind = "tablespace";
    s.phase = "globals";
    s.object = t;
    s.action = Action::create;
    s.reason = "used by the restored objects; created as in the backup's globals (its folder must exist on the target "
               "host, empty and owned by the server's user)";
    s.params["sql"] = def->second.sql;
    s.params["owner"] = def->second.owner;
    s.locks = {{kCatalogLock, LockMode::exclusive}};
    global_steps_.push_back(s.id);
    if (!database_step_.empty()) {
      for (auto& d : steps_)
        if (d.id == database_step_) d.depends_on.push_back(s.id);
    }
    steps_.push_back(std::move(s));
  }
}

std::vector<Step> role_steps(const RestoreInputs& in, const std::set<std::string>& needed,
                             std::vector<std::string>& warnings, std::map<std::string, std::string>& plan_params) {
  const auto& doc = *in.document;
  const auto& cluster = *in.cluster;
  std::vector<Step> out;
  if (doc.spec.roles == config::RolesPolicy::no_owner) return out;
  std::vector<std::string> missing;
  for (const auto& r : needed)
    if (!cluster.roles.count(r)) missing.push_back(r);
  if (doc.spec.roles == config::RolesPolicy::require) {
    if (missing.empty()) return out;
    std::string list;
    for (auto& r : missing) list += (list.empty() ? "" : ", ") + r;
    fail(ErrorKind::input,
         fmt::format("Restore \"{}\": roles missing on the target: {}", doc.metadata.name, list),
         "create them first, or use roles: create-missing, or roles: no-owner to skip ownership and grants");
  }
  bool all = doc.spec.roles == config::RolesPolicy::all;
  if (all && in.role_definitions.empty()) {
    fail(ErrorKind::input,
         fmt::format("Restore \"{}\": roles: all needs the roles captured in a backup's globals, and this source has "
                     "none",
                     doc.metadata.name),
         "restore from a repository backup taken with globals: true, or use roles: create-missing");
  }
  // The roles those roles are members of come too, so every membership is restored.
  std::map<std::string, std::string> why;  // role -> reason
  for (const auto& r : missing) why[r] = "owns or is granted objects in the restore";
  std::function<void(const std::string&)> add_groups = [&](const std::string& r) {
    auto it = in.role_member_of.find(r);
    if (it == in.role_member_of.end()) return;
    for (const auto& g : it->second) {
      if (cluster.roles.count(g) || why.count(g)) continue;
      why[g] = fmt::format("\"{}\" is a member of it", r);
      add_groups(g);
    }
  };
  for (const auto& r : missing) add_groups(r);
  if (all) {
    for (const auto& [r, sql] : in.role_definitions)
      if (!cluster.roles.count(r) && !why.count(r)) why[r] = "roles: all";
    plan_params["globals_backup"] = in.globals_backup;
    plan_params["globals_repository"] = in.globals_repository;
  }
  for (const auto& [r, reason] : why) {
    Step s;
    s.id = "role:" + r;
    s.kind = "role";
    s.phase = "globals";
    s.object = r;
    s.action = Action::create;
    s.locks = {{kCatalogLock, LockMode::exclusive}};
    auto def = in.role_definitions.find(r);
    if (def != in.role_definitions.end()) {
      s.params["sql"] = def->second;
      s.reason = reason + "; created as in " + in.globals_origin;
      if (all && in.roles_with_password.count(r)) {
        // the hash is read from the backup (or the live source) at apply
        s.params["password"] = in.globals_live ? "from-source" : "from-backup";
        s.reason += ", with its password";
      }
    } else {
      s.params["sql"] = fmt::format("CREATE ROLE {} NOLOGIN", pg::quote_ident(r));
      s.reason = reason + "; created NOLOGIN (the backup has no globals)";
      warnings.push_back(fmt::format("role \"{}\" is missing on the target and will be created NOLOGIN", r));
    }
    out.push_back(std::move(s));
  }
  return out;
}

void Planner::add_roles() {
  if (doc_.spec.roles == config::RolesPolicy::no_owner) return;
  std::set<std::string> needed = database_roles();
  needed.insert(in_.roles_outside_toc.begin(), in_.roles_outside_toc.end());
  for (const auto& e : toc_.entries)
    if (included_.count(e.id))
      for (const auto& r : roles_of(e)) needed.insert(r);
  for (const auto& s : steps_)
    if (s.kind == "tablespace" && !s.params.at("owner").empty()) needed.insert(s.params.at("owner"));
  for (auto& s : role_steps(in_, needed, warnings_, extra_params_)) {
    role_steps_[s.object] = s.id;
    steps_.push_back(std::move(s));
  }
  // The new database's owner and settings, and the tablespaces' owners, wait for their roles.
  for (auto& s : steps_) {
    if (s.kind != "database-settings" && s.kind != "tablespace") continue;
    if (s.kind == "tablespace") {
      auto it = role_steps_.find(s.params.at("owner"));
      if (it != role_steps_.end()) s.depends_on.push_back(it->second);
      continue;
    }
    for (const auto& r : database_roles())
      if (auto it = role_steps_.find(r); it != role_steps_.end()) s.depends_on.push_back(it->second);
  }
}

}  // namespace pgr::planner::detail
