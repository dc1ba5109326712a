#include "engine/globals.hpp"

#include <set>
#include <tuple>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::engine {

namespace {

std::vector<std::string> pg_array(std::string_view text) {
  // Text form of a one-dimensional text[] as returned by the server ({a,"b c"}).
  std::vector<std::string> out;
  if (text.size() < 2 || text.front() != '{') return out;
  std::string cur;
  bool quoted = false, any = false;
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '\\' && i + 2 < text.size()) cur += text[++i];
      else if (c == '"') quoted = false;
      else cur += c;
    } else if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
      any = false;
    } else {
      cur += c;
      any = true;
    }
  }
  if (any || !cur.empty()) out.push_back(cur);
  return out;
}

// "search_path=a, b" -> SET search_path = 'a', 'b' (list-valued settings as pg_dumpall does).
std::string set_clause(const std::string& setting) {
  auto eq = setting.find('=');
  if (eq == std::string::npos) fail(ErrorKind::input, fmt::format("role setting \"{}\" has no '='", setting));
  std::string name = setting.substr(0, eq), value = setting.substr(eq + 1);
  static const std::set<std::string> lists = {"search_path", "temp_tablespaces", "session_preload_libraries",
                                              "local_preload_libraries", "shared_preload_libraries"};
  std::string rendered;
  if (lists.count(name)) {
    size_t pos = 0;
    while (pos <= value.size()) {
      size_t comma = value.find(',', pos);
      std::string part = value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      while (!part.empty() && part.front() == ' ') part.erase(part.begin());
      if (part.size() >= 2 && part.front() == '"' && part.back() == '"') part = part.substr(1, part.size() - 2);
      rendered += (rendered.empty() ? "" : ", ") + pg::quote_literal(part);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  } else {
    rendered = pg::quote_literal(value);
  }
  return fmt::format("SET {} = {}", pg::quote_ident(name), rendered);
}

}  // namespace

repository::Globals capture_globals(pg::Connection& conn, const std::string& database) {
  repository::Globals g;
  g.passwords_included = conn.exec("SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT')").boolean(0, 0);
  if (!g.passwords_included) {
    log::warn("the backup role may not read pg_authid: role password hashes are not in the backup's globals "
              "(a superuser may read them)");
  }
  auto roles = conn.exec(fmt::format(
      "SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, r.rolreplication, "
      "r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil::text, {}, "
      "coalesce(pg_catalog.shobj_description(r.oid, 'pg_authid'), '') "
      "FROM pg_catalog.pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY r.rolname",
      g.passwords_included ? "(SELECT a.rolpassword FROM pg_catalog.pg_authid a WHERE a.oid = r.oid)" : "NULL::text"));
  std::map<std::string, size_t> index;
  for (int i = 0; i < roles.rows(); ++i) {
    repository::Role r;
    r.name = roles.str(i, 0);
    r.superuser = roles.boolean(i, 1);
    r.inherit = roles.boolean(i, 2);
    r.createrole = roles.boolean(i, 3);
    r.createdb = roles.boolean(i, 4);
    r.login = roles.boolean(i, 5);
    r.replication = roles.boolean(i, 6);
    r.bypassrls = roles.boolean(i, 7);
    r.connection_limit = static_cast<int>(roles.int64(i, 8));
    r.valid_until = roles.opt(i, 9).value_or("");
    r.password = roles.opt(i, 10);
    r.comment = roles.str(i, 11);
    index[r.name] = g.roles.size();
    g.roles.push_back(std::move(r));
  }
  auto members = conn.exec(
      "SELECT m.rolname, r.rolname, coalesce(g.rolname, ''), a.admin_option "
      "FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.roleid "
      "JOIN pg_catalog.pg_roles m ON m.oid = a.member LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantor "
      "WHERE m.rolname !~ '^pg_' ORDER BY 1, 2");
  for (int i = 0; i < members.rows(); ++i) {
    auto it = index.find(members.str(i, 0));
    if (it == index.end()) continue;
    g.roles[it->second].member_of.push_back({members.str(i, 1), members.str(i, 2), members.boolean(i, 3)});
  }
  // Settings: per role (all databases or this one), and of this database for every role.
  auto settings = conn.exec(
      "SELECT coalesce(r.rolname, ''), coalesce(d.datname, ''), unnest(s.setconfig) "
      "FROM pg_catalog.pg_db_role_setting s LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole "
      "LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase "
      "WHERE s.setdatabase = 0 OR d.datname = $1 ORDER BY 1, 2, 3",
      {database});
  for (int i = 0; i < settings.rows(); ++i) {
    std::string role = settings.str(i, 0), db = settings.str(i, 1), value = settings.str(i, 2);
    if (role.empty()) {
      g.database_settings.push_back({db, value});
    } else if (auto it = index.find(role); it != index.end()) {
      g.roles[it->second].settings.push_back({db, value});
    }
  }
  auto ts = conn.exec(
      "SELECT t.spcname, pg_catalog.pg_get_userbyid(t.spcowner), pg_catalog.pg_tablespace_location(t.oid), "
      "coalesce(t.spcoptions::text, '{}') FROM pg_catalog.pg_tablespace t "
      "WHERE t.spcname !~ '^pg_' ORDER BY 1");
  for (int i = 0; i < ts.rows(); ++i) g.tablespaces.push_back({ts.str(i, 0), ts.str(i, 1), ts.str(i, 2), pg_array(ts.get(i, 3))});
  return g;
}

std::map<std::string, std::string> role_definitions(const repository::Globals& globals) {
  std::map<std::string, std::string> out;
  // Who is a member of whom, both ways, so each role's SQL can add the memberships whose other
  // side already exists.
  std::vector<std::tuple<std::string, std::string, bool>> edges;  // member, role, admin
  for (const auto& r : globals.roles)
    for (const auto& m : r.member_of) edges.emplace_back(r.name, m.role, m.admin_option);
  for (const auto& r : globals.roles) {
    std::string q = pg::quote_ident(r.name);
    std::string sql = fmt::format("CREATE ROLE {} WITH {}SUPERUSER {}INHERIT {}CREATEROLE {}CREATEDB {}LOGIN {}REPLICATION {}BYPASSRLS",
                                  q, r.superuser ? "" : "NO", r.inherit ? "" : "NO", r.createrole ? "" : "NO",
                                  r.createdb ? "" : "NO", r.login ? "" : "NO", r.replication ? "" : "NO",
                                  r.bypassrls ? "" : "NO");
    if (r.connection_limit != -1) sql += fmt::format(" CONNECTION LIMIT {}", r.connection_limit);
    if (!r.valid_until.empty()) sql += fmt::format(" VALID UNTIL {}", pg::quote_literal(r.valid_until));
    sql += ";\n";
    for (const auto& s : r.settings)
      if (s.database.empty()) sql += fmt::format("ALTER ROLE {} {};\n", q, set_clause(s.setting));
    if (!r.comment.empty()) sql += fmt::format("COMMENT ON ROLE {} IS {};\n", q, pg::quote_literal(r.comment));
    for (const auto& [member, role, admin] : edges) {
      if (member != r.name && role != r.name) continue;
      const std::string& other = member == r.name ? role : member;
      sql += fmt::format(
          "DO $pgrecover$ BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {}) THEN "
          "IF NOT pg_catalog.pg_has_role({}, {}, 'MEMBER') THEN GRANT {} TO {}{}; END IF; END IF; END $pgrecover$;\n",
          pg::quote_literal(other), pg::quote_literal(member), pg::quote_literal(role), pg::quote_ident(role),
          pg::quote_ident(member), admin ? " WITH ADMIN OPTION" : "");
    }
    out[r.name] = sql;
  }
  return out;
}

std::map<std::string, std::string> tablespace_definitions(const repository::Globals& globals) {
  std::map<std::string, std::string> out;
  for (const auto& t : globals.tablespaces) {
    std::string sql = fmt::format("CREATE TABLESPACE {}", pg::quote_ident(t.name));
    if (!t.owner.empty()) sql += " OWNER " + pg::quote_ident(t.owner);
    sql += " LOCATION " + pg::quote_literal(t.location);
    std::string with;
    for (const auto& o : t.options) {
      auto eq = o.find('=');
      if (eq == std::string::npos) continue;
      with += fmt::format("{}{} = {}", with.empty() ? "" : ", ", pg::quote_ident(o.substr(0, eq)),
                          pg::quote_literal(o.substr(eq + 1)));
    }
    if (!with.empty()) sql += " WITH (" + with + ")";
    out[t.name] = sql;
  }
  return out;
}

}  // namespace pgr::engine
