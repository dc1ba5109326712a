#include "app/restore_point_before.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sources/repositories.hpp"
#include "executor/restore_point_step.hpp"
#include "facts/restore_point_facts.hpp"
#include "model/restore_point_params.hpp"
#include "planner/restore_point_step.hpp"
#include "util/error.hpp"

namespace pgr::app {

namespace R = model::restore_point_param;

void add_restore_point_before(model::Plan& plan, const config::RestorePointBefore& before, const std::string& document,
                              const config::Settings& settings, bool already_done) {
  auto is_step = [](const model::Step& s) { return s.id == R::step_id; };
  auto changes = [](const model::Step& s) { return s.action != model::Action::no_op; };
  if (before.name.empty() || std::any_of(plan.steps.begin(), plan.steps.end(), is_step)) return;
  if (!already_done && std::none_of(plan.steps.begin(), plan.steps.end(), changes)) return;
  planner::add_restore_point_step(plan, facts::read_restore_point_facts(before, document, settings, already_done));
}

std::unique_ptr<executor::StepRunner> with_restore_point_before(executor::StepRunner& inner, const model::Plan& plan,
                                                               const config::Settings& settings,
                                                               const std::filesystem::path& run_dir,
                                                               const std::atomic<bool>* cancel) {
  executor::RestorePointStepConfig cfg{"", nullptr, run_dir / "restore-point.json", cancel, {}, {}};
  auto param = [&](const char* k) { return plan.params.count(k) ? plan.params.at(k) : std::string(); };
  if (!param(R::name).empty()) {
    // Plans hold no password: libpq finds it (settings' password_env, PGPASSWORD, a passfile).
    cfg.conninfo = settings.connect_string(config::ConnectionRef{param(R::connection), param(R::conninfo)});
    if (!param(R::repository).empty()) {
      cfg.repository = std::make_shared<const repository::Repository>(
          sources::open_repository(settings, param(R::repository), fmt::format("plan {}", plan.id)));
    }
    if (!param(R::copies).empty()) {
      for (const auto& name : nlohmann::json::parse(param(R::copies)).get<std::vector<std::string>>()) {
        try {
          cfg.copies[name] = std::make_shared<const repository::Repository>(
              sources::open_repository(settings, name, fmt::format("plan {}", plan.id), /*create=*/true));
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::io) throw;
          cfg.copies[name] = nullptr;
          cfg.copy_errors[name] = e.what();
        }
      }
    }
  }
  return executor::with_restore_point_step(inner, plan, std::move(cfg));
}

}  // namespace pgr::app
