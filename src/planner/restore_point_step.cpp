#include "planner/restore_point_step.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "model/restore_point_params.hpp"
#include "pg/pg.hpp"
#include "util/error.hpp"

namespace pgr::planner {

namespace R = model::restore_point_param;

namespace {

std::string server_text(const config::ConnectionRef& c) {
  return c.connection.empty() ? "conninfo \"" + pg::split_password(c.conninfo).conninfo + "\""
                              : "connection " + c.connection;
}

std::string copies_text(const config::RestorePointBefore& b) {
  if (b.copies.empty()) return "";
  std::string names;
  for (const auto& c : b.copies) names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", c);
  return fmt::format(" (and in the policy's {} {})", b.copies.size() == 1 ? "copy" : "copies", names);
}

void check(const RestorePointFacts& f) {
  const auto& b = *f.before;
  for (const auto& p : f.recorded) {
    if (p.name != b.name) continue;
    fail(ErrorKind::input,
         fmt::format("{}: spec.before.restore_point: restore point \"{}\" is already recorded for cluster \"{}\" in "
                     "repository \"{}\" (at {}, {})",
                     f.document, b.name, b.cluster, b.repository, p.lsn, p.created_at),
         "choose another name (recovery to a name stops at the first restore point of that name); nothing was changed");
  }
  if (f.wal_level == "minimal") {
    fail(ErrorKind::input,
         fmt::format("{}: spec.before.restore_point: the server ({}) runs with wal_level = minimal, where PostgreSQL "
                     "cannot create a restore point", f.document, server_text(b.server)),
         "set wal_level = replica on it (a restart), or leave spec.before out; nothing was changed");
  }
  if (b.recorded() && f.archive_mode == "off") {
    fail(ErrorKind::input,
         fmt::format("{}: spec.before.restore_point: archive_mode is off on the source of policy \"{}\" ({}): the "
                     "restore point's segment would never reach the WAL archive",
                     f.document, b.resolved_policy, server_text(b.server)),
         "turn archiving on (archive_mode = on, archive_command = pgrecover wal push ...); nothing was changed");
  }
}

}  // namespace

void add_restore_point_step(model::Plan& plan, const RestorePointFacts& f) {
  const auto& b = *f.before;
  if (b.name.empty()) return;
  if (!f.already_done) check(f);
  model::Step s;
  s.id = R::step_id;
  s.kind = R::step_id;
  s.phase = "before";
  s.object = fmt::format("restore point \"{}\" on {}", b.name, server_text(b.server));
  s.action = f.already_done ? model::Action::no_op : model::Action::create;
  if (b.recorded()) {
    s.reason = fmt::format(
        "before the first change: pg_create_restore_point('{}') on the source of policy \"{}\", pg_switch_wal(), then "
        "a wait (up to {}s) until its segment is in the WAL archive of cluster \"{}\" in repository \"{}\", where the "
        "name, LSN and time are recorded{}; a PointInTimeRecovery with target {{name: {}}} undoes what this plan does",
        b.name, b.resolved_policy, f.timeout_seconds, b.cluster, b.repository, copies_text(b), b.name);
  } else {
    s.reason = fmt::format(
        "before the first change: pg_create_restore_point('{}') and pg_switch_wal() on the target server; not recorded "
        "in a pgrecover repository (the server is the source of no physical BackupPolicy among the documents): "
        "recovery to it relies on the server's own WAL archiving", b.name);
    plan.warnings.push_back(fmt::format(
        "restore point \"{}\" is made on the target server but recorded nowhere: name a physical policy in "
        "spec.before.policy for one that pgrecover archives, records and can recover to{}",
        b.name, f.archive_mode == "off" ? " (archive_mode is off there: no WAL archive will hold it)" : ""));
  }
  // First in the DAG: whatever started the plan now waits for it.
  for (auto& other : plan.steps)
    if (other.depends_on.empty()) other.depends_on.push_back(s.id);
  plan.steps.insert(plan.steps.begin(), std::move(s));
  plan.params[R::name] = b.name;
  plan.params[R::connection] = b.server.connection;
  plan.params[R::conninfo] = b.server.connection.empty() ? pg::split_password(b.server.conninfo).conninfo : "";
  plan.params[R::repository] = b.repository;
  plan.params[R::policy] = b.resolved_policy;
  plan.params[R::cluster] = b.cluster;
  plan.params[R::copies] = b.copies.empty() ? std::string() : nlohmann::json(b.copies).dump();
  plan.params[R::timeout] = std::to_string(f.timeout_seconds);
}

}  // namespace pgr::planner
