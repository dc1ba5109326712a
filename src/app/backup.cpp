#include "app/backup.hpp"

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::app {

model::Plan plan_backup_policy(const spec::BackupPolicy& policy, const spec::Settings&) {
  fail(ErrorKind::not_implemented,
       fmt::format("BackupPolicy \"{}\": planning backup policies is not implemented yet", policy.metadata.name));
}

ApplyResult apply_backup_plan(const model::Plan& plan, const spec::Settings&, const ApplyOptions&) {
  fail(ErrorKind::not_implemented, fmt::format("plan {}: applying backup plans is not implemented yet", plan.id));
}

RestoreSource resolve_restore_source(const spec::Restore& doc, const spec::Settings&) {
  if (!doc.spec.archive.empty()) return RestoreSource{doc.spec.archive, "", {}, {}};
  fail(ErrorKind::not_implemented,
       fmt::format("Restore \"{}\": restoring from a repository backup is not implemented yet", doc.metadata.name),
       "use from: {archive: PATH} with a pg_dump archive");
}

}  // namespace pgr::app
