// Documents: the minimal Restore, each required rejection at its exact line, defaults,
// did-you-mean, and the checks across documents and settings.
#include <catch2/catch.hpp>

#include <algorithm>

#include "config/documents.hpp"
#include "util/fs.hpp"

using namespace pgr;
using namespace pgr::config;

namespace {

const std::string kMinimalRestore = R"(apiVersion: pgrecover/v1
kind: Restore
metadata:
  name: ok
spec:
  from:
    archive: /tmp/some-archive
  to:
    conninfo: "dbname=postgres"
    database: target_db
    create: true
  jobs: 2
)";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

ValidationReport check(const std::string& yaml, const Settings& settings = {}) {
  return check_text(yaml, "t.yaml", settings);
}

// The only problem, which must be at `line`; returns its message.
std::string only_problem(const ValidationReport& r, int line, int column = 0) {
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].where.file == "t.yaml");
  CHECK(r.problems[0].where.line == line);
  if (column > 0) CHECK(r.problems[0].where.column == column);
  return r.problems[0].message;
}

Settings test_settings() {
  Settings s;
  s.file = "/etc/pgrecover.toml";
  s.connections["prod"] = ConnectionSettings{"prod", "host=db", "", ""};
  s.connections["staging"] = ConnectionSettings{"staging", "host=staging", "", ""};
  s.repositories["local"] = RepositorySettings{"local", "/var/lib/pgrecover"};
  return s;
}

const std::string kPolicy = R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {name: shop-nightly}
spec:
  source: {connection: prod}
  database: shop
  repository: local
)";

}  // namespace

TEST_CASE("config: the minimal Restore is valid and typed", "[config]") {
  auto r = check(kMinimalRestore);
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.ok());
  REQUIRE(r.documents.restores.size() == 1);
  const Restore& doc = r.documents.restores[0];
  CHECK(doc.metadata.name == "ok");
  CHECK(doc.metadata.where == Position{"t.yaml", 1, 1});
  CHECK(doc.spec.archive == "/tmp/some-archive");
  CHECK(doc.spec.to == ConnectionRef{"", "dbname=postgres"});
  CHECK(doc.spec.database == "target_db");
  CHECK(doc.spec.jobs == 2);
  // defaults
  CHECK(doc.spec.create);
  CHECK(doc.spec.existing == ExistingPolicy::fail);
  CHECK(doc.spec.roles == RolesPolicy::create_missing);
  CHECK(doc.spec.fix_sequences);
  CHECK(doc.spec.analyze);
  CHECK(doc.spec.verify_row_counts);
  CHECK(doc.spec.select.empty());
  CHECK(doc.spec.backup.kind == BackupRef::Kind::latest);
  REQUIRE(r.summaries.size() == 1);
  CHECK(r.summaries[0].kind == "Restore");
  CHECK(r.documents.fingerprint.size() == 64);
}

TEST_CASE("config: a YAML syntax error is reported at its line", "[config]") {
  auto msg = only_problem(check(replace(kMinimalRestore, "  jobs: 2", "  jobs: 2: 3")), 12);
  CHECK_THAT(msg, Catch::StartsWith("YAML syntax error"));
  only_problem(check(replace(kMinimalRestore, "    create: true", "     create: true")), 11);
}

TEST_CASE("config: an unknown kind is reported at the kind's line with a suggestion", "[config]") {
  auto msg = only_problem(check(replace(kMinimalRestore, "kind: Restore", "kind: Restroe")), 2, 1);
  CHECK(msg == "unknown kind \"Restroe\" (did you mean \"Restore\"?)");
  msg = only_problem(check(replace(kMinimalRestore, "kind: Restore", "kind: Backup")), 2);
  CHECK_THAT(msg, Catch::Contains("known kinds: BackupPolicy, Restore, PointInTimeRecovery"));
}

TEST_CASE("config: a wrong type is reported at the field's line", "[config]") {
  auto msg = only_problem(check(replace(kMinimalRestore, "jobs: 2", "jobs: four")), 12, 3);
  CHECK(msg == "spec.jobs: expected an integer, got the string \"four\"");
  msg = only_problem(check(replace(kMinimalRestore, "jobs: 2", "jobs: \"2\"")), 12);
  CHECK_THAT(msg, Catch::Contains("remove the quotes"));
  msg = only_problem(check(replace(kMinimalRestore, "create: true", "create: yes")), 11);
  CHECK_THAT(msg, Catch::Contains("expected true or false") && Catch::Contains("YAML 1.2"));
  msg = only_problem(check(replace(kMinimalRestore, "database: target_db", "database: {a: 1}")), 10);
  CHECK_THAT(msg, Catch::Contains("expected a string, got a map"));
  msg = only_problem(check(replace(kMinimalRestore, "database: target_db", "database: 1234")), 10);
  CHECK_THAT(msg, Catch::Contains("quote it"));
}

TEST_CASE("config: values out of range and not in the enum are rejected", "[config]") {
  auto msg = only_problem(check(replace(kMinimalRestore, "jobs: 2", "jobs: 100")), 12);
  CHECK(msg == "spec.jobs: 100 is out of range (1 to 64)");
  only_problem(check(replace(kMinimalRestore, "jobs: 2", "jobs: 0")), 12);
  msg = only_problem(check(replace(kMinimalRestore, "jobs: 2", "jobs: 2\n  existing: truncte")), 13);
  CHECK_THAT(msg, Catch::Contains("is not one of \"fail\", \"skip\", \"truncate\" or \"replace\"") &&
                      Catch::Contains("did you mean \"truncate\"?"));
  msg = only_problem(check(replace(kMinimalRestore, "name: ok", "name: Not_OK")), 4);
  CHECK_THAT(msg, Catch::Contains("metadata.name: \"Not_OK\" is not a valid name"));
}

TEST_CASE("config: a misspelt field is reported at its line with a suggestion", "[config]") {
  auto msg = only_problem(check(replace(kMinimalRestore, "  from:", "  form:")), 6, 3);
  CHECK(msg == "unknown field \"form\" in spec (did you mean \"from\"?)");
  msg = only_problem(check(replace(kMinimalRestore, "  jobs: 2", "  jobs: 2\n  post: {verify: {rowcounts: true}}")), 13);
  CHECK(msg == "unknown field \"rowcounts\" in spec.post.verify (did you mean \"row_counts\"?)");
  msg = only_problem(check(replace(kMinimalRestore, "  jobs: 2", "  jobs: 2\n  colour: blue")), 13);
  CHECK_THAT(msg, Catch::Contains("unknown field \"colour\" in spec; known fields: \"allow_dropping_dependents\", "
                                  "\"before\", \"existing\""));
  // every unknown field is reported, not just the first
  auto r = check(replace(kMinimalRestore, "  jobs: 2", "  jbos: 2\n  anlyze: true"));
  CHECK(r.problems.size() == 2);
}

TEST_CASE("config: several problems in several documents are all reported with file positions", "[config]") {
  const std::string two = replace(kMinimalRestore, "jobs: 2", "jobs: four") + "---\n" +
                          replace(replace(kMinimalRestore, "name: ok", "name: second"), "  from:", "  form:");
  auto r = check(two);
  REQUIRE(r.problems.size() == 2);
  CHECK(r.problems[0].where.line == 12);
  CHECK(r.problems[1].where.line == 13 + 6);
  CHECK(r.problems[1].str() == "t.yaml:19:3: unknown field \"form\" in spec (did you mean \"from\"?)");
  CHECK(r.summaries.size() == 2);
}

TEST_CASE("config: exactly one of connection/conninfo, archive/policy, and one recovery target", "[config]") {
  auto msg = only_problem(check(replace(kMinimalRestore, "    conninfo: \"dbname=postgres\"",
                                        "    conninfo: \"dbname=postgres\"\n    connection: prod")), 8);
  CHECK(msg == "spec.to takes only one of \"connection\" or \"conninfo\", not several");
  msg = only_problem(check(replace(kMinimalRestore, "    archive: /tmp/some-archive", "    backup: latest")), 6);
  CHECK(msg == "spec.from needs one of \"archive\", \"policy\", \"sql_file\" or \"live\"");
  msg = only_problem(check(replace(kMinimalRestore, "    archive: /tmp/some-archive",
                                   "    policy: p\n    backup: {before: yesterday}")), 8);
  CHECK_THAT(msg, Catch::Contains("spec.from.backup.before: \"yesterday\" is not a valid timestamp"));
  msg = only_problem(check(replace(kMinimalRestore, "    archive: /tmp/some-archive",
                                   "    policy: p\n    backup: [1]")), 8);
  CHECK_THAT(msg, Catch::Contains("expected backup: latest, a backup ID, or {before: TIMESTAMP}, got a list"));
  msg = only_problem(check(replace(kMinimalRestore, "    archive: /tmp/some-archive",
                                   "    archive: x\n    backup: latest")), 8);
  CHECK_THAT(msg, Catch::Contains("only used with policy"));
}

TEST_CASE("config: apiVersion and duplicate keys are checked", "[config]") {
  auto msg = only_problem(check(replace(kMinimalRestore, "pgrecover/v1", "pgrecover/v2")), 1);
  CHECK_THAT(msg, Catch::Contains("unsupported apiVersion"));
  msg = only_problem(check(replace(kMinimalRestore, "  jobs: 2", "  jobs: 2\n  jobs: 3")), 13);
  CHECK(msg == "duplicate field \"jobs\" (first given at line 12)");
}

TEST_CASE("config: BackupPolicy defaults come from the spec, then settings, then built-ins", "[config]") {
  Settings settings = test_settings();
  auto r = check(kPolicy, settings);
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.ok());
  const BackupPolicySpec& s = r.documents.policies.at(0).spec;
  CHECK(s.method == BackupMethod::logical);
  CHECK(s.format == DumpFormat::directory);
  CHECK(s.compression == Compression{"gzip", -1});
  CHECK(s.jobs == 1);
  CHECK(s.globals);
  CHECK(s.verify_checksums);
  CHECK(s.schedule_every.count() == 0);
  CHECK_FALSE(s.keep_last.has_value());
  CHECK(s.cluster.empty());

  settings.defaults.jobs = 4;
  settings.defaults.compression = "zstd:3";
  r = check(kPolicy, settings);
  REQUIRE(r.ok());
  CHECK(r.documents.policies.at(0).spec.jobs == 4);
  CHECK(r.documents.policies.at(0).spec.compression == Compression{"zstd", 3});
  // tar cannot be compressed nor dumped in parallel: defaults step aside
  r = check(kPolicy + "  format: tar\n", settings);
  REQUIRE(r.ok());
  CHECK(r.documents.policies.at(0).spec.jobs == 1);
  CHECK(r.documents.policies.at(0).spec.compression.method == "none");
  // the document's own values win
  r = check(kPolicy + "  jobs: 2\n  compression: lz4:5\n  schedule: {every: 90m}\n  retention: {keep_last: 3}\n",
            settings);
  REQUIRE(r.ok());
  CHECK(r.documents.policies.at(0).spec.jobs == 2);
  CHECK(r.documents.policies.at(0).spec.compression == Compression{"lz4", 5});
  CHECK(r.documents.policies.at(0).spec.schedule_every == std::chrono::minutes(90));
  CHECK(r.documents.policies.at(0).spec.keep_last == 3);
  CHECK_FALSE(r.documents.policies.at(0).spec.keep_daily.has_value());
  // physical: the cluster defaults to the policy name
  r = check(replace(replace(kPolicy, "  database: shop\n", ""), "  repository: local", "  method: physical\n  repository: local"),
            settings);
  REQUIRE(r.ok());
  CHECK(r.documents.policies.at(0).spec.cluster == "shop-nightly");
  // the settings' zstd:3, compressed by [defaults] jobs threads
  CHECK(r.documents.policies.at(0).spec.compression == Compression{"zstd", 3});
  CHECK(r.documents.policies.at(0).spec.jobs == 4);
  // physical with zstd: jobs are the compression threads, [defaults] jobs when not given
  const std::string physical = replace(replace(kPolicy, "  database: shop\n", ""), "  repository: local",
                                       "  method: physical\n  repository: local");
  r = check(physical + "  compression: zstd:1\n  jobs: 2\n", settings);
  REQUIRE(r.ok());
  CHECK(r.documents.policies.at(0).spec.jobs == 2);
  CHECK(r.documents.policies.at(0).spec.compression == Compression{"zstd", 1});
  r = check(physical + "  compression: gzip\n", settings);
  REQUIRE(r.ok());
  CHECK(r.documents.policies.at(0).spec.jobs == 1);  // gzip compresses on one thread
}

TEST_CASE("config: BackupPolicy checks what the schema cannot", "[config]") {
  const Settings settings = test_settings();
  auto msg = only_problem(check(kPolicy + "  format: custom\n  jobs: 4\n", settings), 9);
  CHECK_THAT(msg, Catch::Contains("parallel jobs only with format directory"));
  msg = only_problem(check(kPolicy + "  format: tar\n  compression: gzip\n", settings), 9);
  CHECK_THAT(msg, Catch::Contains("cannot compress the tar format"));
  msg = only_problem(check(kPolicy + "  compression: gzip:12\n", settings), 8);
  CHECK_THAT(msg, Catch::Contains("spec.compression: compression level 12 is out of range for gzip (0 to 9)"));
  msg = only_problem(check(kPolicy + "  schedule: {every: 0h}\n", settings), 8);
  CHECK_THAT(msg, Catch::Contains("greater than zero"));
  msg = only_problem(check(kPolicy + "  schedule: {every: 24 hours}\n", settings), 8);
  CHECK_THAT(msg, Catch::Contains("is not a valid duration (examples: \"24h\", \"90m\", \"7d\")"));
  msg = only_problem(check(kPolicy + "  retention: {keep_last: 0, keep_daily: 0}\n", settings), 8);
  CHECK_THAT(msg, Catch::Contains("every backup would be deleted"));
  msg = only_problem(check(kPolicy + "  retention: {keep_last: -1}\n", settings), 8);
  CHECK_THAT(msg, Catch::Contains("out of range"));
  msg = only_problem(check(replace(kPolicy, "  database: shop\n", "  method: physical\n") + "  compression: gzip\n  jobs: 2\n",
                           settings), 9);
  CHECK_THAT(msg, Catch::Contains("spec.jobs: a physical backup compresses with several workers only with zstd"));
  msg = only_problem(check(kPolicy + "  method: physical\n", settings), 6);
  CHECK_THAT(msg, Catch::Contains("spec.database: not used by method physical"));
  msg = only_problem(check(replace(kPolicy, "  database: shop\n", ""), settings), 4);
  CHECK_THAT(msg, Catch::Contains("missing required field \"database\""));
  msg = only_problem(check(kPolicy + "  select: {tables: [\"a.b.c\"]}\n", settings), 8);
  CHECK_THAT(msg, Catch::Contains("more than one dot"));
  msg = only_problem(check(kPolicy + "  select:\n    schemas: [sales]\n    tables: [public.orders]\n", settings), 10);
  CHECK_THAT(msg, Catch::Contains("schemas and tables cannot be combined"));
  msg = only_problem(check(kPolicy + "  format: plain\n  compression: gzip\n", settings), 9);
  CHECK_THAT(msg, Catch::Contains("plain SQL backup is kept uncompressed"));
  CHECK(check(kPolicy + "  format: plain\n  compression: none\n", settings).ok());
}

TEST_CASE("config: cross-document checks: names, policies, connections, repositories", "[config]") {
  const Settings settings = test_settings();
  const std::string restore = R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {name: r1}
spec:
  from: {policy: shop-nightly}
  to: {connection: staging, database: shop_restored}
)";
  auto r = check(kPolicy + "---\n" + restore, settings);
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.ok());
  CHECK(r.documents.restores.at(0).spec.repository == "local");  // from the policy

  auto msg = only_problem(check(kPolicy + "---\n" + replace(restore, "policy: shop-nightly", "policy: shop-nigthly"),
                                settings), 13);
  CHECK(msg == "spec.from.policy: unknown BackupPolicy \"shop-nigthly\" (did you mean \"shop-nightly\"?) among the "
               "documents; to restore its backups without the document, give spec.from.repository too");
  // With the repository given, the policy's document is not needed (a retired policy).
  auto retired = check(replace(restore, "{policy: shop-nightly}", "{policy: retired, repository: local}"), settings);
  for (const auto& p : retired.problems) UNSCOPED_INFO(p.str());
  CHECK(retired.ok());
  msg = only_problem(check(replace(restore, "{policy: shop-nightly}", "{policy: retired, repository: nas}"), settings), 5);
  CHECK_THAT(msg, Catch::Contains("unknown repository \"nas\""));
  msg = only_problem(check(kPolicy + "---\n" + kPolicy, settings), 11);
  CHECK(msg == "duplicate BackupPolicy name \"shop-nightly\" (also at t.yaml:3)");
  msg = only_problem(check(kPolicy + "---\n" + replace(restore, "connection: staging", "connection: stagign"), settings),
                     14);
  CHECK(msg == "spec.to.connection: unknown connection \"stagign\" (did you mean \"staging\"?)");
  msg = only_problem(check(replace(kPolicy, "repository: local", "repository: s3"), settings), 7);
  CHECK(msg == "spec.repository: unknown repository \"s3\" (not in /etc/pgrecover.toml)");
  auto without = check(kPolicy, Settings{});
  REQUIRE(without.problems.size() == 2);
  CHECK(without.problems[0].where.line == 5);
  CHECK_THAT(without.problems[0].message, Catch::Contains("unknown connection \"prod\" (no settings file was found"));
  CHECK(without.problems[1].where.line == 7);
  CHECK_THAT(without.problems[1].message, Catch::Contains("unknown repository \"local\""));

  const std::string pitr = R"(apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {name: before-migration}
spec:
  from: {policy: shop-nightly}
  target: {time: "2024-05-01T13:00:00Z"}
  to: {data_directory: /srv/pg/r}
)";
  msg = only_problem(check(kPolicy + "---\n" + pitr, settings), 13);
  CHECK_THAT(msg, Catch::Contains("takes logical backups; point-in-time recovery needs method physical"));
  msg = only_problem(check(kPolicy + "---\n" + replace(pitr, "{time: \"2024-05-01T13:00:00Z\"}",
                                                       "{time: \"2024-05-01T13:00:00Z\", xid: 1234}"), settings), 14);
  CHECK_THAT(msg, Catch::Contains("spec.target takes only one of \"time\", \"xid\", \"name\", \"lsn\", \"immediate\" or \"latest\", not several"));
}

TEST_CASE("config: PointInTimeRecovery defaults and targets", "[config]") {
  const Settings settings = test_settings();
  const std::string docs = replace(replace(kPolicy, "  database: shop\n", ""), "  repository: local",
                                   "  method: physical\n  repository: local") +
                           R"(---
apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {name: before-migration}
spec:
  from: {policy: shop-nightly}
  target: {lsn: "16/B374D848"}
  timeline: 3
  to: {data_directory: /srv/pg/r}
)";
  auto r = check(docs, settings);
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.ok());
  const auto& s = r.documents.recoveries.at(0).spec;
  CHECK(s.target == RecoveryTarget{RecoveryTarget::Kind::lsn, "16/B374D848"});
  CHECK(s.timeline == "3");
  CHECK(s.inclusive);
  CHECK(s.action == RecoveryAction::pause);
  CHECK(s.timeout == std::chrono::hours(1));
  CHECK(s.port == 0);
  CHECK(s.repository == "local");
  CHECK(s.data_directory == "/srv/pg/r");
  auto bad = check(replace(docs, "timeline: 3", "timeline: newest"), settings);
  REQUIRE(bad.problems.size() == 1);
  CHECK_THAT(bad.problems[0].message, Catch::Contains("\"newest\" is not one of \"latest\" or \"current\""));

  // target latest: the end of the archive; inclusive does not apply
  auto latest = check(replace(docs, "target: {lsn: \"16/B374D848\"}", "target: {latest: true}"), settings);
  REQUIRE(latest.ok());
  CHECK(latest.documents.recoveries.at(0).spec.target == RecoveryTarget{RecoveryTarget::Kind::latest, ""});
  auto inclusive = check(replace(docs, "target: {lsn: \"16/B374D848\"}", "target: {latest: true}\n  inclusive: false"), settings);
  REQUIRE(inclusive.problems.size() == 1);
  CHECK_THAT(inclusive.problems[0].message, Catch::Contains("spec.inclusive: only applies to targets time, xid and lsn"));
  CHECK_FALSE(check(replace(docs, "target: {lsn: \"16/B374D848\"}", "target: {latest: false}"), settings).ok());
}

TEST_CASE("config: the fingerprint ignores layout and comments but not values", "[config]") {
  const Settings settings = test_settings();
  const std::string flow = R"(# a comment
apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {name: shop-nightly}
spec: {repository: local, database: shop, source: {connection: prod}}
)";
  auto a = check(kPolicy, settings);
  auto b = check(flow, settings);
  auto c = check(replace(kPolicy, "database: shop", "database: shop2"), settings);
  REQUIRE((a.ok() && b.ok() && c.ok()));
  CHECK(a.documents.fingerprint == b.documents.fingerprint);
  CHECK(a.documents.fingerprint != c.documents.fingerprint);
}

TEST_CASE("config: load_documents walks folders and throws every problem at once", "[config]") {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "sub" / ".hidden");
  write_file_atomic(dir.path() / "a.yaml", replace(kMinimalRestore, "jobs: 2", "jobs: four"));
  write_file_atomic(dir.path() / "sub" / "b.yml", replace(kMinimalRestore, "name: ok", "name: b"));
  write_file_atomic(dir.path() / "sub" / "c.yaml", replace(replace(kMinimalRestore, "name: ok", "name: c"), "  from:", "  form:"));
  write_file_atomic(dir.path() / "sub" / ".hidden" / "x.yaml", "not: [valid");
  write_file_atomic(dir.path() / "notes.txt", "not: [yaml");
  try {
    load_documents({dir.path()}, Settings{});
    FAIL("no error");
  } catch (const ValidationFailed& e) {
    CHECK(e.kind() == ErrorKind::input);
    REQUIRE(e.problems().size() == 2);
    CHECK(e.problems()[0].where.file == (dir.path() / "a.yaml").string());
    CHECK(e.problems()[0].where.line == 12);
    CHECK(e.problems()[1].where.file == (dir.path() / "sub" / "c.yaml").string());
    CHECK(std::string(e.what()).find(e.problems()[1].str()) != std::string::npos);
  }
  std::filesystem::remove(dir.path() / "a.yaml");
  std::filesystem::remove(dir.path() / "sub" / "c.yaml");
  auto set = load_documents({dir.path()}, Settings{});
  REQUIRE(set.restores.size() == 1);
  CHECK(set.restores[0].metadata.name == "b");
  CHECK(set.find_restore("b") != nullptr);
  CHECK_THROWS_AS(load_documents({dir.path() / "missing.yaml"}, Settings{}), ValidationFailed);
}

TEST_CASE("config: relative archive paths resolve against the document's folder", "[config]") {
  TempDir dir;
  write_file_atomic(dir.path() / "r.yaml", replace(kMinimalRestore, "/tmp/some-archive", "dumps/shop"));
  auto set = load_documents({dir.path() / "r.yaml"}, Settings{});
  CHECK(set.restores.at(0).spec.archive == (dir.path() / "dumps" / "shop").string());
}

TEST_CASE("config: sections, single_transaction and allow_dropping_dependents are read and checked", "[config]") {
  auto r = check(replace(kMinimalRestore, "  jobs: 2",
                         "  jobs: 2\n  existing: replace\n  allow_dropping_dependents: true\n  sections: [pre-data, post-data]\n"
                         "  single_transaction: true"));
  REQUIRE(r.ok());
  const auto& s = r.documents.restores.at(0).spec;
  CHECK(s.sections == std::vector<std::string>{"pre-data", "post-data"});
  CHECK(s.single_transaction);
  CHECK(s.allow_dropping_dependents);
  CHECK(check(kMinimalRestore).documents.restores.at(0).spec.sections ==
        std::vector<std::string>{"pre-data", "data", "post-data"});
  // a section pg_restore does not know, at its line
  auto msg = only_problem(check(replace(kMinimalRestore, "  jobs: 2", "  jobs: 2\n  sections: [pre-data, schema]")), 13);
  CHECK_THAT(msg, Catch::Contains("schema"));
  // allowing dependents to be dropped means nothing without existing: replace
  msg = only_problem(check(replace(kMinimalRestore, "  jobs: 2", "  jobs: 2\n  allow_dropping_dependents: true")), 13);
  CHECK_THAT(msg, Catch::Contains("only used with existing: replace"));
  msg = only_problem(check(replace(kMinimalRestore, "  jobs: 2", "  jobs: 2\n  single_transaction: yes please")), 13);
  CHECK_THAT(msg, Catch::Contains("single_transaction"));
}

TEST_CASE("config: Restore roles all, tablespaces, new database settings, sql_file and single_transaction", "[config]") {
  auto r = check(replace(kMinimalRestore, "  jobs: 2\n",
                         "  jobs: 2\n  roles: all\n  tablespaces: {map: {fast: pg_default, old: new}}\n"
                         "  single_transaction: true\n") +
                 "");
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.ok());
  const auto& s = r.documents.restores.at(0).spec;
  CHECK(s.roles == RolesPolicy::all);
  CHECK(s.tablespace_map == std::map<std::string, std::string>{{"fast", ""}, {"old", "new"}});
  CHECK_FALSE(s.tablespaces_default);
  CHECK(s.single_transaction);
  auto d = check(replace(kMinimalRestore, "  jobs: 2\n", "  tablespaces: default\n"));
  REQUIRE(d.ok());
  CHECK(d.documents.restores.at(0).spec.tablespaces_default);
  auto bad = check(replace(kMinimalRestore, "  jobs: 2\n", "  tablespaces: elsewhere\n"));
  CHECK(only_problem(bad, 12).find("tablespaces") != std::string::npos);
  auto enc = check(replace(kMinimalRestore, "    create: true\n", "    create: true\n    encoding: LATIN1\n    locale: C\n"));
  REQUIRE(enc.ok());
  CHECK(enc.documents.restores.at(0).spec.encoding == "LATIN1");
  CHECK(enc.documents.restores.at(0).spec.locale == "C");
  auto no_create = check(replace(kMinimalRestore, "    create: true\n", "    create: false\n    locale: C\n"));
  CHECK_THAT(only_problem(no_create, 12), Catch::Contains("only to a database the restore creates"));
  auto sql = check(replace(kMinimalRestore, "    archive: /tmp/some-archive\n", "    sql_file: /tmp/dump.sql.gz\n"));
  REQUIRE(sql.ok());
  CHECK(sql.documents.restores.at(0).spec.sql_file == "/tmp/dump.sql.gz");
  auto both = check(replace(kMinimalRestore, "    archive: /tmp/some-archive\n",
                            "    archive: /tmp/some-archive\n    sql_file: /tmp/dump.sql\n"));
  CHECK_FALSE(both.ok());
}

TEST_CASE("config: a recovered cluster's configuration and archiving", "[config]") {
  const Settings settings = test_settings();
  const std::string docs = replace(replace(kPolicy, "  database: shop\n", ""), "  repository: local",
                                   "  method: physical\n  repository: local") +
                           R"(---
apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {name: gone}
spec:
  from: {policy: shop-nightly}
  target: {latest: true}
  archive: resume
  to:
    data_directory: /srv/pg/r
    config: keep
    listen_addresses: "*"
    settings: {max_connections: 200, shared_buffers: 1GB, jit: false}
)";
  auto r = check(docs, settings);
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.ok());
  const auto& s = r.documents.recoveries.at(0).spec;
  CHECK(s.archive_resume);
  CHECK(s.keep_config);
  CHECK(s.listen_addresses_given);
  CHECK(s.listen_addresses == "*");
  CHECK(s.settings == std::map<std::string, std::string>{{"jit", "off"}, {"max_connections", "200"}, {"shared_buffers", "1GB"}});
  // pgrecover's own settings cannot be overridden there; unknown values are refused by the schema
  auto own = check(replace(docs, "jit: false", "archive_command: x"), settings);
  REQUIRE(own.problems.size() == 1);
  CHECK_THAT(own.problems[0].message, Catch::Contains("spec.to.settings: \"archive_command\" is set by pgrecover"));
  CHECK_FALSE(check(replace(docs, "archive: resume", "archive: always"), settings).ok());
  CHECK_FALSE(check(replace(docs, "config: keep", "config: source"), settings).ok());
  auto defaults = check(replace(replace(replace(docs, "  archive: resume\n", ""), "    config: keep\n", ""),
                                "    listen_addresses: \"*\"\n", ""), settings);
  REQUIRE(defaults.ok());
  CHECK_FALSE(defaults.documents.recoveries.at(0).spec.archive_resume);
  CHECK_FALSE(defaults.documents.recoveries.at(0).spec.keep_config);
  CHECK_FALSE(defaults.documents.recoveries.at(0).spec.listen_addresses_given);
}

TEST_CASE("config: spec.repositories lists a policy's copies, a restore falls back to the others", "[config][copies]") {
  Settings settings = test_settings();
  settings.repositories["offsite"] = RepositorySettings{"offsite", "/mnt/offsite"};
  const std::string copies = replace(kPolicy, "  repository: local\n", "  repositories: [local, offsite]\n");
  auto r = check(copies, settings);
  for (const auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.ok());
  const auto& s = r.documents.policies.at(0).spec;
  CHECK(s.repositories == std::vector<std::string>{"local", "offsite"});
  CHECK(s.repository == "local");  // the first: backups are taken into it
  // The single form keeps working and means one copy.
  auto single = check(kPolicy, settings);
  REQUIRE(single.ok());
  CHECK(single.documents.policies.at(0).spec.repositories == std::vector<std::string>{"local"});

  // Both forms: an error at repositories' line naming both fields.
  auto msg = only_problem(check(replace(kPolicy, "  repository: local\n", "  repository: local\n  repositories: [local, offsite]\n"),
                                settings), 8);
  CHECK_THAT(msg, Catch::Contains("spec.repositories: give either repository"));
  CHECK_THAT(msg, Catch::Contains("not both"));
  // Neither: the missing field is named.
  msg = only_problem(check(replace(kPolicy, "  repository: local\n", ""), settings), 4);
  CHECK_THAT(msg, Catch::Contains("missing required field \"repository\" (or \"repositories\""));
  // An unknown name: the item's own line, the settings file named.
  msg = only_problem(check(replace(kPolicy, "  repository: local\n", "  repositories:\n    - local\n    - ofsite\n"), settings), 9);
  CHECK(msg == "spec.repositories.1: unknown repository \"ofsite\" (did you mean \"offsite\"?)");
  // Twice the same repository is one copy, not two.
  msg = only_problem(check(replace(kPolicy, "  repository: local\n", "  repositories: [local, local]\n"), settings), 7);
  CHECK_THAT(msg, Catch::Contains("repository \"local\" is listed twice"));

  // A Restore and a PITR of the policy read from the first copy, falling back to the others.
  const std::string restore = R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {name: r1}
spec:
  from: {policy: shop-nightly}
  to: {connection: staging, database: shop_restored}
)";
  auto rr = check(copies + "---\n" + restore, settings);
  REQUIRE(rr.ok());
  CHECK(rr.documents.restores.at(0).spec.repository == "local");
  CHECK(rr.documents.restores.at(0).spec.fallback_repositories == std::vector<std::string>{"offsite"});
  auto named = check(copies + "---\n" + replace(restore, "{policy: shop-nightly}", "{policy: shop-nightly, repository: offsite}"),
                     settings);
  REQUIRE(named.ok());
  CHECK(named.documents.restores.at(0).spec.repository == "offsite");
  CHECK(named.documents.restores.at(0).spec.fallback_repositories == std::vector<std::string>{"local"});
}
