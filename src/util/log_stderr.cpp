#include "util/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include <nlohmann/json.hpp>

namespace pgr::log {
namespace {

spdlog::level::level_enum to_spd(Level l) {
  switch (l) {
    case Level::trace: return spdlog::level::trace;
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::error: return spdlog::level::err;
    case Level::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// Messages arrive already redacted (log::write does it before any sink).
class SpdlogSink : public Sink {
 public:
  SpdlogSink(bool json, bool terminal) : json_(json) {
    logger_ = std::make_shared<spdlog::logger>("pgrecover",
                                               std::make_shared<spdlog::sinks::stderr_sink_mt>());
    if (json) {
      logger_->set_pattern("%v");
    } else if (terminal) {
      logger_->set_pattern("%^%l%$: %v");
    } else {
      logger_->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l: %v");
    }
    logger_->set_level(spdlog::level::trace);
    logger_->flush_on(spdlog::level::trace);
  }

  void write(Level level, std::string_view message) override {
    if (json_) {
      auto now = std::chrono::system_clock::now();
      nlohmann::json j = {
          {"format_version", 1},
          {"event", "log"},
          {"level", to_string(level)},
          {"time_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()},
          {"message", std::string(message)}};
      logger_->log(to_spd(level), "{}", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      logger_->log(to_spd(level), "{}", message);
    }
  }

 private:
  bool json_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace

void install_stderr_sink(bool json, Level level, bool terminal) {
  set_level(level);
  set_sink(std::make_shared<SpdlogSink>(json, terminal));
}

}  // namespace pgr::log
