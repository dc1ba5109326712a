#include "catalog/catalog.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/hash.hpp"

namespace pgr::catalog {

std::string key(const std::string& schema, const std::string& name) { return schema + "." + name; }

bool Database::empty() const {
  for (const auto& s : schemas)
    if (s != "public") return false;
  return relations.empty() && functions.empty() && types.empty() && large_objects == 0 &&
         (extensions.empty() || extensions == std::set<std::string>{"plpgsql"});
}

Cluster read_cluster(pg::Connection& conn) {
  Cluster c;
  c.server_version = conn.server_version();
  auto roles = conn.exec("select rolname, rolsuper, rolcanlogin from pg_catalog.pg_roles");
  for (int i = 0; i < roles.rows(); ++i) {
    Role r{roles.str(i, 0), roles.boolean(i, 1), roles.boolean(i, 2)};
    c.roles[r.name] = r;
  }
  auto dbs = conn.exec("select datname from pg_catalog.pg_database");
  for (int i = 0; i < dbs.rows(); ++i) c.databases.insert(dbs.str(i, 0));
  auto ts = conn.exec("select spcname from pg_catalog.pg_tablespace");
  for (int i = 0; i < ts.rows(); ++i) c.tablespaces.insert(ts.str(i, 0));
  try {
    c.system_identifier = conn.exec("select system_identifier::text from pg_catalog.pg_control_system()").str(0, 0);
  } catch (const pg::DbError&) {
    // needs pg_monitor or superuser on some setups: the identifier is informational only
  }
  return c;
}

Database read_database(pg::Connection& conn) {
  Database d;
  d.exists = true;
  d.name = conn.exec("select current_database()").str(0, 0);
  // Objects that belong to extensions are the extension's, not ours to compare.
  const char* not_ext = "not exists (select 1 from pg_catalog.pg_depend dep where dep.objid = {}.oid and dep.deptype = 'e')";
  auto r = conn.exec(fmt::format(
      "select nspname from pg_catalog.pg_namespace n where nspname !~ '^pg_' and nspname <> 'information_schema' and {}",
      fmt::format(fmt::runtime(not_ext), "n")));
  for (int i = 0; i < r.rows(); ++i) d.schemas.insert(r.str(i, 0));

  r = conn.exec(fmt::format(
      "select n.nspname, c.relname, c.relkind, c.reltuples::bigint, "
      "  case when c.relkind in ('r','p','m','i','I','S','t') then pg_catalog.pg_total_relation_size(c.oid) else 0 end, "
      "  coalesce(s.last_analyze, s.last_autoanalyze) is not null, "
      "  coalesce((select pg_catalog.array_to_json(pg_catalog.array_agg(a.attname order by a.attnum))::text "
      "     from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '[]'), "
      "  coalesce((select pg_catalog.array_to_json(pg_catalog.array_agg(a.attname order by a.attnum))::text "
      "     from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
      "       and a.attgenerated <> ''), '[]') "
      "from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
      "left join pg_catalog.pg_stat_user_tables s on s.relid = c.oid "
      "where n.nspname !~ '^pg_' and n.nspname <> 'information_schema' and c.relkind in ('r','p','v','m','S','f','i','I') "
      "  and {}",
      fmt::format(fmt::runtime(not_ext), "c")));
  for (int i = 0; i < r.rows(); ++i) {
    Relation rel;
    rel.schema = r.str(i, 0);
    rel.name = r.str(i, 1);
    rel.relkind = r.get(i, 2).empty() ? 'r' : r.get(i, 2)[0];
    rel.estimated_rows = r.int64(i, 3);
    rel.bytes = r.int64(i, 4);
    rel.analyzed = r.boolean(i, 5);
    // JSON arrays: column names may hold commas, quotes, anything
    rel.columns = nlohmann::json::parse(r.str(i, 6)).get<std::vector<std::string>>();
    rel.generated_columns = nlohmann::json::parse(r.str(i, 7)).get<std::vector<std::string>>();
    d.relations[key(rel.schema, rel.name)] = rel;
  }
  // Exact row presence for tables: one cheap probe each (LIMIT 1), not a count.
  for (auto& [k, rel] : d.relations) {
    if (rel.relkind != 'r' && rel.relkind != 'p' && rel.relkind != 'm') continue;
    if (rel.relkind == 'm') {
      auto pop = conn.exec("select relispopulated from pg_catalog.pg_class where oid = $1::regclass",
                           {pg::qualified(rel.schema, rel.name)});
      if (pop.rows() && !pop.boolean(0, 0)) continue;
    }
    auto probe = conn.exec(fmt::format("select exists (select 1 from only {})", pg::qualified(rel.schema, rel.name)));
    rel.has_rows = probe.boolean(0, 0);
  }

  r = conn.exec(
      "select n.nspname, c.relname, k.conname from pg_catalog.pg_constraint k "
      "join pg_catalog.pg_class c on c.oid = k.conrelid join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
      "where n.nspname !~ '^pg_' and n.nspname <> 'information_schema' "
      "union all "
      "select n.nspname, t.typname, k.conname from pg_catalog.pg_constraint k "
      "join pg_catalog.pg_type t on t.oid = k.contypid join pg_catalog.pg_namespace n on n.oid = t.typnamespace "
      "where n.nspname !~ '^pg_' and n.nspname <> 'information_schema'");
  for (int i = 0; i < r.rows(); ++i) d.constraints.insert(r.str(i, 0) + "." + r.str(i, 1) + "." + r.str(i, 2));

  r = conn.exec(
      "select n.nspname, c.relname, t.tgname from pg_catalog.pg_trigger t join pg_catalog.pg_class c on c.oid = t.tgrelid "
      "join pg_catalog.pg_namespace n on n.oid = c.relnamespace where not t.tgisinternal");
  for (int i = 0; i < r.rows(); ++i) d.triggers.insert(r.str(i, 0) + "." + r.str(i, 1) + "." + r.str(i, 2));

  r = conn.exec(
      "select n.nspname, c.relname, p.polname from pg_catalog.pg_policy p join pg_catalog.pg_class c on c.oid = p.polrelid "
      "join pg_catalog.pg_namespace n on n.oid = c.relnamespace");
  for (int i = 0; i < r.rows(); ++i) d.policies.insert(r.str(i, 0) + "." + r.str(i, 1) + "." + r.str(i, 2));

  r = conn.exec(
      "select n.nspname, c.relname, w.rulename from pg_catalog.pg_rewrite w join pg_catalog.pg_class c on c.oid = w.ev_class "
      "join pg_catalog.pg_namespace n on n.oid = c.relnamespace where w.rulename <> '_RETURN' "
      "and n.nspname !~ '^pg_' and n.nspname <> 'information_schema'");
  for (int i = 0; i < r.rows(); ++i) d.rules.insert(r.str(i, 0) + "." + r.str(i, 1) + "." + r.str(i, 2));

  // Functions in pg_dump's tag form: name(argument types as format_type prints them)
  r = conn.exec(fmt::format(
      "select n.nspname, p.proname || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')' "
      "from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace "
      "where n.nspname !~ '^pg_' and n.nspname <> 'information_schema' and {}",
      fmt::format(fmt::runtime(not_ext), "p")));
  for (int i = 0; i < r.rows(); ++i) d.functions.insert(r.str(i, 0) + "." + r.str(i, 1));

  r = conn.exec(fmt::format(
      "select n.nspname, t.typname from pg_catalog.pg_type t join pg_catalog.pg_namespace n on n.oid = t.typnamespace "
      "where n.nspname !~ '^pg_' and n.nspname <> 'information_schema' and t.typtype in ('b','c','d','e','r','m') "
      "and (t.typrelid = 0 or (select c.relkind from pg_catalog.pg_class c where c.oid = t.typrelid) = 'c') "
      "and not exists (select 1 from pg_catalog.pg_type el where el.oid = t.typelem and el.typarray = t.oid) and {}",
      fmt::format(fmt::runtime(not_ext), "t")));
  for (int i = 0; i < r.rows(); ++i) d.types.insert(r.str(i, 0) + "." + r.str(i, 1));

  r = conn.exec("select extname from pg_catalog.pg_extension");
  for (int i = 0; i < r.rows(); ++i) d.extensions.insert(r.str(i, 0));

  r = conn.exec(
      "select schemaname, sequencename, coalesce(last_value, 0), last_value is not null from pg_catalog.pg_sequences");
  for (int i = 0; i < r.rows(); ++i) {
    Sequence s{r.str(i, 0), r.str(i, 1), r.int64(i, 2), r.boolean(i, 3)};
    d.sequences[key(s.schema, s.name)] = s;
  }
  d.large_objects = conn.exec("select count(*) from pg_catalog.pg_largeobject_metadata").int64(0, 0);
  d.foreign_keys = read_foreign_keys(conn);
  r = conn.exec(
      "select pg_catalog.pg_get_userbyid(d.defaclrole), coalesce(n.nspname, ''), d.defaclobjtype::text "
      "from pg_catalog.pg_default_acl d left join pg_catalog.pg_namespace n on n.oid = d.defaclnamespace");
  for (int i = 0; i < r.rows(); ++i) d.default_acls.insert(r.str(i, 0) + "|" + r.str(i, 1) + "|" + r.str(i, 2));
  return d;
}

std::map<std::string, std::string> fingerprint_parts(const Cluster& cluster, const Database& db) {
  std::map<std::string, std::string> out;
  nlohmann::json roles = nlohmann::json::array();
  for (auto& [n, r] : cluster.roles) roles.push_back(n);
  out["roles"] = sha256_hex(roles.dump());
  out["database"] = sha256_hex(db.exists ? "exists" : "missing");
  nlohmann::json objects;
  objects["schemas"] = db.schemas;
  nlohmann::json rels = nlohmann::json::object();
  nlohmann::json rows = nlohmann::json::object();
  for (auto& [k, r] : db.relations) {
    rels[k] = {{"kind", std::string(1, r.relkind)}, {"columns", r.columns}};
    if (r.relkind == 'r' || r.relkind == 'p' || r.relkind == 'm') rows[k] = r.has_rows;
  }
  objects["relations"] = rels;
  objects["constraints"] = db.constraints;
  objects["triggers"] = db.triggers;
  objects["policies"] = db.policies;
  objects["rules"] = db.rules;
  objects["functions"] = db.functions;
  objects["types"] = db.types;
  objects["extensions"] = db.extensions;
  out["objects"] = sha256_hex(objects.dump());
  rows["large_objects"] = db.large_objects;
  out["rows"] = sha256_hex(rows.dump());
  nlohmann::json seqs = nlohmann::json::object();
  for (auto& [k, s] : db.sequences) seqs[k] = {s.last_value, s.is_called};
  out["sequences"] = sha256_hex(seqs.dump());
  return out;
}

std::string fingerprint(const Cluster& cluster, const Database& db) {
  nlohmann::json j = fingerprint_parts(cluster, db);
  return sha256_hex(j.dump());
}

std::vector<std::string> changed_parts(const std::string& admin_conninfo, const std::string& target_conninfo,
                                       const std::string& database, const std::map<std::string, std::string>& recorded) {
  auto admin = pg::Connection::open(admin_conninfo, "pgrecover apply");
  auto cluster = read_cluster(admin);
  Database db;
  if (cluster.databases.count(database)) {
    auto c = pg::Connection::open(target_conninfo, "pgrecover apply");
    db = read_database(c);
  }
  std::vector<std::string> changed;
  for (const auto& [k, v] : fingerprint_parts(cluster, db)) {
    auto it = recorded.find(k);
    if (it != recorded.end() && it->second != v) changed.push_back(k);
  }
  return changed;
}

}  // namespace pgr::catalog
