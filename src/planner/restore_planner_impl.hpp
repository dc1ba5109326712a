// The restore planner's internals, shared by its source files: restore_planner.cpp
// (actions, steps, edges), restore_selection.cpp (what a selection pulls in) and
// restore_post.cpp (analyze, sequence checks, verification) and restore_globals.cpp (the
// database, tablespaces and roles).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "planner/restore_planner.hpp"
#include "planner/toc_index.hpp"

namespace pgr::planner::detail {

using archive::TocEntry;
using model::Action;
using model::LockMode;
using model::Step;

inline const std::string kCatalogLock = "(catalog)";

// Why an entry is in the plan.
struct Inclusion {
  bool selected = false;
  std::string reason;  // empty for plainly selected entries
};

class Planner {
 public:
  explicit Planner(const RestoreInputs& in) : in_(in), doc_(*in.document), toc_(*in.toc), idx_(toc_) {}

  model::Plan run();

 private:
  void select_entries();
  void decide_actions();
  void build_steps();
  void split_unique_constraints();
  std::vector<const TocEntry*> pre_data_tables(const TocEntry& e) const;
  void add_roles_and_database();  // restore_globals.cpp: database, tablespaces, roles
  void add_database();
  void add_tablespaces();
  void add_roles();
  std::set<std::string> database_roles() const;
  void add_post_restore_steps();
  Step row_count_step(const Step& data, const std::string& qualified) const;
  Action present_action(const TocEntry& e, std::string& reason);
  Action data_action(const TocEntry& e, std::string& reason);
  bool db_exists() const { return in_.database && in_.database->exists; }
  // restore_existing.cpp: sections, existing: replace (drop cascade), loads into tables that
  // foreign keys point at, single transaction.
  void compute_sections();
  bool section_wanted(const TocEntry& e) const;
  void check_sections() const;
  std::vector<std::string> extra_columns(const TocEntry& e) const;
  std::vector<std::string> missing_columns(const TocEntry& table) const;
  void plan_replacements();
  const TocEntry* entry_for(const catalog::DroppedObject& o) const;
  void add_lost_steps();
  void plan_loads_into_existing();
  void add_single_transaction();
  void plan_splits();  // restore_split.cpp: big tables loaded by several sessions
  std::string step_id(const TocEntry& e);
  void conflict(const std::string& what) { conflicts_.push_back(what); }

  const RestoreInputs& in_;
  const config::Restore& doc_;
  const archive::Toc& toc_;
  TocIndex idx_;
  std::map<int, Inclusion> included_;      // entry id -> why
  std::map<int, Action> action_;
  std::map<int, std::string> reason_;
  std::map<int, std::string> ids_;
  std::set<std::string> used_ids_;
  std::vector<Step> steps_;
  std::vector<std::string> warnings_;
  std::vector<std::string> conflicts_;
  std::set<std::string> skipped_fks_;
  std::string database_step_;
  std::map<std::string, std::string> role_steps_;  // role -> step id
  std::map<int, archive::Section> section_of_;     // entry id -> section, as pg_restore --section sees it
  std::set<int> roots_;                            // TABLE entries dropped (CASCADE) and recreated
  std::map<int, std::string> recreate_reason_;     // entry id -> why it is dropped and recreated
  std::map<int, int> dropped_with_;                // entry id -> the root TABLE entry whose drop drops it
  std::vector<catalog::DroppedObject> lost_;       // dropped with a root, not recreated
  std::set<std::string> dropped_constraints_;      // schema.table.name dropped with a root
  std::map<int, std::set<std::string>> cascade_locks_;  // root entry id -> other tables ("s.t") its drop alters
  // Steps every archive entry waits for (the new database's properties, created tablespaces).
  std::vector<std::string> global_steps_;
  std::map<std::string, std::string> extra_params_;  // added to the plan's params
};

// Steps creating the roles of `needed` the target lacks (and the roles they are members of; every
// captured role under roles: all), per the document's roles policy. Throws under roles: require.
std::vector<Step> role_steps(const RestoreInputs& in, const std::set<std::string>& needed,
                             std::vector<std::string>& warnings, std::map<std::string, std::string>& plan_params);

std::vector<model::TableLock> locks_for(const TocEntry& e, const TocIndex& idx);
double build_weight(const TocEntry& e);
Step follow_up(const Step& parent, const std::string& kind, Action action, const std::string& reason);

}  // namespace pgr::planner::detail
