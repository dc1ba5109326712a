// Small value types of the documents: durations, compression specs, enums, problems.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "config/documents.hpp"

namespace pgr::config {

std::chrono::seconds parse_duration(std::string_view text) {
  const auto bad = [&](const std::string& why) -> std::chrono::seconds {
    fail(ErrorKind::input, fmt::format("\"{}\" is not a valid duration: {}", text, why),
         "write a number and a unit: 30s, 90m, 24h, 7d, 1w (sums such as 1h30m are allowed)");
  };
  if (text.empty()) return bad("it is empty");
  // A bound far above any sensible schedule (100 years) keeps the sum from overflowing.
  constexpr std::int64_t kMax = 100LL * 366 * 24 * 3600;
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    if (j == i) return bad(fmt::format("expected a number at \"{}\"", text.substr(i)));
    if (j == text.size()) return bad("the last number has no unit (s, m, h, d or w)");
    if (j - i > 9) return bad("the number is too large");
    std::int64_t n = 0;
    std::from_chars(text.data() + i, text.data() + j, n);
    std::int64_t unit = 0;
    switch (text[j]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = 7 * 86400; break;
      default: return bad(fmt::format("unknown unit \"{}\" (use s, m, h, d or w)", text[j]));
    }
    total += n * unit;
    if (total > kMax) return bad("it is longer than 100 years");
    i = j + 1;
  }
  if (total == 0) return bad("it must be greater than zero");
  return std::chrono::seconds(total);
}

std::int64_t parse_size(std::string_view text) {
  const auto bad = [&](const std::string& why) -> std::int64_t {
    fail(ErrorKind::input, fmt::format("\"{}\" is not a valid size: {}", text, why),
         "write a number and a unit: 256MB, 1GB, 512kB (kB, MB, GB, TB are powers of 1024), or 0");
  };
  std::size_t j = 0;
  while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
  if (j == 0) return bad("it must start with a number");
  if (j > 12) return bad("the number is too large");
  std::int64_t n = 0;
  std::from_chars(text.data(), text.data() + j, n);
  std::string_view unit = text.substr(j);
  std::int64_t mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "kB") mult = std::int64_t{1} << 10;
  else if (unit == "MB") mult = std::int64_t{1} << 20;
  else if (unit == "GB") mult = std::int64_t{1} << 30;
  else if (unit == "TB") mult = std::int64_t{1} << 40;
  else return bad(fmt::format("unknown unit \"{}\" (use B, kB, MB, GB or TB)", unit));
  if (n > std::numeric_limits<std::int64_t>::max() / mult) return bad("it is too large");
  return n * mult;
}

Compression parse_compression(std::string_view text) {
  const auto colon = text.find(':');
  const std::string method(text.substr(0, colon));
  struct Range { const char* name; int lo, hi; };
  static constexpr Range kMethods[] = {{"none", 0, -1}, {"gzip", 0, 9}, {"lz4", 1, 12}, {"zstd", 1, 22}};
  const auto* m = std::find_if(std::begin(kMethods), std::end(kMethods),
                               [&](const Range& r) { return method == r.name; });
  if (m == std::end(kMethods)) {
    fail(ErrorKind::input, fmt::format("unknown compression method \"{}\" in \"{}\"", method, text),
         "use none, gzip, lz4 or zstd, optionally with a level: gzip:6, zstd:3");
  }
  Compression c;
  c.method = method;
  if (colon == std::string_view::npos) return c;
  const std::string_view level = text.substr(colon + 1);
  if (m->hi < 0) fail(ErrorKind::input, fmt::format("compression \"{}\" takes no level", method));
  int v = 0;
  auto [ptr, ec] = std::from_chars(level.data(), level.data() + level.size(), v);
  if (level.empty() || ec != std::errc() || ptr != level.data() + level.size()) {
    fail(ErrorKind::input, fmt::format("compression level \"{}\" in \"{}\" is not a number", level, text));
  }
  if (v < m->lo || v > m->hi) {
    fail(ErrorKind::input,
         fmt::format("compression level {} is out of range for {} ({} to {})", v, method, m->lo, m->hi));
  }
  c.level = v;
  return c;
}

std::string Compression::str() const {
  return level < 0 ? method : fmt::format("{}:{}", method, level);
}

bool Selection::empty() const {
  return schemas.empty() && tables.empty() && exclude_schemas.empty() && exclude_tables.empty();
}

const char* to_string(ExistingPolicy v) noexcept {
  switch (v) {
    case ExistingPolicy::fail: return "fail";
    case ExistingPolicy::skip: return "skip";
    case ExistingPolicy::truncate: return "truncate";
    case ExistingPolicy::replace: return "replace";
  }
  return "?";
}

const char* to_string(RolesPolicy v) noexcept {
  switch (v) {
    case RolesPolicy::create_missing: return "create-missing";
    case RolesPolicy::require: return "require";
    case RolesPolicy::no_owner: return "no-owner";
    case RolesPolicy::all: return "all";
  }
  return "?";
}

const char* to_string(BackupMethod v) noexcept {
  return v == BackupMethod::logical ? "logical" : "physical";
}

const char* to_string(DumpFormat v) noexcept {
  switch (v) {
    case DumpFormat::directory: return "directory";
    case DumpFormat::custom: return "custom";
    case DumpFormat::tar: return "tar";
    case DumpFormat::plain: return "plain";
  }
  return "?";
}

const char* to_string(RecoveryAction v) noexcept {
  switch (v) {
    case RecoveryAction::pause: return "pause";
    case RecoveryAction::promote: return "promote";
    case RecoveryAction::shutdown: return "shutdown";
  }
  return "?";
}

std::string Problem::str() const {
  if (where.line <= 0) return fmt::format("{}: {}", where.file, message);  // about the whole file
  return fmt::format("{}:{}:{}: {}", where.file, where.line, where.column, message);
}

namespace {

std::string summarize(const std::vector<Problem>& problems) {
  std::string out = problems.size() == 1 ? "1 problem in the documents:"
                                         : fmt::format("{} problems in the documents:", problems.size());
  for (const auto& p : problems) {
    out += '\n';
    out += p.str();
  }
  return out;
}

}  // namespace

ValidationFailed::ValidationFailed(std::vector<Problem> problems)
    : Error(ErrorKind::input, summarize(problems), "run \"pgrecover validate PATH...\" after fixing them"),
      problems_(std::move(problems)) {}

const BackupPolicy* DocumentSet::find_policy(std::string_view name) const {
  for (const auto& p : policies) {
    if (p.metadata.name == name) return &p;
  }
  return nullptr;
}

const Restore* DocumentSet::find_restore(std::string_view name) const {
  for (const auto& r : restores) {
    if (r.metadata.name == name) return &r;
  }
  return nullptr;
}

const PointInTimeRecovery* DocumentSet::find_recovery(std::string_view name) const {
  for (const auto& r : recoveries) {
    if (r.metadata.name == name) return &r;
  }
  return nullptr;
}

}  // namespace pgr::config
