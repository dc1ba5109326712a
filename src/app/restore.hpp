// Restores end to end: plan a Restore document against its archive and target, and apply a
// restore plan (lock, stale check, journal, parallel run, report).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "archive/archive.hpp"
#include "executor/executor.hpp"
#include "model/plan.hpp"
#include "spec/documents.hpp"

namespace pgr::app {

struct TargetAccess {
  std::string admin_conninfo;   // with password: never printed
  std::string target_conninfo;  // the restored database, with password: never printed
  model::Target display;        // what plans and reports show
};

TargetAccess resolve_target(const spec::ConnectionRef& to, const std::string& database, const spec::Settings& settings);
// For an applied plan: the same from what the plan recorded (passwords from settings, the
// environment or a passfile).
TargetAccess resolve_target(const model::Target& target, const spec::Settings& settings);

// sha256 of everything in a Restore document that changes what a plan does.
std::string restore_fingerprint(const spec::Restore& doc);

// The id plan_restore_document gives this document against this archive and target.
std::string restore_plan_id_for(const spec::Restore& doc, const std::string& toc_checksum, const model::Target& target);

// Plans one Restore document. Reads the archive's TOC and the target's catalog.
model::Plan plan_restore_document(const spec::Restore& doc, const spec::Settings& settings);

struct ApplyOptions {
  int jobs = 0;                          // 0: the plan's
  bool resume_check_only = false;
  std::atomic<bool>* cancel = nullptr;
  std::function<void(const executor::Event&)> on_event;
};

struct ApplyResult {
  executor::Summary summary;
  std::string run_dir;
  bool resumed = false;
  bool already_finished = false;
};

// The folder of a plan's run: <state_dir>/runs/<plan id>
std::string run_dir(const spec::Settings& settings, const std::string& plan_id);
// A run that was started and did not finish, for `apply --auto-approve DOCS` to continue.
std::unique_ptr<model::Plan> unfinished_run_plan(const spec::Settings& settings, const std::string& plan_id);

// Applies a restore plan. Throws Error(stale_plan) when the target or archive changed since the
// plan was made (unless this continues the plan's own interrupted run), Error(locked) when
// another apply holds the target, and an Error naming the failed step otherwise.
ApplyResult apply_restore_plan(const model::Plan& plan, const spec::Settings& settings, const ApplyOptions& options);

}  // namespace pgr::app
