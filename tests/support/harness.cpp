#include "support/harness.hpp"

#include <unistd.h>

#include <atomic>
#include <mutex>
#include <sstream>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::test {

instance::Instance& server() {
  static std::once_flag once;
  static std::unique_ptr<instance::Instance> inst;
  std::call_once(once, [] {
    instance::Options o;
    o.durable = false;
    o.settings = {{"max_connections", "40"}, {"shared_buffers", "'128MB'"}};
    inst = std::make_unique<instance::Instance>(o);
  });
  return *inst;
}

std::string fresh_database(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::string name = fmt::format("{}_{}_{}", prefix, ::getpid(), counter++);
  auto c = pg::Connection::open(server().conninfo("postgres"));
  c.exec("CREATE DATABASE " + pg::quote_ident(name));
  return name;
}

ProcessResult run_pgrecover(std::vector<std::string> args, std::vector<std::string> env) {
  ProcessSpec spec;
  spec.argv.push_back(PGRECOVER_BINARY);
  for (auto& a : args) spec.argv.push_back(std::move(a));
  spec.env = std::move(env);
  return run_process(spec);
}

std::string psql(const std::string& db, const std::string& sql) {
  ProcessResult r = server().run_client({"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql});
  if (!r.ok()) fail(ErrorKind::database, describe_failure("psql", r));
  return r.out;
}

std::string test_data(const std::string& relative) { return std::string(PGRECOVER_TEST_DATA) + "/" + relative; }

void must(const ProcessResult& r, const std::string& what) {
  if (!r.ok()) FAIL(describe_failure(what, r) + "\nstdout:\n" + r.out);
}

std::string without_comments(const std::string& sql) {
  std::string out, line;
  std::istringstream in(sql);
  while (std::getline(in, line))
    if (line.rfind("--", 0) != 0 && !line.empty() && line.rfind("\\restrict", 0) != 0 &&
        line.rfind("\\unrestrict", 0) != 0)
      out += line + "\n";
  return out;
}

std::string schema_of(const instance::Instance& inst, const std::string& db) {
  auto r = inst.run_client({"pg_dump", "-s", "-d", db});
  must(r, "pg_dump -s " + db);
  return without_comments(r.out);
}

std::string schema_of(const std::string& db) { return schema_of(server(), db); }

std::string server_conninfo(const std::string& db) {
  return fmt::format("host={} port={} user=postgres dbname={}", server().socket_dir().string(), server().port(), db);
}

std::string restore_yaml(const std::string& archive, const std::string& db, const std::string& extra) {
  std::string name = db;
  for (char& c : name) {
    if (c == '_') c = '-';
  }
  return fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: {}}}
spec:
  from: {{archive: "{}"}}
  to: {{conninfo: "{}", database: {}, create: true}}
  jobs: 2
{})",
                     name, archive, instance_conninfo(server()), db, extra);
}

std::string instance_conninfo(const instance::Instance& inst) {
  return fmt::format("host={} port={} user=postgres dbname=postgres", inst.socket_dir().string(), inst.port());
}

std::string data_of(const instance::Instance& inst, const std::string& db) {
  auto r = inst.run_client({"psql", "-X", "-At", "-d", db, "-c",
                            "SELECT string_agg(t, E'\\n' ORDER BY t) FROM (SELECT c.oid::regclass::text || ' ' || "
                            "(xpath('//row/c/text()', query_to_xml(format('SELECT count(*) || '':'' || "
                            "coalesce(md5(string_agg(x::text, '','' ORDER BY x::text)), '''') AS c FROM ONLY %s x', "
                            "c.oid::regclass), false, false, '')))[1]::text AS t FROM pg_class c JOIN pg_namespace n "
                            "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN "
                            "('pg_catalog', 'information_schema')) s"});
  must(r, "data of " + db);
  REQUIRE(r.out.size() > 2);
  return r.out;
}

std::optional<UserIdentity> server_user() {
  if (!running_as_root()) return std::nullopt;
  return lookup_user("postgres");
}

void give_to_server_user(const std::filesystem::path& p) {
  if (auto u = server_user()) REQUIRE(::chown(p.c_str(), u->uid, u->gid) == 0);
}

Workspace::Workspace(const std::string& prefix, const std::string& extra_settings) : base(prefix + "-") {
  namespace fs = std::filesystem;
  fs::permissions(base.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  repo = base.path() / "repo";
  fs::create_directory(repo);
  fs::permissions(repo, fs::perms::owner_all, fs::perm_options::replace);
  give_to_server_user(repo);
  config = base.path() / "pgrecover.toml";
  write_file_atomic(config,
                    fmt::format("state_dir = \"{}\"\n[repositories.local]\npath = \"{}\"\n{}",
                                (base.path() / "state").string(), repo.string(), extra_settings),
                    0644);
  give_to_server_user(config);
}

std::filesystem::path Workspace::write(const std::string& name, const std::string& text) const {
  auto p = base.path() / name;
  write_file_atomic(p, text);
  return p;
}

std::filesystem::path Workspace::folder(const std::string& name) const {
  namespace fs = std::filesystem;
  auto p = base.path() / name;
  fs::create_directories(p);
  fs::permissions(p, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::replace);
  return p;
}

ProcessResult Workspace::pgrecover(std::vector<std::string> args, std::vector<std::string> env) const {
  args.insert(args.begin(), {"--config", config.string()});
  return run_pgrecover(std::move(args), std::move(env));
}

}  // namespace pgr::test
