#include "report/progress.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "report/format.hpp"

#include "report/plan_text.hpp"
#include "util/log.hpp"
#include "util/redact.hpp"

namespace pgr::report {

namespace {
const char* type_name(executor::Event::Type t) {
  switch (t) {
    case executor::Event::Type::run_start: return "run-start";
    case executor::Event::Type::step_start: return "step-start";
    case executor::Event::Type::step_done: return "step-done";
    case executor::Event::Type::step_failed: return "step-failed";
    case executor::Event::Type::progress: return "progress";
    case executor::Event::Type::run_end: return "run-end";
  }
  return "?";
}
}  // namespace

ProgressPrinter::ProgressPrinter(ProgressStyle style, std::FILE* out, std::chrono::seconds log_every)
    : style_(style), out_(out), log_every_(log_every) {}

std::string ProgressPrinter::status_line(const executor::Event& e) const {
  double pct = e.bytes_planned > 0 ? 100.0 * static_cast<double>(e.bytes_done) / static_cast<double>(e.bytes_planned)
               : e.steps_total > 0 ? 100.0 * e.steps_done / e.steps_total
                                   : 100.0;
  double rate = e.elapsed_s > 0 ? static_cast<double>(e.bytes_done) / e.elapsed_s : 0;
  std::string eta = "?";
  if (rate > 0 && e.bytes_planned > e.bytes_done) {
    eta = human_duration(static_cast<double>(e.bytes_planned - e.bytes_done) / rate);
  } else if (e.bytes_done >= e.bytes_planned) {
    eta = "-";
  }
  auto rows_rate = static_cast<std::int64_t>(e.elapsed_s > 0 ? static_cast<double>(e.rows_total) / e.elapsed_s : 0);
  return fmt::format("{:3.0f}% steps {}/{}  data {}/{}  rows {}  {}/s {} rows/s  elapsed {}  ETA {}", pct, e.steps_done,
                     e.steps_total, human_bytes(e.bytes_done), human_bytes(e.bytes_planned), e.rows_total,
                     human_bytes(static_cast<std::int64_t>(rate)), rows_rate, human_duration(e.elapsed_s), eta);
}

void ProgressPrinter::operator()(const executor::Event& e) {
  using T = executor::Event::Type;
  if (style_ == ProgressStyle::json) {
    nlohmann::json j = {{"format_version", 1},      {"event", type_name(e.type)}, {"steps_done", e.steps_done},
                        {"steps_total", e.steps_total}, {"rows_total", e.rows_total}, {"bytes_done", e.bytes_done},
                        {"bytes_planned", e.bytes_planned}, {"elapsed_s", e.elapsed_s}};
    if (!e.step.empty()) {
      j["step"] = e.step;
      j["kind"] = e.kind;
      j["object"] = e.object;
    }
    if (e.type == T::step_done || e.type == T::run_end || e.type == T::progress) {
      j["rows"] = e.rows;
      j["bytes"] = e.bytes;
      j["ms"] = e.ms;
    }
    if (!e.message.empty()) j["message"] = redact_secrets(e.message);
    std::fputs((j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n").c_str(), out_);
    std::fflush(out_);
    return;
  }
  if (e.type == T::run_start && !e.message.empty()) log::info("{}", e.message);
  if (e.type == T::step_failed) {
    finish();
    log::error("step {} failed: {}", e.step, e.message);
    return;
  }
  if (style_ == ProgressStyle::terminal) {
    if (e.type == T::run_end) {
      finish();
      return;
    }
    if (e.type == T::step_done || e.type == T::progress) {
      std::string line = status_line(e);
      std::fprintf(out_, "\r\033[K%s", line.c_str());
      std::fflush(out_);
      live_ = true;
    }
    return;
  }
  // log style: a line every few seconds, and when the run ends
  auto now = std::chrono::steady_clock::now();
  if (e.type == T::run_end || now - last_log_ >= log_every_) {
    if (e.type == T::step_done || e.type == T::progress || e.type == T::run_end) {
      last_log_ = now;
      log::info("progress: {}", status_line(e));
    }
  }
}

void ProgressPrinter::finish() {
  if (live_) {
    std::fputs("\n", out_);
    std::fflush(out_);
    live_ = false;
  }
}

}  // namespace pgr::report
