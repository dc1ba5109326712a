// Facts about a pg_dump TOC that the planner needs again and again: which entries are
// relations, which table a post-data entry touches, who owns and who is granted what.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "archive/archive.hpp"

namespace pgr::planner {

// "TABLE DATA" -> "table-data"
std::string step_kind(const std::string& desc);

// Entries that only set session state for a restore (SET client_encoding, ...), never steps.
bool is_session_entry(const archive::TocEntry& e);
// TABLE, VIEW, MATERIALIZED VIEW, SEQUENCE, FOREIGN TABLE
bool is_relation_entry(const archive::TocEntry& e);
// ACL and DEFAULT ACL: applied after every object exists (default privileges would otherwise
// change the grants of objects created after them).
bool is_acl_entry(const archive::TocEntry& e);
// Entries pg_restore runs only with --create: the database's own comment, privileges, labels
// (restored with a database the restore creates, by its database-settings step).
bool is_database_entry(const archive::TocEntry& e);
// Entries that hang off another object and follow it into a selection.
bool is_attached_entry(const archive::TocEntry& e);

// For entries like CONSTRAINT "orders orders_pkey": splits the tag into (table, name) by trying
// each space against the known table names of the namespace.
std::optional<std::pair<std::string, std::string>> split_tag(const std::string& tag,
                                                             const std::set<std::string>& tables);

// Role names an entry needs: its owner, grantees of GRANT/REVOKE statements, and the FOR ROLE of
// ALTER DEFAULT PRIVILEGES. PUBLIC is not a role.
std::set<std::string> roles_of(const archive::TocEntry& e);

class TocIndex {
 public:
  explicit TocIndex(const archive::Toc& toc);

  const archive::TocEntry* by_id(int id) const;
  // The relation entry (TABLE, MATERIALIZED VIEW, ...) for schema.name.
  const archive::TocEntry* relation(const std::string& schema, const std::string& name) const;
  // The TABLE DATA (or MATERIALIZED VIEW DATA) entry of a relation entry.
  const archive::TocEntry* data_of(const archive::TocEntry& relation) const;
  // Relation entries an entry touches: its own relation for data/indexes/constraints/triggers,
  // both tables for a foreign key (found through the entries it depends on).
  std::vector<const archive::TocEntry*> tables_touched(const archive::TocEntry& e) const;
  // Entries that depend directly on this one.
  const std::vector<int>& dependents(int id) const;
  const std::set<std::string>& table_names(const std::string& schema) const;
  std::string encoding() const { return encoding_; }

 private:
  const archive::Toc& toc_;
  std::map<int, const archive::TocEntry*> by_id_;
  std::map<std::string, const archive::TocEntry*> relations_;  // schema.name
  std::map<int, const archive::TocEntry*> data_;                // relation id -> data entry
  std::map<int, std::vector<int>> dependents_;
  std::map<std::string, std::set<std::string>> table_names_;
  std::string encoding_ = "UTF8";
};

std::string display_name(const archive::TocEntry& e);  // schema.tag or tag
std::string qualified_key(const std::string& schema, const std::string& name);

}  // namespace pgr::planner
