#include "util/log.hpp"

#include <atomic>
#include <cstdio>

#include "util/error.hpp"
#include "util/redact.hpp"

namespace pgr::log {
namespace {

class StderrSink : public Sink {
 public:
  void write(Level level, std::string_view message) override {
    std::fprintf(stderr, "%s: %.*s\n", to_string(level), static_cast<int>(message.size()),
                 message.data());
  }
};

std::mutex g_mu;
std::shared_ptr<Sink> g_sink;
std::atomic<int> g_level{static_cast<int>(Level::info)};

}  // namespace

Level parse_level(std::string_view name) {
  if (name == "trace") return Level::trace;
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn" || name == "warning") return Level::warn;
  if (name == "error") return Level::error;
  if (name == "off") return Level::off;
  fail(ErrorKind::usage, fmt::format("unknown log level \"{}\"", name),
       "use one of: trace, debug, info, warn, error, off");
}

const char* to_string(Level level) noexcept {
  switch (level) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warning";
    case Level::error: return "error";
    case Level::off: return "off";
  }
  return "?";
}

void set_sink(std::shared_ptr<Sink> sink) {
  std::lock_guard lock(g_mu);
  g_sink = std::move(sink);
}

void set_level(Level level) { g_level.store(static_cast<int>(level)); }
Level level() { return static_cast<Level>(g_level.load()); }
bool enabled(Level l) { return static_cast<int>(l) >= g_level.load() && l != Level::off; }

void write(Level l, std::string_view message) {
  std::string clean = redact_secrets(message);
  std::shared_ptr<Sink> sink;
  {
    std::lock_guard lock(g_mu);
    if (!g_sink) g_sink = std::make_shared<StderrSink>();
    sink = g_sink;
  }
  sink->write(l, clean);
}

void MemorySink::write(Level l, std::string_view message) {
  std::lock_guard lock(mu_);
  text_ += to_string(l);
  text_ += ": ";
  text_ += message;
  text_ += '\n';
}

std::string MemorySink::text() const {
  std::lock_guard lock(mu_);
  return text_;
}

}  // namespace pgr::log
