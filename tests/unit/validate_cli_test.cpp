// `pgrecover validate` as users run it: the shipped plans and examples pass, broken documents
// fail with FILE:LINE:COL lines.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "support/harness.hpp"
#include "util/fs.hpp"

using pgr::test::run_pgrecover;
using pgr::test::test_data;

namespace {
const std::string kSource = PGRECOVER_SOURCE_DIR;
}

TEST_CASE("validate: every plan in plans/ is valid", "[validate]") {
  auto r = run_pgrecover({"--config", kSource + "/plans/pgrecover.toml", "validate", kSource + "/plans"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  for (const char* name : {"shop-nightly", "orders-side-restore", "shop-drill", "prod-physical", "before-v2-migration",
                           "move-shop"}) {
    CHECK(r.out.find(std::string("\"") + name + "\"") != std::string::npos);
  }
  CHECK(r.out.find("6 documents valid") != std::string::npos);
}

TEST_CASE("validate: the GitOps example is valid", "[validate]") {
  auto r = run_pgrecover({"--config", kSource + "/examples/gitops/pgrecover.toml", "validate",
                          kSource + "/examples/gitops/policies", kSource + "/examples/gitops/restores"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("3 documents valid") != std::string::npos);
}

TEST_CASE("validate: broken documents exit 1 with FILE:LINE:COL lines", "[validate]") {
  const std::string dir = test_data("documents");
  auto r = run_pgrecover({"validate", dir + "/bad-kind.yaml", dir + "/bad-jobs.yaml", dir + "/bad-field.yaml",
                          dir + "/bad-syntax.yaml"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find(dir + "/bad-kind.yaml:2:1: unknown kind \"Restroe\" (did you mean \"Restore\"?)\n") != std::string::npos);
  CHECK(r.out.find(dir + "/bad-jobs.yaml:12:3: spec.jobs: expected an integer") != std::string::npos);
  CHECK(r.out.find(dir + "/bad-field.yaml:6:3: unknown field \"form\" in spec (did you mean \"from\"?)\n") !=
        std::string::npos);
  CHECK(r.out.find(dir + "/bad-syntax.yaml:12:") != std::string::npos);
  CHECK(r.out.find("4 problems found") != std::string::npos);
}

TEST_CASE("validate: --json prints one object with documents and problems", "[validate]") {
  const std::string dir = test_data("documents");
  auto bad = run_pgrecover({"--json", "validate", dir + "/bad-jobs.yaml"});
  CHECK(bad.exit_code == 1);
  auto j = nlohmann::json::parse(bad.out);
  CHECK(j["format_version"] == 1);
  CHECK(j["valid"] == false);
  REQUIRE(j["problems"].size() == 1);
  CHECK(j["problems"][0]["line"] == 12);
  CHECK(j["problems"][0]["column"] == 3);
  CHECK(j["problems"][0]["file"] == dir + "/bad-jobs.yaml");
  auto good = run_pgrecover({"--json", "validate", dir + "/minimal-restore.yaml"});
  CHECK(good.exit_code == 0);
  auto g = nlohmann::json::parse(good.out);
  CHECK(g["valid"] == true);
  REQUIRE(g["documents"].size() == 1);
  CHECK(g["documents"][0] == nlohmann::json{{"file", dir + "/minimal-restore.yaml"}, {"line", 1}, {"kind", "Restore"}, {"name", "ok"}});
  CHECK(g["problems"].empty());
}

TEST_CASE("validate: settings problems and a missing --config file exit 1", "[validate]") {
  const std::string dir = test_data("documents");
  auto missing = run_pgrecover({"--config", dir + "/nope.toml", "validate", dir + "/minimal-restore.yaml"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("nope.toml") != std::string::npos);
  auto bad = run_pgrecover({"--config", dir + "/bad-settings.toml", "validate", dir + "/minimal-restore.yaml"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.out.find(dir + "/bad-settings.toml:4:") != std::string::npos);
  auto env = run_pgrecover({"validate", dir + "/minimal-restore.yaml"}, {"PGRECOVER_CONFIG=" + dir + "/gone.toml"});
  CHECK(env.exit_code == 1);
  CHECK(env.err.find("PGRECOVER_CONFIG") != std::string::npos);
  auto missing_doc = run_pgrecover({"validate", dir + "/no-such.yaml"});
  CHECK(missing_doc.exit_code == 1);
  CHECK(missing_doc.out.find("no-such.yaml: no such file or folder") != std::string::npos);
}

TEST_CASE("validate: a restore point asked for before a change is named in the document's line", "[validate]") {
  pgr::TempDir dir;
  pgr::write_file_atomic(dir.path() / "pgrecover.toml", "[connections.prod]\nconninfo = \"host=/nonexistent port=1\"\n");
  pgr::write_file_atomic(dir.path() / "restore.yaml",
                         "apiVersion: pgrecover/v1\nkind: Restore\nmetadata: {name: fix-orders}\nspec:\n"
                         "  from: {archive: /nonexistent/x.dump}\n  to: {connection: prod, database: shop}\n"
                         "  before: {restore_point: before_chg_1}\n");
  auto r = run_pgrecover({"--config", (dir.path() / "pgrecover.toml").string(), "validate", (dir.path() / "restore.yaml").string()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("first a restore point \"before_chg_1\" on the target server (not recorded)") != std::string::npos);
}
