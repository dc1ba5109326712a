// Retention selection is pure: made-up backup lists, every rule, and the "newest verified" guard.
#include <catch2/catch.hpp>

#include <set>

#include "repository/repository.hpp"
#include "util/error.hpp"

using namespace pgr::repository;

namespace {

RetentionCandidate at(const std::string& iso, bool verified = false) {
  auto t = parse_iso(iso);
  return {format_id(t), t, verified};
}

std::set<std::string> kept(const std::vector<RetentionCandidate>& c, const RetentionRules& r) {
  std::set<std::string> out;
  for (const auto& d : select_retention(c, r))
    if (d.keep) out.insert(d.id);
  return out;
}

}  // namespace

TEST_CASE("repository retention: no rules keeps everything", "[repository][retention]") {
  std::vector<RetentionCandidate> c{at("2025-01-01T00:00:00Z"), at("2025-01-02T00:00:00Z")};
  auto d = select_retention(c, {});
  REQUIRE(d.size() == 2);
  CHECK(d[0].keep);
  CHECK(d[1].keep);
}

TEST_CASE("repository retention: keep_last keeps the N newest whatever the input order", "[repository][retention]") {
  std::vector<RetentionCandidate> c{at("2025-01-03T00:00:00Z"), at("2025-01-01T00:00:00Z"), at("2025-01-02T00:00:00Z")};
  RetentionRules r;
  r.keep_last = 2;
  CHECK(kept(c, r) == std::set<std::string>{"20250103T000000Z", "20250102T000000Z"});
  auto d = select_retention(c, r);
  CHECK(d[1].id == "20250101T000000Z");
  CHECK_FALSE(d[1].keep);
  CHECK(d[1].reason == "outside retention");
  CHECK(d[0].reason == "keep_last 2 (newest #1)");
}

TEST_CASE("repository retention: keep_daily keeps the newest backup of each of the N latest days", "[repository][retention]") {
  std::vector<RetentionCandidate> c{at("2025-01-01T01:00:00Z"), at("2025-01-01T23:00:00Z"), at("2025-01-02T05:00:00Z"),
                                    at("2025-01-02T06:00:00Z"), at("2025-01-05T00:00:00Z")};
  RetentionRules r;
  r.keep_daily = 2;
  // Days with a backup: Jan 5 and Jan 2 are the two most recent; Jan 2's newest is 06:00.
  CHECK(kept(c, r) == std::set<std::string>{"20250105T000000Z", "20250102T060000Z"});
  r.keep_daily = 3;
  CHECK(kept(c, r) == std::set<std::string>{"20250105T000000Z", "20250102T060000Z", "20250101T230000Z"});
}

TEST_CASE("repository retention: keep_weekly uses ISO weeks starting on Monday", "[repository][retention]") {
  // 2025-01-05 is a Sunday, 2025-01-06 a Monday.
  std::vector<RetentionCandidate> c{at("2025-01-04T00:00:00Z"), at("2025-01-05T00:00:00Z"), at("2025-01-06T00:00:00Z")};
  RetentionRules r;
  r.keep_weekly = 2;
  CHECK(kept(c, r) == std::set<std::string>{"20250106T000000Z", "20250105T000000Z"});
  r.keep_weekly = 1;
  CHECK(kept(c, r) == std::set<std::string>{"20250106T000000Z"});
}

TEST_CASE("repository retention: keep_monthly and rules combine (kept by any rule stays)", "[repository][retention]") {
  std::vector<RetentionCandidate> c{at("2024-11-30T00:00:00Z"), at("2024-12-15T00:00:00Z"), at("2024-12-31T00:00:00Z"),
                                    at("2025-01-01T00:00:00Z"), at("2025-01-02T00:00:00Z")};
  RetentionRules r;
  r.keep_monthly = 3;
  CHECK(kept(c, r) == std::set<std::string>{"20250102T000000Z", "20241231T000000Z", "20241130T000000Z"});
  r.keep_last = 2;
  CHECK(kept(c, r) ==
        std::set<std::string>{"20250102T000000Z", "20250101T000000Z", "20241231T000000Z", "20241130T000000Z"});
  auto d = select_retention(c, r);
  CHECK(d[4].reason == "keep_last 2 (newest #1), keep_monthly 3 (2025-01)");
}

TEST_CASE("repository retention: the newest verified backup is never deleted", "[repository][retention]") {
  std::vector<RetentionCandidate> c{at("2025-01-01T00:00:00Z", true), at("2025-01-02T00:00:00Z", true),
                                    at("2025-01-03T00:00:00Z"), at("2025-01-04T00:00:00Z")};
  RetentionRules r;
  r.keep_last = 1;
  CHECK(kept(c, r) == std::set<std::string>{"20250104T000000Z", "20250102T000000Z"});
  auto d = select_retention(c, r);
  CHECK(d[1].reason == "newest verified backup");
  CHECK_FALSE(d[0].keep);  // an older verified backup is not protected
}

TEST_CASE("repository ids and times: pattern, round trip, zones", "[repository]") {
  CHECK(valid_backup_id("20250131T120000Z"));
  CHECK(valid_backup_id("20250131T120000Z-03"));
  CHECK_FALSE(valid_backup_id("20250231T120000Z"));  // no Feb 31
  CHECK_FALSE(valid_backup_id("../20250131T120000Z"));
  CHECK_FALSE(valid_backup_id("20250131T120000Z/.."));
  CHECK_FALSE(valid_backup_id(""));
  CHECK_THROWS_AS(check_backup_id("latest"), pgr::Error);
  auto t = parse_iso("2025-01-31T13:30:00+01:30");
  CHECK(format_iso(t) == "2025-01-31T12:00:00Z");
  CHECK(format_id(t) == "20250131T120000Z");
  CHECK(parse_id_time("20250131T120000Z-01") == t);
  CHECK(parse_iso("2025-01-31 12:00:00.123Z") == t);
  CHECK_THROWS_AS(parse_iso("2025-01-31T12:00:00"), pgr::Error);  // no zone
  CHECK(valid_policy_name("shop-nightly"));
  CHECK_FALSE(valid_policy_name(".."));
  CHECK_FALSE(valid_policy_name("a/b"));
  CHECK_FALSE(valid_policy_name(".partial-x"));
}
