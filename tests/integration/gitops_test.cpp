// The example GitOps repository's pipelines, run locally: the same ci/pgrecover-ci.sh the GitHub
// Actions and GitLab CI definitions call, against a real server the test starts.
#include <catch2/catch.hpp>

#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/harness.hpp"
#include "util/fs.hpp"

using namespace pgr;
using test::psql;
using test::server;

namespace {

ProcessResult ci(const fs::path& repo, const std::string& step) {
  ProcessSpec spec;
  spec.argv = {"/bin/bash", (repo / "ci" / "pgrecover-ci.sh").string(), step, (repo / "out").string()};
  spec.env = {std::string("PGRECOVER=") + PGRECOVER_BINARY, "PGRECOVER_PROD_PASSWORD=prod-s3cret-value",
              "PGRECOVER_STAGING_PASSWORD=staging-s3cret-value"};
  spec.unset_env = {"PGRECOVER_CONFIG"};
  return run_process(spec);
}

}  // namespace

TEST_CASE("the example GitOps pipelines run green: schedule, review, apply", "[gitops]") {
  auto& s = server();
  TempDir tmp("pgrecover-gitops-");
  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::path repo = tmp.path() / "repo";
  fs::copy(std::string(PGRECOVER_SOURCE_DIR) + "/examples/gitops", repo, fs::copy_options::recursive);

  // Point the example's settings at this test's server and folders; keep everything else.
  std::string toml = read_file(repo / "pgrecover.toml");
  std::string here = fmt::format("host={} port={} user=postgres dbname=postgres", s.socket_dir().string(), s.port());
  toml = std::regex_replace(toml, std::regex(R"(conninfo = "[^"]*")"), "conninfo = \"" + here + "\"");
  toml = std::regex_replace(toml, std::regex(R"(path = "[^"]*")"), "path = \"" + (tmp.path() / "repository").string() + "\"");
  toml = std::regex_replace(toml, std::regex(R"(state_dir = "[^"]*")"), "state_dir = \"" + (tmp.path() / "state").string() + "\"");
  write_file_atomic(repo / "pgrecover.toml", toml);
  // Only the logical policy: the physical one needs WAL archiving set up on the source (pitr_test).
  std::string policies = read_file(repo / "policies" / "shop.yaml");
  write_file_atomic(repo / "policies" / "shop.yaml", policies.substr(0, policies.find("\n---")) + "\n");

  // The production database the policy backs up.
  psql("postgres", "CREATE DATABASE shop");
  psql("shop", R"(
    CREATE ROLE shop_app NOLOGIN;
    CREATE SCHEMA sales AUTHORIZATION shop_app;
    CREATE TABLE sales.orders (id bigserial PRIMARY KEY, total numeric NOT NULL);
    CREATE TABLE sales.order_items (order_id bigint REFERENCES sales.orders(id), sku text, qty int);
    INSERT INTO sales.orders (total) SELECT g FROM generate_series(1, 500) g;
    INSERT INTO sales.order_items SELECT 1 + g % 500, 'sku' || g, g % 5 FROM generate_series(1, 2000) g;
    ALTER TABLE sales.orders OWNER TO shop_app;
  )");

  // Nightly: the backup is due; taken, drilled, listed.
  auto sched = ci(repo, "schedule");
  INFO(sched.out << sched.err);
  REQUIRE(sched.exit_code == 0);
  auto backups = nlohmann::json::parse(read_file(repo / "out" / "backups.json"));
  REQUIRE(backups["backups"].size() == 1);
  CHECK(backups["backups"][0]["policy"] == "shop-nightly");

  // Pull request: validate, plan, comment.
  auto review = ci(repo, "review");
  INFO(review.out << review.err);
  REQUIRE(review.exit_code == 0);
  CHECK(fs::exists(repo / "out" / "plans" / "restore-orders-chg-1234.json"));
  CHECK(fs::exists(repo / "out" / "plans" / "backup-shop-nightly.json"));
  std::string md = read_file(repo / "out" / "plan.md");
  CHECK(md.find("changes to review") != std::string::npos);
  CHECK(md.find("CHG-1234") != std::string::npos);
  CHECK(md.find("| create |") != std::string::npos);
  CHECK(md.find("pgrecover apply restore-orders-chg-1234.json") != std::string::npos);
  for (const char* secret : {"s3cret", "password"}) {
    INFO(secret);
    CHECK(md.find(secret) == std::string::npos);
    CHECK(read_file(repo / "out" / "plans" / "restore-orders-chg-1234.json").find(secret) == std::string::npos);
    CHECK(review.out.find(secret) == std::string::npos);
  }

  // After merge: apply exactly the reviewed plan, report for the ticket.
  auto apply = ci(repo, "apply");
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  CHECK(psql("shop_restored", "select count(*) from sales.orders") == "500\n");
  CHECK(psql("shop_restored", "select count(*) from sales.order_items") == "2000\n");
  std::string report = read_file(repo / "out" / "report.md");
  CHECK(report.find("CHG-1234") != std::string::npos);
  CHECK(report.find("**ok**") != std::string::npos);
  CHECK(report.find("s3cret") == std::string::npos);

  // --json everywhere: every command's machine output is versioned.
  auto pgr_json = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", (repo / "pgrecover.toml").string(), "--json"});
    auto r = test::run_pgrecover(args, {"PGRECOVER_PROD_PASSWORD=x", "PGRECOVER_STAGING_PASSWORD=y"});
    INFO(args.back() << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    // apply --json writes one object per line; every line is versioned
    size_t pos = 0;
    int objects = 0;
    while (pos < r.out.size()) {
      size_t end = r.out.find('\n', pos);
      std::string line = r.out.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      pos = end == std::string::npos ? r.out.size() : end + 1;
      if (line.empty() || line[0] != '{' || line.size() < 2 || line.back() != '}') continue;
      auto j = nlohmann::json::parse(line);
      CHECK(j["format_version"] == 1);
      ++objects;
    }
    if (objects == 0) CHECK(nlohmann::json::parse(r.out)["format_version"] == 1);
    return r;
  };
  std::string backup_id = backups["backups"][0]["id"];
  pgr_json({"backups", "list"});
  pgr_json({"backups", "show", backup_id});
  pgr_json({"backups", "verify", backup_id});
  pgr_json({"runs", "list"});
  pgr_json({"show", (repo / "out" / "plans" / "restore-orders-chg-1234.json").string()});
  pgr_json({"validate", (repo / "policies").string(), (repo / "restores").string()});
  pgr_json({"plan", (repo / "policies").string(), (repo / "restores").string()});
  pgr_json({"inspect", (tmp.path() / "repository" / "backups" / "shop-nightly" / backup_id / "data").string()});

  // A second review right after: nothing left to do for the restore.
  auto again = ci(repo, "review");
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  auto plan = nlohmann::json::parse(read_file(repo / "out" / "plans" / "restore-orders-chg-1234.json"));
  int changes = 0;
  for (auto& st : plan["steps"]) changes += st["action"] != "no-op";
  CHECK(changes == 0);
}
