// The steps after a restore's loads that check or correct what the loads left: sequence-fix
// (a sequence behind its column), row-count (a big table's rows, as soon as they are in) and
// verify (the other tables' rows and the document's SQL checks, at the end). Each runs on the
// target session it is given and fails with an Error naming the table or check.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "executor/runner.hpp"
#include "model/plan.hpp"
#include "pg/pg.hpp"

namespace pgr::executor {

// The rows a load step copied (in this run or, journaled, an earlier one); -1 when none recorded.
using RowsLoaded = std::function<std::int64_t(const std::string& step_id)>;

StepOutcome fix_sequence(pg::Connection& c, const model::Step& step);
StepOutcome check_row_count(pg::Connection& c, const model::Step& step, const RowsLoaded& rows_loaded);
StepOutcome check_restore(pg::Connection& c, const model::Step& step, const RowsLoaded& rows_loaded);

}  // namespace pgr::executor
