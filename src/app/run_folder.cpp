#include "app/run_folder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "executor/executor.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pgr::app {

namespace {

// The folder of this plan's run. A *finished* run of an earlier plan with the same id (the same
// document, archive and target, planned again after the world changed back: a dropped database,
// deleted backups) is kept under another name and a new run starts; re-applying the very same
// plan (same created_at) finds its finished run and does nothing.
std::filesystem::path prepare(const spec::Settings& settings, const model::Plan& plan) {
  std::filesystem::path dir = run_dir(settings, plan.id);
  if (std::filesystem::exists(dir / "plan.json") && std::filesystem::exists(dir / "journal")) {
    model::Plan saved = model::load_plan((dir / "plan.json").string());
    if (saved.created_at != plan.created_at) {
      bool finished;
      {
        FileLock probe(dir / "lock", "run " + plan.id);
        finished = executor::Journal::open(dir, plan.id).finished();
      }
      if (finished) {
        std::string stamp = saved.created_at;
        std::replace(stamp.begin(), stamp.end(), ':', '-');
        std::filesystem::path old = dir.string() + "-" + stamp;
        std::filesystem::rename(dir, old);
        fsync_dir(dir.parent_path());
        log::info("run {} finished earlier; it is kept as {} and a new run starts", plan.id, old.filename().string());
      }
    }
  }
  create_private_dirs(dir);
  return dir;
}

}  // namespace

FileLock::FileLock(const std::filesystem::path& file, const std::string& what) {
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail(ErrorKind::io, fmt::format("could not open \"{}\": {}", file.string(), errno_text(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    std::string holder;
    try {
      holder = read_file(file);
    } catch (const Error&) {
    }
    ::close(fd_);
    fd_ = -1;
    fail(ErrorKind::locked,
         fmt::format("{} is being applied by another pgrecover{}", what, holder.empty() ? "" : " (" + holder + ")"),
         "wait for it to finish");
  }
  std::string me = fmt::format("pid {} since {}", ::getpid(), executor::now_iso8601());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) < 0) {
    log::debug("could not record the lock holder in {}", file.string());
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

RunFolder::RunFolder(const spec::Settings& settings, const model::Plan& plan)
    : plan_(plan),
      dir_(prepare(settings, plan)),
      lock_(dir_ / "lock", "run " + plan.id),
      journal_(executor::Journal::open(dir_, plan.id)) {}

ApplyResult RunFolder::finished_result() const {
  ApplyResult r;
  r.run_dir = dir_.string();
  r.already_finished = true;
  r.summary.run_status = "ok";
  r.summary.total = static_cast<int>(plan_.steps.size());
  r.summary.done_before = r.summary.total;
  return r;
}

void RunFolder::start() const {
  if (!resumed()) {
    model::save_plan(plan_, (dir_ / "plan.json").string());
  } else {
    log::info("resuming run {}: {} of {} steps done", plan_.id, journal_.done_steps().size(), plan_.steps.size());
  }
}

ApplyResult RunFolder::run(executor::StepRunner& runner, const ApplyOptions& options, int jobs,
                           const nlohmann::json& extra) {
  ApplyResult result;
  result.run_dir = dir_.string();
  result.resumed = resumed();
  executor::Options eo;
  eo.jobs = jobs;
  eo.cancel = options.cancel;
  eo.on_event = options.on_event;
  result.summary = executor::execute(plan_, runner, journal_, eo);
  const auto& sm = result.summary;
  nlohmann::json report = {{"format_version", 1},
                           {"plan", plan_.id},
                           {"kind", plan_.kind},
                           {"document", plan_.document},
                           {"annotations", plan_.annotations},
                           {"run", sm.run},
                           {"status", sm.run_status},
                           {"finished_at", executor::now_iso8601()},
                           {"seconds", sm.seconds},
                           {"steps_total", sm.total},
                           {"steps_done_before", sm.done_before},
                           {"steps_done", sm.done_now},
                           {"rows", sm.rows},
                           {"bytes", sm.bytes}};
  for (const auto& [k, v] : extra.items()) report[k] = v;
  write_file_atomic(dir_ / fmt::format("report-{}.json", sm.run), report.dump(2) + "\n", 0600);
  return result;
}

}  // namespace pgr::app
