#include "support/harness.hpp"

#include <atomic>
#include <mutex>

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

}  // namespace pgr::test
