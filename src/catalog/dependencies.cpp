#include "catalog/dependencies.hpp"

#include <nlohmann/json.hpp>

namespace pgr::catalog {

std::vector<ForeignKey> read_foreign_keys(pg::Connection& conn) {
  // With an empty search_path, pg_get_constraintdef qualifies the referenced table, so the
  // definition means the same in any session (a restore runs with pg_restore's empty one).
  conn.exec("BEGIN READ ONLY");
  conn.exec("SET LOCAL search_path = ''");
  auto r = conn.exec(
      "select n.nspname, c.relname, k.conname, rn.nspname, rc.relname, pg_catalog.pg_get_constraintdef(k.oid) "
      "from pg_catalog.pg_constraint k "
      "join pg_catalog.pg_class c on c.oid = k.conrelid join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
      "join pg_catalog.pg_class rc on rc.oid = k.confrelid join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace "
      "where k.contype = 'f' and k.conparentid = 0 and n.nspname !~ '^pg_' and n.nspname <> 'information_schema' "
      "order by 1, 2, 3");
  conn.exec("COMMIT");
  std::vector<ForeignKey> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.str(i, 0), r.str(i, 1), r.str(i, 2), r.str(i, 3), r.str(i, 4), r.str(i, 5)});
  }
  return out;
}

std::vector<DroppedObject> read_drop_cascade(pg::Connection& conn,
                                             const std::vector<std::pair<std::string, std::string>>& tables) {
  if (tables.empty()) return {};
  nlohmann::json roots = nlohmann::json::array();
  for (const auto& [s, t] : tables) roots.push_back(pg::qualified(s, t));
  // The walk follows what the server's own findDependentObjects follows: objects that depend on
  // a dropped one (normal, auto, internal), and the owner of an internal part (a view's _RETURN
  // rule brings its view). One OR join per level; the depth is small.
  static const char* kSql = R"SQL(
with recursive walk(root, classid, objid) as (
  select c.oid, 'pg_catalog.pg_class'::regclass::oid, c.oid
    from pg_catalog.json_array_elements_text($1::json) t(name)
    join pg_catalog.pg_class c on c.oid = t.name::regclass
  union
  select w.root,
         case when d.refclassid = w.classid and d.refobjid = w.objid then d.classid else d.refclassid end,
         case when d.refclassid = w.classid and d.refobjid = w.objid then d.objid else d.refobjid end
    from walk w join pg_catalog.pg_depend d
      on (d.refclassid = w.classid and d.refobjid = w.objid and d.deptype in ('n', 'a', 'i'))
      or (d.classid = w.classid and d.objid = w.objid and d.deptype = 'i')
), described as (
  select w.root, w.classid, w.objid, w.classid::regclass::text as catalog, o.type, o.identity,
    case w.classid
      when 'pg_catalog.pg_constraint'::regclass then (select conrelid from pg_catalog.pg_constraint where oid = w.objid)
      when 'pg_catalog.pg_trigger'::regclass then (select tgrelid from pg_catalog.pg_trigger where oid = w.objid)
      when 'pg_catalog.pg_policy'::regclass then (select polrelid from pg_catalog.pg_policy where oid = w.objid)
      when 'pg_catalog.pg_rewrite'::regclass then (select ev_class from pg_catalog.pg_rewrite where oid = w.objid)
      when 'pg_catalog.pg_attrdef'::regclass then (select adrelid from pg_catalog.pg_attrdef where oid = w.objid)
      when 'pg_catalog.pg_class'::regclass then (select indrelid from pg_catalog.pg_index where indexrelid = w.objid)
    end as on_rel
  from walk w, pg_catalog.pg_identify_object(w.classid, w.objid, 0) o
)
select rn.nspname || '.' || rc.relname,
  d.catalog,
  coalesce(case d.classid
    when 'pg_catalog.pg_class'::regclass then (select relkind::text from pg_catalog.pg_class where oid = d.objid)
    when 'pg_catalog.pg_constraint'::regclass then (select contype::text from pg_catalog.pg_constraint where oid = d.objid)
  end, ''),
  coalesce(case d.classid
    when 'pg_catalog.pg_class'::regclass then (select n.nspname::text from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.oid = d.objid)
    when 'pg_catalog.pg_proc'::regclass then (select n.nspname::text from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace where p.oid = d.objid)
    when 'pg_catalog.pg_type'::regclass then (select n.nspname::text from pg_catalog.pg_type t join pg_catalog.pg_namespace n on n.oid = t.typnamespace where t.oid = d.objid)
    else (select n.nspname::text from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.oid = d.on_rel)
  end, ''),
  coalesce(case d.classid
    when 'pg_catalog.pg_class'::regclass then (select relname::text from pg_catalog.pg_class where oid = d.objid)
    when 'pg_catalog.pg_constraint'::regclass then (select conname::text from pg_catalog.pg_constraint where oid = d.objid)
    when 'pg_catalog.pg_trigger'::regclass then (select tgname::text from pg_catalog.pg_trigger where oid = d.objid)
    when 'pg_catalog.pg_policy'::regclass then (select polname::text from pg_catalog.pg_policy where oid = d.objid)
    when 'pg_catalog.pg_rewrite'::regclass then (select rulename::text from pg_catalog.pg_rewrite where oid = d.objid)
    when 'pg_catalog.pg_proc'::regclass then (select proname || '(' || pg_catalog.oidvectortypes(proargtypes) || ')'
                                                from pg_catalog.pg_proc where oid = d.objid)
    when 'pg_catalog.pg_type'::regclass then (select typname::text from pg_catalog.pg_type where oid = d.objid)
  end, ''),
  coalesce((select n.nspname || '.' || c.relname from pg_catalog.pg_class c
              join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.oid = d.on_rel), ''),
  d.type, coalesce(d.identity, ''),
  case d.classid
    when 'pg_catalog.pg_class'::regclass then
      (select c.relkind in ('t') or c.relnamespace = 'pg_toast'::regnamespace or exists (select 1 from pg_catalog.pg_constraint k where k.conindid = c.oid
                                             and k.contype in ('p', 'u', 'x') and k.conrelid = (select indrelid from pg_catalog.pg_index where indexrelid = c.oid))
         from pg_catalog.pg_class c where c.oid = d.objid)
    when 'pg_catalog.pg_type'::regclass then
      (select t.typrelid <> 0 and (select relkind from pg_catalog.pg_class where oid = t.typrelid) <> 'c' or t.typelem <> 0
         from pg_catalog.pg_type t where t.oid = d.objid)
    when 'pg_catalog.pg_attrdef'::regclass then true
    when 'pg_catalog.pg_trigger'::regclass then (select tgisinternal from pg_catalog.pg_trigger where oid = d.objid)
    when 'pg_catalog.pg_constraint'::regclass then (select contype in ('c', 'n', 't') from pg_catalog.pg_constraint where oid = d.objid)
    when 'pg_catalog.pg_rewrite'::regclass then (select rulename = '_RETURN' from pg_catalog.pg_rewrite where oid = d.objid)
    else false
  end
from described d
join pg_catalog.pg_class rc on rc.oid = d.root join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace
order by 1, 2, 4, 5
)SQL";
  auto r = conn.exec(kSql, {roots.dump()});
  std::vector<DroppedObject> out;
  for (int i = 0; i < r.rows(); ++i) {
    DroppedObject o;
    o.root = r.str(i, 0);
    o.catalog = r.str(i, 1);
    o.kind = r.str(i, 2);
    o.schema = r.str(i, 3);
    o.name = r.str(i, 4);
    o.on_table = r.str(i, 5);
    o.type = r.str(i, 6);
    o.identity = r.str(i, 7);
    o.part = r.str(i, 8) == "t";
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace pgr::catalog
