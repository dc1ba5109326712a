// Logging behind a small interface: the library calls pgr::log::info(...) and never sees spdlog;
// the CLI installs a sink (human text or JSON lines). Every message passes through
// redact_secrets() before any sink sees it.
#pragma once

#include <fmt/format.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace pgr::log {

enum class Level { trace = 0, debug = 1, info = 2, warn = 3, error = 4, off = 5 };

Level parse_level(std::string_view name);  // throws pgr::Error(usage) on an unknown name
const char* to_string(Level level) noexcept;

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(Level level, std::string_view message) = 0;
};

// Installs the process-wide sink (nullptr: a default stderr sink). Thread-safe.
void set_sink(std::shared_ptr<Sink> sink);
void set_level(Level level);
// The command line's sink: human lines on stderr (with the time when stderr is not a terminal)
// or JSON lines (--json), through spdlog. Sets the level too.
void install_stderr_sink(bool json, Level level, bool terminal);
Level level();
bool enabled(Level level);

void write(Level level, std::string_view message);  // redacts, then hands to the sink

template <typename... Args>
void trace(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::trace)) write(Level::trace, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::debug)) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::info)) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::warn)) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::error)) write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

// A sink that keeps lines in memory (tests, and capturing warnings into reports).
class MemorySink : public Sink {
 public:
  void write(Level level, std::string_view message) override;
  std::string text() const;

 private:
  mutable std::mutex mu_;
  std::string text_;
};

}  // namespace pgr::log
