// Restores from a live database (spec.from.live), read through the archive interface (archive/live.hpp),
// so planning and applying are those of an archive restore (restore.cpp) with another source: the
// schema from pg_dump in a coordinating session's snapshot, the rows streamed by COPY in it
// (executor/live_copy.hpp), and a resume that reads from a new snapshot (executor/live_resume.hpp).
#include <fmt/format.h>

#include "app/restore.hpp"
#include "app/runs.hpp"
#include "archive/live.hpp"
#include "catalog/catalog.hpp"
#include "catalog/live_source.hpp"
#include "engine/live_schema.hpp"
#include "executor/live_copy.hpp"
#include "executor/live_resume.hpp"
#include "facts/restore_counters.hpp"
#include "pg/pg.hpp"
#include "pg/read_only.hpp"
#include "planner/restore_planner.hpp"
#include "sources/live_source.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::app {

model::Plan plan_live_restore_document(const config::Restore& doc, const config::Settings& settings) {
  const auto& live = doc.spec.live;
  sources::LiveSource src = sources::live_source(live.source, live.database, live.allow_mixed, settings);
  TargetAccess t = resolve_target(doc.spec.to, doc.spec.database, settings);
  auto source = pg::open_read_only(src.conninfo, "pgrecover plan");
  auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover plan");
  catalog::refuse_clone_onto_source(source, admin, src.database, doc.spec.database);
  auto tables = catalog::read_source_tables(source);
  TempDir tmp("pgrecover-live-");
  fs::path dump = tmp.path() / "schema.dump";
  engine::dump_live_schema({src.conninfo, src.database, settings.instance.bin_dir, "", sources::table_names(tables), nullptr}, dump);
  auto archive = archive::LiveArchive::open(dump, sources::live_tables(tables, sources::binary_copy_allowed(source, admin)), nullptr, catalog::has_large_objects(source));
  std::string fingerprint = planner::restore_fingerprint(doc);
  std::string id = planner::restore_plan_id(fingerprint, archive->toc().checksum, t.display);
  if (auto saved = unfinished_run(settings, id)) {
    saved->warnings.push_back(executor::live_resume_note(live.allow_mixed));
    return *saved;
  }
  planner::RestoreInputs in;
  in.document = &doc;
  in.toc = &archive->toc();
  in.source = src.display();
  in.roles_outside_toc = catalog::large_object_roles(source);
  add_globals(sources::live_globals(source, src.database), in);
  in.globals_origin = "the source server's roles";
  in.globals_live = true;
  in.source_page_ranges = source.server_version() >= 140000;
  in.live_source = true;
  in.documents_fingerprint = fingerprint;
  model::Plan plan = plan_against_target(in, t, [&](pg::Connection& c) { return facts::live_row_counter(source, c); });
  sources::record_live_source(src, plan);
  return plan;
}

executor::ApplyResult apply_live_restore_plan(const model::Plan& given, const config::Settings& settings,
                                              const executor::ApplyOptions& options) {
  RestoreApply run(given, settings);
  if (run.folder.finished()) return run.folder.finished_result();
  executor::RunFolder& folder = run.folder;
  const model::Plan& plan = folder.plan();
  const TargetAccess& t = run.target;
  sources::LiveSource src = sources::live_source_of(plan, settings);

  // The coordinating session: its snapshot is the moment the clone copies, held until the end.
  auto snapshot = executor::SourceSnapshot::open(src.conninfo, fmt::format("pgrecover apply {} snapshot", plan.id));
  const bool binary_copy = [&] {
    auto admin = pg::Connection::open(t.admin_conninfo, "pgrecover apply");
    catalog::refuse_clone_onto_source(snapshot.session(), admin, src.database, plan.target.database);
    return sources::binary_copy_allowed(snapshot.session(), admin);
  }();
  auto tables = catalog::read_source_tables(snapshot.session());
  log::info("{}: snapshot {} exported; {} tables are read in it", src.display(), snapshot.id(), tables.size());
  fs::path dump = folder.dir() / "source-schema.dump";
  engine::dump_live_schema(
      {src.conninfo, src.database, settings.instance.bin_dir, snapshot.id(), sources::table_names(tables), options.cancel}, dump);
  auto rows = std::make_shared<executor::SnapshotRows>(src.conninfo, snapshot.id(),
                                                       fmt::format("pgrecover apply {} worker", plan.id));
  // Large objects as the coordinating session's snapshot sees them: the ones the workers copy.
  auto archive = archive::LiveArchive::open(dump, sources::live_tables(tables, binary_copy), rows, catalog::has_large_objects(snapshot.session()));
  if (auto why = archive->stale_reason(plan.fingerprints.at("archive"), src.display()); !why.empty()) {
    fail(ErrorKind::stale_plan, "plan is stale: " + why, "plan again and review the new plan");
  }
  if (folder.resumed()) {
    executor::resume_live_clone(plan, folder.journal(), archive->toc(), t.admin_conninfo, t.target_conninfo, src.allow_mixed,
                                snapshot.id());
  }
  auto result = run_restore(folder, t, *archive, dump, settings, options);
  snapshot.session().exec("COMMIT");  // read-only: ends the snapshot, nothing written
  return result;
}

}  // namespace pgr::app
