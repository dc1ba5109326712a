// single_transaction restores: what a run that did not commit left in its journal.
#pragma once

#include "executor/journal.hpp"
#include "model/plan.hpp"
#include "pg/pg.hpp"

namespace pgr::executor {

// The steps of a single_transaction run that did not commit were rolled back with its
// transaction, whatever the journal says: their records are voided so the next run does them
// again. A no-op for plans without single_transaction.
void void_rolled_back_steps(const model::Plan& plan, Journal& journal, pg::Connection& admin);

}  // namespace pgr::executor
