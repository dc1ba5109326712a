#include "executor/single_transaction.hpp"

#include "util/time.hpp"

namespace pgr::executor {

// single_transaction: the steps of a run that did not commit were rolled back with its
// transaction, whatever the journal says. Their records are voided (a "failed" record after
// "done"), so the next run does them again; a commit that was in flight when the process died is
// looked up by the transaction id the begin step recorded.
void void_rolled_back_steps(const model::Plan& plan, Journal& journal, pg::Connection& admin) {
  if (!plan.params.count("single_transaction")) return;
  auto done = journal.done_steps();
  if (done.count("transaction:commit")) return;
  auto in_flight = journal.in_flight_steps();
  if (in_flight.count("transaction:commit")) {
    std::string xid;
    for (const auto& r : journal.records())
      if (r.type == "done" && r.step == "transaction:begin" && r.note.rfind("transaction ", 0) == 0) xid = r.note.substr(12);
    if (!xid.empty()) {
      auto status = admin.exec("SELECT pg_catalog.txid_status($1::bigint)", {xid});
      if (status.rows() && !status.is_null(0, 0) && status.str(0, 0) == "committed") {
        journal.append({"done", "transaction:commit", now_iso8601(), journal.last_run(), 0, 0, 0,
                        "committed (transaction " + xid + ", found after an interrupted run)"},
                       true);
        return;
      }
    }
  }
  bool any = false;
  for (const auto& s : plan.steps) {
    // CREATE DATABASE, CREATE TABLESPACE and ALTER DATABASE ... SET run outside the transaction.
    if (s.kind == "database" || s.kind == "tablespace" || s.kind == "database-settings") continue;
    if (s.action == model::Action::no_op) continue;  // did nothing, so nothing was rolled back
    if (!done.count(s.id) && !in_flight.count(s.id)) continue;
    journal.append({"failed", s.id, now_iso8601(), journal.last_run(), 0, 0, 0,
                    "rolled back with the single transaction"},
                   false);
    any = true;
  }
  if (any) journal.sync();
}

}  // namespace pgr::executor
