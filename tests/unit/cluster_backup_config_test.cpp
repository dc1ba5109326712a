// Whole-cluster logical backups on fixtures: validation of databases / exclude_databases /
// database (with line and field), the Restore's select.databases and optional to.database,
// choose_databases (as pg_dumpall), the plan listing what it dumps and skips, and the policy's
// JSON round trip.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "config/database_selection.hpp"
#include "config/documents.hpp"
#include "config/policy_json.hpp"
#include "planner/backup_planner.hpp"
#include "repository/cluster_manifest.hpp"

using namespace pgr;
using namespace pgr::config;

namespace {

Settings settings() {
  Settings s;
  s.file = "/etc/pgrecover.toml";
  s.connections["prod"] = ConnectionSettings{"prod", "host=db", "", ""};
  s.repositories["local"] = RepositorySettings{"local", "/var/lib/pgrecover"};
  return s;
}

ValidationReport check(const std::string& spec_tail) {
  return check_text("apiVersion: pgrecover/v1\nkind: BackupPolicy\nmetadata: {name: all}\nspec:\n"
                    "  source: {connection: prod}\n  repository: local\n" + spec_tail,
                    "t.yaml", settings());
}

std::string only(const ValidationReport& r, int line) {
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].where.line == line);
  return r.problems[0].message;
}

}  // namespace

TEST_CASE("cluster backup: databases all / a list are valid and typed", "[config][cluster]") {
  auto r = check("  databases: all\n  exclude_databases: [postgres]\n  jobs: 3\n");
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.ok());
  const auto& s = r.documents.policies.at(0).spec;
  CHECK(s.all_databases);
  CHECK(s.whole_cluster());
  CHECK(s.exclude_databases == std::vector<std::string>{"postgres"});
  CHECK(s.jobs == 3);
  auto l = check("  databases: [a, b]\n");
  REQUIRE(l.ok());
  CHECK(l.documents.policies.at(0).spec.databases == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(l.documents.policies.at(0).spec.all_databases);
}

TEST_CASE("cluster backup: database with databases, exclude without all, plain, none at all are refused",
          "[config][cluster]") {
  CHECK(only(check("  database: shop\n  databases: all\n"), 8).find("spec.databases: cannot be combined with spec.database") !=
        std::string::npos);
  CHECK(only(check("  databases: [a]\n  exclude_databases: [b]\n"), 8).find("only used with databases: all") != std::string::npos);
  CHECK(only(check("  databases: all\n  format: plain\n  compression: none\n"), 8).find("spec.format") != std::string::npos);
  CHECK(only(check("  databases: [a, a]\n"), 7).find("listed twice") != std::string::npos);
  CHECK(only(check("  format: custom\n"), 4).find("databases: all") != std::string::npos);
  CHECK_FALSE(check("  databases: some\n").ok());  // only "all" or a list
  CHECK(only(check("  method: physical\n  databases: all\n"), 8).find("not used by method physical") != std::string::npos);
}

TEST_CASE("cluster restore: to.database is optional only for a repository backup, select.databases", "[config][cluster]") {
  auto doc = [](const std::string& from, const std::string& to, const std::string& tail) {
    return check_text("apiVersion: pgrecover/v1\nkind: Restore\nmetadata: {name: r}\nspec:\n  from: " + from +
                          "\n  to: " + to + "\n" + tail,
                      "t.yaml", settings());
  };
  auto ok = doc("{repository: local, policy: all}", "{connection: prod}", "  select: {databases: [a, b]}\n");
  for (const auto& p : ok.problems) UNSCOPED_INFO(p.str());
  REQUIRE(ok.ok());
  CHECK(ok.documents.restores.at(0).spec.select_databases == std::vector<std::string>{"a", "b"});
  CHECK(only(doc("{archive: /tmp/x}", "{connection: prod}", ""), 6).find("missing required field \"database\"") !=
        std::string::npos);
  CHECK(only(doc("{repository: local, policy: all}", "{connection: prod, database: x}", "  select: {databases: [a, b]}\n"), 6)
            .find("renames one database") != std::string::npos);
}

TEST_CASE("cluster backup: databases are chosen as pg_dumpall chooses them", "[config][cluster]") {
  std::vector<SourceDatabase> src{{"template0", false}, {"template1", true}, {"postgres", true}, {"shop", true},
                                  {"hr", true}, {"closed", false}};
  BackupPolicySpec all;
  all.all_databases = true;
  all.exclude_databases = {"hr"};
  auto c = choose_databases(all, src);
  std::vector<std::string> dumped, skipped;
  for (const auto& x : c) (x.dump ? dumped : skipped).push_back(x.name + (x.dump ? "" : ": " + x.reason));
  CHECK(dumped == std::vector<std::string>{"postgres", "shop", "template1"});
  CHECK(skipped == std::vector<std::string>{"closed: does not accept connections (datallowconn false)", "hr: in exclude_databases",
                                            "template0: template0 is never dumped (as pg_dumpall)"});
  BackupPolicySpec list;
  list.databases = {"shop", "gone"};
  auto l = choose_databases(list, src);
  REQUIRE(l.size() == 2);
  CHECK(l[0] == DatabaseChoice{"shop", true, ""});
  CHECK(l[1] == DatabaseChoice{"gone", false, "not on the source"});
}

TEST_CASE("cluster backup: the plan lists the databases it dumps and why others are skipped", "[planner][cluster]") {
  BackupPolicy policy;
  policy.metadata.name = "all";
  policy.spec.source.conninfo = "host=db";
  policy.spec.all_databases = true;
  policy.spec.exclude_databases = {"postgres"};
  policy.spec.repository = "local";
  planner::BackupFacts f;
  f.policy = &policy;
  f.repository = "local";
  f.repository_fingerprint = "fp";
  f.created_at = "2026-11-20T12:00:00.000Z";
  f.databases = choose_databases(policy.spec, {{"template0", false}, {"postgres", true}, {"a", true}, {"b", true}});
  auto plan = planner::plan_backup_policy(f);
  const auto* b = plan.find("backup:all");
  REQUIRE(b != nullptr);
  CHECK(b->object == "all (cluster: a, b)");
  CHECK(b->params.at("databases") == "a, b");
  CHECK(std::find(plan.warnings.begin(), plan.warnings.end(), "database \"postgres\" is not dumped: in exclude_databases") !=
        plan.warnings.end());
  // The executor reads the policy back from the plan: the cluster fields survive.
  auto back = policy_from_json(nlohmann::json::parse(plan.params.at("policy")));
  CHECK(back.spec.all_databases);
  CHECK(back.spec.exclude_databases == std::vector<std::string>{"postgres"});
}

TEST_CASE("cluster backup: the manifest's databases round-trip and never name a path outside", "[repository][cluster]") {
  repository::Manifest m;
  m.id = "20250131T020000Z";
  m.policy = "all";
  m.format = "directory";
  repository::ClusterDatabase d;
  d.name = "../etc";
  d.dir = repository::cluster_database_dir(0, d.name);
  d.data = d.dir + "/data";
  d.owner = "o";
  d.row_counts = {{"public.t", 5}, {"public.u", 2}};
  CHECK(d.dir == "databases/01-___etc");
  repository::set_cluster_databases(m, {d});
  auto back = repository::cluster_databases(repository::manifest_from_json(repository::to_json(m)));
  REQUIRE(back.size() == 1);
  CHECK(back[0] == d);
  CHECK(back[0].rows() == 7);
  m.extra["databases"][0]["data"] = "../../x";
  CHECK_THROWS(repository::cluster_databases(m));
}
