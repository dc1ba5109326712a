// `pgrecover check` verdicts on fixtures (planner/health), and the Prometheus output read back by
// a strict parser of the text exposition format (version 0.0.4), not by string matching.
#include <catch2/catch.hpp>

#include <cmath>
#include <optional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "planner/health.hpp"
#include "report/health.hpp"
#include "util/time.hpp"

using namespace pgr;
using model::CheckStatus;

namespace {

const double kNow = 1795132800;  // 2026-11-20T00:00:00Z

planner::HealthBackup backup(const std::string& id, const std::string& started, std::uint64_t bytes = 1000000,
                             const std::string& verified = "") {
  planner::HealthBackup b;
  b.backup.id = id;
  b.backup.started_at = started;
  b.backup.bytes = bytes;
  b.backup.verified_at = verified;
  return b;
}

// A copy of the named check (the health value is often a temporary), or nullopt.
std::optional<model::HealthCheck> find(const model::PolicyHealth& h, const std::string& check) {
  for (const auto& c : h.checks)
    if (c.check == check) return c;
  return std::nullopt;
}

struct Fixture {
  config::BackupPolicy policy;
  planner::PolicyHealthFacts facts;
  Fixture() {
    policy.metadata.name = "prod";
    policy.spec.method = config::BackupMethod::physical;
    policy.spec.cluster = "prod";
    policy.spec.schedule_every = std::chrono::hours(24);
    policy.spec.rpo = std::chrono::minutes(5);
    facts.policy = &policy;
    facts.repository = "local";
    facts.now_epoch = kNow;
    facts.backups = {backup("20261119T020000Z", "2026-11-19T02:00:00Z")};
    facts.newest_wal = "000000010000000000000042";
    facts.newest_wal_epoch = kNow - 30;
    planner::ArchiverFacts a;
    a.archive_mode = "on";
    a.archive_timeout_seconds = 60;
    a.last_archived_wal = "000000010000000000000042";
    a.last_archived_time = "2026-11-19 23:59:30+00";
    a.current_segment = "000000010000000000000043";
    facts.archiver = a;
  }
  model::PolicyHealth eval() { return planner::evaluate_policy(facts); }
};

// ---- a strict reader of the Prometheus text exposition format ------------------------------

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types, helps;
  std::vector<Sample> samples;
  double value(const std::string& name, const std::map<std::string, std::string>& labels) const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    FAIL("no sample " << name);
    return 0;
  }
};

// Throws std::runtime_error naming the line for anything the format does not allow: names and
// label names outside their grammar, bad escapes, a value that is not a Go float, a TYPE after
// samples of its family or twice, a family whose samples are not together, a duplicate series,
// a missing final newline.
Exposition parse_exposition(const std::string& text) {
  static const std::regex metric_name("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex label_name("[a-zA-Z_][a-zA-Z0-9_]*");
  static const std::regex float_value(R"([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|NaN|[+-]Inf)");
  Exposition e;
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("no newline at the end");
  std::istringstream in(text);
  std::string line, current_family;
  std::set<std::string> finished_families, series;
  int n = 0;
  auto bad = [&](const std::string& why) { throw std::runtime_error("line " + std::to_string(n) + ": " + why + ": " + line); };
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line.substr(1));
      std::string keyword, name;
      words >> keyword >> name;
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
      if (!std::regex_match(name, metric_name)) bad("bad metric name in " + keyword);
      std::string rest;
      std::getline(words, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (keyword == "TYPE") {
        static const std::set<std::string> kinds = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (!kinds.count(rest)) bad("unknown type");
        if (e.types.count(name)) bad("second TYPE");
        if (finished_families.count(name) || current_family == name) bad("TYPE after samples");
        e.types[name] = rest;
      } else {
        if (e.helps.count(name)) bad("second HELP");
        e.helps[name] = rest;
      }
      continue;
    }
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!std::regex_match(s.name, metric_name)) bad("bad metric name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        if (i < line.size() && line[i] == '}') { ++i; break; }
        std::size_t eq = line.find('=', i);
        if (eq == std::string::npos) bad("label without =");
        std::string lname = line.substr(i, eq - i);
        if (!std::regex_match(lname, label_name) || lname.rfind("__", 0) == 0) bad("bad label name");
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') bad("label value not quoted");
        ++i;
        std::string value;
        while (true) {
          if (i >= line.size()) bad("unterminated label value");
          char c = line[i++];
          if (c == '"') break;
          if (c == '\\') {
            if (i >= line.size()) bad("dangling escape");
            char x = line[i++];
            if (x == 'n') value += '\n';
            else if (x == '\\' || x == '"') value += x;
            else bad("bad escape");
          } else {
            value += c;
          }
        }
        if (s.labels.count(lname)) bad("label twice");
        s.labels[lname] = value;
        if (i < line.size() && line[i] == ',') { ++i; continue; }
        if (i < line.size() && line[i] == '}') { ++i; break; }
        bad("expected , or }");
      }
    }
    if (i >= line.size() || line[i] != ' ') bad("no space before the value");
    std::string value = line.substr(i + 1);
    std::string timestamp;
    if (auto sp = value.find(' '); sp != std::string::npos) {
      timestamp = value.substr(sp + 1);
      value = value.substr(0, sp);
      if (!std::regex_match(timestamp, std::regex("-?\\d+"))) bad("bad timestamp");
    }
    if (!std::regex_match(value, float_value)) bad("bad value");
    s.value = value == "NaN" ? std::nan("") : value == "+Inf" ? INFINITY : value == "-Inf" ? -INFINITY : std::stod(value);
    if (s.name != current_family) {
      if (finished_families.count(s.name)) bad("samples of a family are not together");
      if (!current_family.empty()) finished_families.insert(current_family);
      current_family = s.name;
    }
    std::string key = s.name;
    for (const auto& [k, v] : s.labels) key += "\x1f" + k + "=" + v;
    if (!series.insert(key).second) bad("duplicate series");
    e.samples.push_back(std::move(s));
  }
  return e;
}

}  // namespace

TEST_CASE("health: a healthy physical policy is within bounds", "[health]") {
  Fixture f;
  auto h = f.eval();
  CHECK(h.in_bounds());
  REQUIRE(find(h, "backup_age"));
  CHECK(find(h, "backup_age")->value == Approx(22 * 3600));
  CHECK(find(h, "rpo")->status == CheckStatus::ok);
  CHECK(find(h, "archive_timeout")->status == CheckStatus::ok);
  CHECK(find(h, "archiver")->status == CheckStatus::ok);
  CHECK(find(h, "drill_age") == std::nullopt);  // no drill schedule: not checked
}

TEST_CASE("health: each bound, broken one at a time, names what is wrong", "[health]") {
  Fixture f;
  SECTION("the newest backup is older than the schedule") {
    f.policy.spec.schedule_every = std::chrono::hours(12);
    auto c = find(f.eval(), "backup_age");
    CHECK(c->status == CheckStatus::out_of_bounds);
    CHECK_THAT(c->message, Catch::Contains("is 22h old, schedule every 12h"));
  }
  SECTION("no backup at all") {
    f.facts.backups.clear();
    auto h = f.eval();
    CHECK_FALSE(h.in_bounds());
    CHECK_THAT(find(h, "backup_age")->message, Catch::Contains("no good backup in repository \"local\""));
  }
  SECTION("a backup that failed its verification does not count") {
    f.facts.backups.push_back(backup("20261119T230000Z", "2026-11-19T23:00:00Z"));
    f.facts.backups.back().good = false;
    CHECK(find(f.eval(), "backup_age")->value == Approx(22 * 3600));
  }
  SECTION("archive_command is failing") {
    f.facts.archiver->failing = true;
    f.facts.archiver->failed_count = 7;
    f.facts.archiver->last_failed_wal = "000000010000000000000043";
    auto c = find(f.eval(), "archiver");
    CHECK(c->status == CheckStatus::out_of_bounds);
    CHECK_THAT(c->message, Catch::Contains("archive_command is failing: 7 failures, the last for 000000010000000000000043"));
  }
  SECTION("unarchived WAL older than the rpo") {
    f.facts.newest_wal_epoch = kNow - 600;
    auto c = find(f.eval(), "rpo");
    CHECK(c->status == CheckStatus::out_of_bounds);
    CHECK(c->value == Approx(600));
    // nothing written since that segment: nothing is at risk, however old it is
    f.facts.archiver->current_segment = "000000010000000000000042";
    CHECK(find(f.eval(), "rpo")->status == CheckStatus::ok);
  }
  SECTION("archive_timeout off or above the rpo") {
    f.facts.archiver->archive_timeout_seconds = 0;
    CHECK_THAT(find(f.eval(), "archive_timeout")->message, Catch::Contains("archive_timeout is off"));
    f.facts.archiver->archive_timeout_seconds = 600;
    CHECK(find(f.eval(), "archive_timeout")->status == CheckStatus::out_of_bounds);
  }
  SECTION("drills and the restore time") {
    f.policy.spec.drill_every = std::chrono::hours(24 * 7);
    f.policy.spec.rto = std::chrono::minutes(1);
    auto h = f.eval();
    CHECK_THAT(find(h, "drill_age")->message, Catch::Contains("no backup has passed a drill"));
    CHECK(find(h, "restore_time")->status == CheckStatus::unknown);
    f.facts.backups.back().backup.verified_at = "2026-11-19T12:00:00Z";
    f.facts.restore_bytes_per_second = 10000;  // 1 MB takes 100 s > 60 s
    f.facts.throughput_from = "run pitr-1";
    h = f.eval();
    CHECK(find(h, "drill_age")->status == CheckStatus::ok);
    CHECK(find(h, "restore_time")->status == CheckStatus::out_of_bounds);
    CHECK(find(h, "restore_time")->value == Approx(100));
  }
  SECTION("an unreachable source") {
    f.facts.archiver.reset();
    f.facts.source_error = "connection refused";
    auto h = f.eval();
    CHECK(find(h, "source")->status == CheckStatus::out_of_bounds);
    CHECK(find(h, "archiver") == std::nullopt);
  }
}

TEST_CASE("health: the Prometheus output parses and carries every verdict", "[health][prometheus]") {
  Fixture f;
  model::HealthReport r;
  r.checked_at = "2026-11-20T00:00:00.000Z";
  r.checked_epoch = kNow;
  r.policies.push_back(f.eval());
  f.policy.metadata.name = "odd \"name\"\\x";
  f.facts.archiver->failing = true;
  f.facts.archiver->failed_count = 3;
  r.policies.push_back(f.eval());
  std::string text = report::render_health_prometheus(r);
  Exposition e;
  REQUIRE_NOTHROW(e = parse_exposition(text));
  CHECK(e.types.at("pgrecover_policy_in_bounds") == "gauge");
  CHECK(e.value("pgrecover_policy_in_bounds", {{"policy", "prod"}}) == 1);
  CHECK(e.value("pgrecover_policy_in_bounds", {{"policy", "odd \"name\"\\x"}}) == 0);
  CHECK(e.value("pgrecover_check_in_bounds", {{"policy", "odd \"name\"\\x"}, {"check", "archiver"}}) == 0);
  CHECK(e.value("pgrecover_archiver_failed_count", {{"policy", "odd \"name\"\\x"}}) == 3);
  CHECK(e.value("pgrecover_backup_age_seconds", {{"policy", "prod"}}) == Approx(22 * 3600));
  CHECK(e.value("pgrecover_rpo_seconds", {{"policy", "prod"}}) == 300);
  CHECK(e.value("pgrecover_check_timestamp_seconds", {}) == kNow);

  // the parser is strict: it rejects what Prometheus rejects
  CHECK_THROWS(parse_exposition("a{b=\"c\"} 1"));                       // no final newline
  CHECK_THROWS(parse_exposition("a{b=c} 1\n"));                         // unquoted label value
  CHECK_THROWS(parse_exposition("a 1\nb 1\na{x=\"y\"} 2\n"));           // family not together
  CHECK_THROWS(parse_exposition("a 1\n# TYPE a gauge\n"));              // TYPE after samples
  CHECK_THROWS(parse_exposition("a 1\na 2\n"));                         // duplicate series
  CHECK_THROWS(parse_exposition("1a 1\n"));                             // bad name
  CHECK_THROWS(parse_exposition("a{b=\"\\t\"} 1\n"));                   // bad escape
  CHECK_THROWS(parse_exposition("a one\n"));                            // bad value
}

TEST_CASE("health: JSON and text say which policy is out of bounds", "[health]") {
  Fixture f;
  f.facts.archiver->failing = true;
  model::HealthReport r;
  r.checked_at = "2026-11-20T00:00:00.000Z";
  r.policies.push_back(f.eval());
  auto j = report::health_json(r);
  CHECK(j["format_version"] == 1);
  CHECK(j["in_bounds"] == false);
  CHECK(j["policies"][0]["policy"] == "prod");
  CHECK(j["policies"][0]["in_bounds"] == false);
  bool found = false;
  for (const auto& c : j["policies"][0]["checks"]) found |= c["check"] == "archiver" && c["status"] == "out_of_bounds";
  CHECK(found);
  auto text = report::render_health_text(r);
  CHECK_THAT(text, Catch::Contains("OUT OF BOUNDS: policy prod"));
  CHECK_THAT(text, Catch::Contains("1 of 1 policy is out of bounds"));
}
