// The tablespaces of a pitr plan: the tablespace-directory steps (each folder taken empty or
// created, 0700, the server user's) and their part of the extract step (each <oid>.tar into its
// folder, pg_tblspc/<oid> linked to it).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "executor/os_user_files.hpp"
#include "executor/pitr_worker.hpp"
#include "repository/physical.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pgr::executor::pitr_detail {

namespace {

bool is_empty_dir(const fs::path& p) { return fs::is_directory(p) && fs::directory_iterator(p) == fs::directory_iterator(); }

}  // namespace

std::vector<PlannedTablespace> PitrRunner::tablespaces() const {
  std::vector<PlannedTablespace> out;
  if (param(P::tablespaces).empty()) return out;
  for (const auto& j : nlohmann::json::parse(param(P::tablespaces))) {
    PlannedTablespace t{j.at("oid").get<std::string>(), j.value("name", ""), j.at("file").get<std::string>(),
                        j.at("location").get<std::string>(), j.value("moved_aside_to", ""), j.value("old_oid", "")};
    // The oid names a link in pg_tblspc and the file a repository key: neither may be a path.
    if (t.oid.empty() || t.oid.find_first_not_of("0123456789") != std::string::npos || t.file.empty() ||
        t.file.find('/') != std::string::npos || t.file == ".." || !t.location.is_absolute() ||
        (!t.moved_aside_to.empty() && (!t.moved_aside_to.is_absolute() || t.old_oid.empty() ||
                                       t.old_oid.find_first_not_of("0123456789") != std::string::npos))) {
      fail(ErrorKind::input, fmt::format("plan {}: a tablespace entry is not valid (oid \"{}\")", plan_.id, t.oid));
    }
    out.push_back(std::move(t));
  }
  return out;
}

// In place: the old cluster's tablespace folder is renamed (never deleted) and the moved-aside
// data directory's link is pointed at its new name, so the old cluster stays whole beside the new
// one. Again after a crash: a folder already renamed is not renamed twice.
std::string PitrWorker::move_old_tablespace_aside(const PlannedTablespace& t) {
  const fs::path& dir = t.location;
  const fs::path& aside = t.moved_aside_to;
  std::string note;
  if (fs::exists(dir) && !is_empty_dir(dir)) {
    if (fs::exists(aside)) {
      fail(ErrorKind::input, fmt::format("cannot move \"{}\" aside: \"{}\" exists", dir.string(), aside.string()),
           "plan again (the new plan names another folder)");
    }
    fs::rename(dir, aside);
    fsync_dir(dir.parent_path());
    note = fmt::format("the old tablespace folder was moved to {}", aside.string());
  } else if (fs::exists(aside)) {
    note = fmt::format("the old tablespace folder is in {} (moved by an interrupted run)", aside.string());
  } else {
    note = "the old tablespace folder was gone already";
  }
  fs::path link = fs::path(r_.param(P::moved_aside_to)) / "pg_tblspc" / t.old_oid;
  std::error_code ec;
  if (fs::is_symlink(link, ec) && fs::read_symlink(link, ec) == dir) {
    fs::remove(link);
    fs::create_directory_symlink(aside, link);
    fsync_dir(link.parent_path());
    note += fmt::format("; {} points to it", link.string());
  }
  return note;
}

StepOutcome PitrWorker::tablespace_directory(const model::Step& step) {
  for (const auto& t : r_.tablespaces()) {
    if (step.id != "tablespace-" + t.oid) continue;
    const fs::path& dir = t.location;
    std::string note = "created";
    if (!t.moved_aside_to.empty()) note = move_old_tablespace_aside(t);
    if (fs::exists(dir)) {
      if (!fs::is_directory(dir)) fail(ErrorKind::input, fmt::format("\"{}\" exists and is not a folder", dir.string()));
      if (!is_empty_dir(dir)) {
        fail(ErrorKind::input,
             fmt::format("the folder \"{}\" for tablespace \"{}\" (oid {}) is not empty any more", dir.string(), t.name, t.oid),
             "it was empty or absent when the plan was made; plan again, mapping the tablespace elsewhere "
             "(to.tablespace_mapping)");
      }
      if (t.moved_aside_to.empty()) note = "empty folder taken";
    }
    check_reachable(dir.parent_path(), r_.user_);
    create_owned_dirs(dir, r_.user_);
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
    give_to(dir, r_.user_);
    return {0, 0, note};
  }
  fail(ErrorKind::internal, fmt::format("plan {}: step {} names no tablespace of the plan", r_.plan_.id, step.id));
}

ExtractStats PitrWorker::extract_tablespaces(const repository::BackupInfo& b, const repository::ExtractOptions& options) {
  ExtractStats stats;
  const auto& store = r_.repo().storage();
  for (const auto& t : r_.tablespaces()) {
    if (!is_empty_dir(t.location)) {
      // The tablespace-directory step took it empty: only an interrupted extract left files.
      log::info("emptying \"{}\" left by an interrupted extract", t.location.string());
      for (const auto& e : fs::directory_iterator(t.location)) fs::remove_all(e.path());
    }
    auto o = options;
    o.manifest_prefix = "pg_tblspc/" + t.oid + "/";
    auto s = repository::extract_tar(store, repository::Repository::file_key(b, t.file), t.location, o);
    stats.files += s.files;
    stats.bytes += s.bytes;
    fs::path link = r_.data_dir_ / "pg_tblspc" / t.oid;
    create_private_dirs(link.parent_path());
    std::error_code ec;
    fs::remove(link, ec);
    fs::create_directory_symlink(t.location, link);
  }
  return stats;
}

void PitrWorker::finish_tablespaces() {
  auto list = r_.tablespaces();
  if (list.empty()) return;
  // PostgreSQL recreates the links from tablespace_map at startup, to the original locations:
  // the links made above already say where each tablespace is.
  std::error_code ec;
  fs::remove(r_.data_dir_ / "tablespace_map", ec);
  for (const auto& t : list) {
    give_tree_to(t.location, r_.user_);
    fsync_dir(t.location);
  }
  fsync_dir(r_.data_dir_ / "pg_tblspc");
}

}  // namespace pgr::executor::pitr_detail
