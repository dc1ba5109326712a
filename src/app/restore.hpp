// Restores end to end: gather what the restore planner needs (the archive or repository backup,
// the target's catalog), plan a Restore document, and apply a restore plan (target lock, stale
// check, journal, parallel run, report).
#pragma once

#include <cstdint>
#include <functional>
#include <filesystem>
#include <map>
#include <optional>
#include <memory>
#include <string>

#include "archive/archive.hpp"
#include "config/documents.hpp"
#include "executor/run_folder.hpp"
#include "executor/target_lock.hpp"
#include "model/plan.hpp"
#include "pg/pg.hpp"
#include "planner/restore_planner.hpp"
#include "repository/repository.hpp"
#include "sources/restore_source.hpp"

namespace pgr::app {

using sources::RestoreSource;

struct TargetAccess {
  std::string admin_conninfo;   // with password: never printed
  std::string target_conninfo;  // the restored database, with password: never printed
  model::Target display;        // what plans and reports show: never a password
};

TargetAccess resolve_target(const config::ConnectionRef& to, const std::string& database, const config::Settings& settings);
// For an applied plan: the same from what the plan recorded (passwords from settings, the
// environment or a passfile).
TargetAccess resolve_target(const model::Target& target, const config::Settings& settings);

// What every restore apply starts with: its run folder and, unless finished, the target locked
// (while this lives) with the sessions of a killed earlier run of the plan ended.
struct RestoreApply {
  executor::RunFolder folder;
  TargetAccess target;
  std::optional<executor::TargetLock> lock;
  RestoreApply(const model::Plan& given, const config::Settings& settings);
};

// Plans one Restore document: reads the archive's TOC and the target's catalog (or gives the
// saved plan of an unfinished run of the same plan id).
model::Plan plan_restore_document(const config::Restore& doc, const config::Settings& settings);
// The same from a source already resolved (one database of a whole-cluster backup).
model::Plan plan_restore_from(const config::Restore& doc, const config::Settings& settings, const RestoreSource& src);
// The planning shared by every source kind: reads the target (the cluster, and the database when
// it exists), completes `in` (document, TOC, source and fingerprint already set) and plans.
// `make_counter` gives the row counter over a connection to the target.
model::Plan plan_against_target(planner::RestoreInputs in, const TargetAccess& t,
                                const std::function<std::unique_ptr<planner::RowCounter>(pg::Connection&)>& make_counter);
// Every plan a Restore document needs, in the order they are applied: one, or for a whole-cluster
// backup one per restored database (restore_cluster.cpp; docs/restore.md).
std::vector<model::Plan> plan_restore_documents(const config::Restore& doc, const config::Settings& settings);

// Applies a restore plan. Throws Error(stale_plan) when the target or archive changed since the
// plan was made (unless this continues the plan's own interrupted run), Error(locked) when
// another apply holds the target, and an Error naming the failed step otherwise.
// Plain SQL sources (from.sql_file, plain-format backups): restore_sql.cpp. The two functions
// above hand over to these when the source is a script.
model::Plan plan_sql_restore_document(const config::Restore& doc, const config::Settings& settings,
                                      const RestoreSource& src);
executor::ApplyResult apply_sql_restore_plan(const model::Plan& plan, const config::Settings& settings,
                                             const executor::ApplyOptions& options);
// Throws Error(stale_plan) when the target's catalog differs from the plan's fingerprints.
void refuse_if_target_changed(const model::Plan& plan, const TargetAccess& t);
// Fills the role and tablespace facts of a backup's globals into planner inputs.
void add_globals(const RestoreSource& src, planner::RestoreInputs& in);

executor::ApplyResult apply_restore_plan(const model::Plan& plan, const config::Settings& settings,
                                         const executor::ApplyOptions& options);
// The part of an apply shared by every archive-like source, once the run folder is open, the
// target locked and the archive checked against the plan: the existing-policy checks, the load
// settings, the DDL rendered by pg_restore from `ddl_source` and the run itself.
executor::ApplyResult run_restore(executor::RunFolder& folder, const TargetAccess& t, const archive::Archive& archive,
                                  const std::filesystem::path& ddl_source, const config::Settings& settings,
                                  const executor::ApplyOptions& options);

// Live sources (spec.from.live, restore_live.cpp): a running database cloned in one snapshot.
model::Plan plan_live_restore_document(const config::Restore& doc, const config::Settings& settings);
executor::ApplyResult apply_live_restore_plan(const model::Plan& plan, const config::Settings& settings,
                                              const executor::ApplyOptions& options);

}  // namespace pgr::app
