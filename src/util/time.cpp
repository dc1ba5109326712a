#include "util/time.hpp"

#include <chrono>
#include <ctime>
#include <regex>

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr {

std::string now_iso8601() { return format_iso8601(std::chrono::system_clock::now()); }

double now_epoch() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double parse_iso8601(const std::string& text) {
  static const std::regex re(R"((\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?\s*(Z|[+-]\d{2}(:?\d{2})?))");
  std::smatch m;
  if (!std::regex_match(text, m, re)) {
    fail(ErrorKind::input, fmt::format("\"{}\" is not a time stamp with a time zone", text), "write e.g. 2024-05-01T13:00:00Z");
  }
  using namespace std::chrono;
  year_month_day ymd{year{std::stoi(m[1])}, month{static_cast<unsigned>(std::stoi(m[2]))},
                     day{static_cast<unsigned>(std::stoi(m[3]))}};
  if (!ymd.ok()) fail(ErrorKind::input, fmt::format("\"{}\" is not a valid date", text));
  double t = static_cast<double>(sys_days(ymd).time_since_epoch().count()) * 86400 + std::stoi(m[4]) * 3600 +
             std::stoi(m[5]) * 60 + std::stoi(m[6]);
  if (m[7].matched) t += std::stod("0" + m[7].str());
  std::string zone = m[8];
  if (zone != "Z") {
    int sign = zone[0] == '-' ? -1 : 1;
    std::string digits;
    for (char c : zone.substr(1))
      if (c != ':') digits += c;
    int offset = std::stoi(digits.substr(0, 2)) * 3600 + (digits.size() > 2 ? std::stoi(digits.substr(2)) * 60 : 0);
    t -= sign * offset;
  }
  return t;
}

std::string format_iso8601(std::chrono::system_clock::time_point now) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, ms);
}

}  // namespace pgr
