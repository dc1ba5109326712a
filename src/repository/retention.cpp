// Retention selection: pure, so every rule is tested on made-up backup lists.
#include <algorithm>
#include <numeric>
#include <set>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "repository/repository.hpp"

namespace pgr::repository {

namespace {

using Days = std::chrono::sys_days;

Days day_of(TimePoint t) { return std::chrono::floor<std::chrono::days>(t); }

// Monday of the ISO week holding t.
Days week_of(TimePoint t) {
  std::chrono::weekday wd{day_of(t)};
  return day_of(t) - std::chrono::days{(wd.c_encoding() + 6) % 7};
}

std::string month_of(TimePoint t) {
  std::chrono::year_month_day ymd{day_of(t)};
  return fmt::format("{:04d}-{:02d}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()));
}

std::string day_label(Days d) { return fmt::format("{:%Y-%m-%d}", TimePoint{d}); }

}  // namespace

std::vector<RetentionDecision> select_retention(const std::vector<RetentionCandidate>& candidates,
                                                const RetentionRules& rules) {
  std::vector<RetentionDecision> out(candidates.size());
  std::vector<std::vector<std::string>> why(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) out[i].id = candidates[i].id;
  if (!rules.any()) {
    for (auto& d : out) d.reason = "no retention rules: every backup is kept";
    return out;
  }
  // Newest first; ties broken by id so the result does not depend on the input order.
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (candidates[a].started != candidates[b].started) return candidates[a].started > candidates[b].started;
    return candidates[a].id > candidates[b].id;
  });
  if (rules.keep_last) {
    for (size_t r = 0; r < order.size() && static_cast<int>(r) < *rules.keep_last; ++r)
      why[order[r]].push_back(fmt::format("keep_last {} (newest #{})", *rules.keep_last, r + 1));
  }
  // keep_daily/weekly/monthly N: the newest backup of each of the N most recent periods that
  // have a backup at all.
  auto per_period = [&](const std::optional<int>& keep, const char* rule, auto period_key, auto label) {
    if (!keep) return;
    std::set<decltype(period_key(TimePoint{}))> seen;
    for (size_t i : order) {
      auto key = period_key(candidates[i].started);
      if (seen.count(key)) continue;
      if (static_cast<int>(seen.size()) >= *keep) break;
      seen.insert(key);
      why[i].push_back(fmt::format("{} {} ({})", rule, *keep, label(key)));
    }
  };
  per_period(rules.keep_daily, "keep_daily", day_of, day_label);
  per_period(rules.keep_weekly, "keep_weekly", week_of, [](Days d) { return "week of " + day_label(d); });
  per_period(rules.keep_monthly, "keep_monthly", month_of, [](const std::string& m) { return m; });
  for (size_t i : order) {
    if (candidates[i].verified) {
      why[i].push_back("newest verified backup");
      break;
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].keep = !why[i].empty();
    if (!out[i].keep) {
      out[i].reason = "outside retention";
    } else {
      for (const auto& w : why[i]) out[i].reason += (out[i].reason.empty() ? "" : ", ") + w;
    }
  }
  return out;
}

}  // namespace pgr::repository
