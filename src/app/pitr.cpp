#include "app/pitr.hpp"

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::app {

model::Plan plan_recovery(const spec::PointInTimeRecovery& doc, const spec::Settings&) {
  fail(ErrorKind::not_implemented,
       fmt::format("PointInTimeRecovery \"{}\": point-in-time recovery is not implemented yet", doc.metadata.name));
}

ApplyResult apply_recovery_plan(const model::Plan& plan, const spec::Settings&, const ApplyOptions&) {
  fail(ErrorKind::not_implemented, fmt::format("plan {}: applying recovery plans is not implemented yet", plan.id));
}

}  // namespace pgr::app
