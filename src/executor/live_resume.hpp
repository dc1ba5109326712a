// Resuming a live clone (spec.from.live). The snapshot of the interrupted apply died with its
// coordinating session, so the rows still to load come from a new snapshot, and the journal is
// set so that the run does what the document's `consistent` says:
//   - strict (default): every data step starts over from the new snapshot. Foreign keys that
//     earlier runs added are dropped (and added again after the data), every loaded table is
//     emptied in one TRUNCATE, and the records of the data steps (table data, large objects,
//     sequence values, materialized view refreshes) and of what checks the data (foreign key
//     validation, ANALYZE, sequence checks, verification) are voided: the target ends equal to
//     the source at the new snapshot.
//   - allow-mixed: tables whose load finished are kept; the others are loaded again, whole,
//     from the new snapshot (a split table's chunks of the old snapshot are truncated away, never
//     kept). The target then mixes two moments of the source, which the apply says.
#pragma once

#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "executor/journal.hpp"
#include "model/plan.hpp"
#include "pg/pg.hpp"

namespace pgr::executor {

struct LiveResume {
  std::vector<std::string> reloaded;  // objects of table-data steps that load from the new snapshot
  std::vector<std::string> kept;      // objects of table-data steps finished by earlier runs, kept
  int voided = 0;                     // step records voided (strict)
  int foreign_keys_dropped = 0;       // strict
};

// `toc` is the live source's (archive/live.hpp); `target` is used only under strict.
LiveResume prepare_live_resume(const model::Plan& plan, Journal& journal, const archive::Toc& toc,
                               pg::Connection& target, bool allow_mixed);

// The resume of an apply: connects to the target (when its database exists: killed before it
// was created, nothing was loaded and nothing is emptied), prepares the journal as above and
// logs what it did and that the rows come from `snapshot`. Nothing to do for an apply that
// starts fresh (`resumed` false, or no step recorded yet).
void resume_live_clone(const model::Plan& plan, Journal& journal, const archive::Toc& toc, const std::string& admin_conninfo,
                       const std::string& target_conninfo, bool allow_mixed, const std::string& snapshot);

// What a resumed clone does, for the plan's warnings and the log.
std::string live_resume_note(bool allow_mixed);

// The table and constraint an "ALTER TABLE ONLY t ADD CONSTRAINT c ..." entry (FK CONSTRAINT)
// names, as written (t) and unquoted (c); empty when the definition is not of that shape.
std::pair<std::string, std::string> constraint_of(const std::string& defn);

}  // namespace pgr::executor
