#include "facts/restore_point_facts.hpp"

#include <fmt/format.h>

#include "pg/pg.hpp"
#include "repository/restore_points.hpp"
#include "sources/repositories.hpp"

namespace pgr::facts {

planner::RestorePointFacts read_restore_point_facts(const config::RestorePointBefore& before, const std::string& document,
                                                    const config::Settings& settings, bool already_done) {
  planner::RestorePointFacts f{&before, document, {}, "", "", 300, already_done};
  if (already_done) return f;
  if (before.recorded()) {
    auto repo = sources::open_repository(settings, before.repository, fmt::format("{}: spec.before", document));
    f.recorded = repository::list_restore_points(repo.storage(), before.cluster);
  }
  auto c = pg::Connection::open(pg::with_dbname(settings.connect_string(before.server), "postgres"), "pgrecover plan");
  auto r = c.exec("SELECT current_setting('wal_level'), current_setting('archive_mode')");
  f.wal_level = r.str(0, 0);
  f.archive_mode = r.str(0, 1);
  return f;
}

}  // namespace pgr::facts
