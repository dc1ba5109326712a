#include "executor/restore_point_step.hpp"

#include <csignal>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/restore_point.hpp"
#include "model/restore_point_params.hpp"
#include "pg/pg.hpp"
#include "repository/restore_points.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pgr::executor {

namespace {

namespace R = model::restore_point_param;

std::optional<repository::RestorePoint> read_state(const std::filesystem::path& file, const std::string& name) {
  if (!std::filesystem::exists(file)) return std::nullopt;
  auto j = nlohmann::json::parse(read_file(file));
  repository::RestorePoint p;
  p.name = j.at("name").get<std::string>();
  p.cluster = j.value("cluster", "");
  p.policy = j.value("policy", "");
  p.lsn = j.at("lsn").get<std::string>();
  p.timeline = j.at("timeline").get<std::uint32_t>();
  p.segment = j.at("segment").get<std::string>();
  p.created_at = j.at("created_at").get<std::string>();
  if (p.name != name) return std::nullopt;  // another plan's: never for the same run folder
  return p;
}

void write_state(const std::filesystem::path& file, const repository::RestorePoint& p) {
  nlohmann::json j = {{"name", p.name},         {"cluster", p.cluster},   {"policy", p.policy},
                      {"lsn", p.lsn},           {"timeline", p.timeline}, {"segment", p.segment},
                      {"created_at", p.created_at}};
  write_file_atomic(file, j.dump(2) + "\n", 0600);
}

class Step {
 public:
  Step(const model::Plan& plan, const RestorePointStepConfig& cfg) : plan_(plan), cfg_(cfg) {}

  StepOutcome run() {
    engine::RestorePointRequest req;
    req.repository = cfg_.repository.get();
    req.name = param(R::name);
    req.policy = param(R::policy);
    req.cluster = param(R::cluster);
    req.timeout = std::chrono::seconds(std::stoi(param(R::timeout).empty() ? "300" : param(R::timeout)));
    req.cancel = cfg_.cancel;
    auto state = read_state(cfg_.state_file, req.name);
    if (req.repository) {
      if (auto rec = repository::find_restore_point(req.repository->storage(), req.cluster, req.name)) {
        if (state && rec->lsn == state->lsn) return {0, 0, fmt::format("restore point \"{}\" at {} was recorded by an interrupted run", rec->name, rec->lsn)};
        fail(ErrorKind::input,
             fmt::format("restore point \"{}\" is already recorded for cluster \"{}\" (at {}, {}), not by this plan",
                         req.name, req.cluster, rec->lsn, rec->created_at),
             "plan again with another name in spec.before.restore_point; nothing was changed");
      }
    }
    auto conn = pg::Connection::open(pg::with_dbname(cfg_.conninfo, "postgres"), "pgrecover restore point");
    repository::RestorePoint point;
    std::string how;
    if (state) {
      point = *state;
      how = "created by an interrupted run, not again";
      log::info("restore point \"{}\" was created at {} by an interrupted run: not creating it again", point.name, point.lsn);
    } else {
      point = engine::mark_restore_point(conn, req);
      write_state(cfg_.state_file, point);
      if (const char* k = std::getenv("PGRECOVER_TEST_KILL_AFTER_RESTORE_POINT"); k && std::string(k) == "1") {
        ::raise(SIGKILL);  // test hook, see the header
      }
      how = "created";
    }
    if (!req.repository) {
      return {0, 0, fmt::format("restore point \"{}\" {} at {} (timeline {}, {}), not recorded", point.name, how,
                                point.lsn, point.timeline, point.created_at)};
    }
    engine::await_archived(conn, req, point);
    repository::record_restore_point(req.repository->storage(), point);
    return {0, 0, fmt::format("restore point \"{}\" {} at {} (timeline {}, {}), archived in segment {} of cluster \"{}\" "
                              "and recorded in repository \"{}\"{}",
                              point.name, how, point.lsn, point.timeline, point.created_at, point.segment, point.cluster,
                              param(R::repository), record_in_copies(point))};
  }

 private:
  // Idempotent: a copy that already holds the name (from an interrupted run) is left as it is.
  std::string record_in_copies(const repository::RestorePoint& point) const {
    std::string done, missed;
    for (const auto& [name, repo] : cfg_.copies) {
      try {
        if (!repo) fail(ErrorKind::io, cfg_.copy_errors.count(name) ? cfg_.copy_errors.at(name) : "not opened");
        if (!repository::find_restore_point(repo->storage(), point.cluster, point.name)) {
          repository::record_restore_point(repo->storage(), point);
        }
        done += fmt::format("{}\"{}\"", done.empty() ? "" : ", ", name);
      } catch (const Error& e) {
        log::warn("restore point \"{}\" is recorded in repository \"{}\" but not in its copy \"{}\": {}; a recovery "
                  "from that copy cannot use the name (record it later with pgrecover restore-point)",
                  point.name, param(R::repository), name, e.what());
        missed += fmt::format("{}\"{}\"", missed.empty() ? "" : ", ", name);
      }
    }
    std::string out;
    if (!done.empty()) out += fmt::format(" and in its copies {}", done);
    if (!missed.empty()) out += fmt::format("; NOT recorded in {} (unreachable)", missed);
    return out;
  }

  const std::string& param(const char* key) const {
    static const std::string empty;
    auto it = plan_.params.find(key);
    return it == plan_.params.end() ? empty : it->second;
  }
  const model::Plan& plan_;
  const RestorePointStepConfig& cfg_;
};

class WrappingWorker : public Worker {
 public:
  WrappingWorker(std::unique_ptr<Worker> inner, const model::Plan& plan, const RestorePointStepConfig& cfg)
      : inner_(std::move(inner)), plan_(plan), cfg_(cfg) {}
  StepOutcome run(const model::Step& step, StepContext& ctx) override {
    if (step.kind == R::step_id) return Step(plan_, cfg_).run();
    return inner_->run(step, ctx);
  }
  void cancel() override { inner_->cancel(); }

 private:
  std::unique_ptr<Worker> inner_;
  const model::Plan& plan_;
  const RestorePointStepConfig& cfg_;
};

class WrappingRunner : public StepRunner {
 public:
  WrappingRunner(StepRunner& inner, const model::Plan& plan, RestorePointStepConfig cfg)
      : inner_(inner), plan_(plan), cfg_(std::move(cfg)) {}
  std::unique_ptr<Worker> make_worker(int index) override {
    return std::make_unique<WrappingWorker>(inner_.make_worker(index), plan_, cfg_);
  }

 private:
  StepRunner& inner_;
  const model::Plan& plan_;
  RestorePointStepConfig cfg_;
};

}  // namespace

std::unique_ptr<StepRunner> with_restore_point_step(StepRunner& inner, const model::Plan& plan,
                                                    RestorePointStepConfig config) {
  return std::make_unique<WrappingRunner>(inner, plan, std::move(config));
}

}  // namespace pgr::executor
