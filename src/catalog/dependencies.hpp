// What depends on what in a target database, read from its catalog (pg_constraint, pg_depend):
// the foreign keys between tables, and everything a DROP TABLE ... CASCADE would take with it.
// The restore planner uses these to drop and recreate tables (existing: replace), to truncate
// tables that foreign keys point at, and to load data in foreign-key order.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "pg/pg.hpp"

namespace pgr::catalog {

struct ForeignKey {
  std::string schema, table, name;   // the constraint and the table it is on
  std::string ref_schema, ref_table;  // the table it references
  std::string definition;             // pg_get_constraintdef: "FOREIGN KEY (a) REFERENCES s.t(id) ..."
  bool operator==(const ForeignKey&) const = default;
};

// Top-level foreign keys (not the clones on partitions) of user schemas.
std::vector<ForeignKey> read_foreign_keys(pg::Connection& conn);

// One object a DROP TABLE ... CASCADE of `root` removes (the root itself included).
struct DroppedObject {
  std::string root;      // "schema.table" whose drop removes it
  std::string catalog;   // pg_class, pg_constraint, pg_trigger, pg_policy, pg_rewrite, pg_proc, pg_type, ...
  std::string kind;      // relkind for pg_class ('r','v','m','S','i',...), contype for pg_constraint
  std::string schema, name;  // name: relation, constraint, trigger, policy or rule name; functions as name(args)
  std::string on_table;  // "schema.table" an attached object (constraint, trigger, policy, rule, index) is on
  std::string type;      // pg_identify_object's type ("view", "table constraint", ...), for people
  std::string identity;  // pg_identify_object's identity, for people
  bool part = false;     // an internal part of a relation with no entry of its own in a pg_dump
                         // archive (toast, row type, column default, CHECK, constraint index, _RETURN,
                         // the triggers of a foreign key)
  bool operator==(const DroppedObject&) const = default;
};

// Everything DROP TABLE ... CASCADE of each of `tables` (schema, name) would drop, following
// pg_depend as the server does (normal, auto and internal dependencies).
std::vector<DroppedObject> read_drop_cascade(pg::Connection& conn,
                                             const std::vector<std::pair<std::string, std::string>>& tables);

}  // namespace pgr::catalog
