#include "executor/sql_script_runner.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "archive/plain_script.hpp"
#include "executor/restore_runner.hpp"
#include "pg/check.hpp"
#include "pg/pg.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace pgr::executor {

namespace {

// Feeds the script to psql line by line. pg_dumpall writes "CREATE ROLE x;" before its ALTER
// ROLE for every role, even the one it ran as, expecting that CREATE to fail where the role
// exists; under ON_ERROR_STOP that would stop the script, so those lines are left out for
// roles the target already has (the ALTER ROLE that follows still sets every attribute).
class ScriptFeeder {
 public:
  ScriptFeeder(std::set<std::string> existing_roles, int fd) : roles_(std::move(existing_roles)), fd_(fd) {}

  // False when psql stopped reading (it exited: its status says why).
  bool feed(const char* data, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      line_ += data[i];
      if (data[i] == '\n') {
        if (!flush_line()) return false;
      } else if (line_.size() >= (1 << 16) && in_copy_) {
        if (!send_all(line_)) return false;  // long COPY rows go through as they come
        line_.clear();
        partial_ = true;
      }
    }
    return true;
  }
  bool finish() { return line_.empty() || flush_line(); }

 private:
  bool flush_line() {
    std::string_view l(line_);
    bool whole = !partial_;
    partial_ = false;
    std::string_view body = l.substr(0, l.size() - (l.size() && l.back() == '\n' ? 1 : 0));
    if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
    if (in_copy_) {
      if (whole && body == "\\.") in_copy_ = false;
    } else if (body.rfind("COPY ", 0) == 0 && body.size() > 12 && body.substr(body.size() - 12) == " FROM stdin;") {
      in_copy_ = true;
    } else if (body.rfind("CREATE ROLE ", 0) == 0 && body.back() == ';') {
      std::string text(body.substr(12, body.size() - 13));
      size_t pos = 0;
      auto id = pg::parse_identifier(text, pos);
      if (id && pos == text.size() && roles_.count(*id)) {
        line_ = fmt::format("-- pgrecover: role {} exists on the target; its ALTER ROLE follows\n", pg::quote_ident(*id));
      }
    }
    bool ok = send_all(line_);
    line_.clear();
    return ok;
  }

  bool send_all(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;  // EPIPE / ECONNRESET: psql is gone
      }
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  std::set<std::string> roles_;
  int fd_;
  std::string line_;
  bool in_copy_ = false, partial_ = false;
};

class SqlWorker : public Worker {
 public:
  SqlWorker(const model::Plan& plan, const SqlScriptConfig& cfg) : plan_(plan), cfg_(cfg) {}

  StepOutcome run(const model::Step& step, StepContext& ctx) override {
    cancel_ = false;
    try {
      if (step.kind == "role") return create_role(step);
      if (step.kind == "database") return admin_sql(step.params.at("sql"), true);
      if (step.kind == "sql-script") return run_script(step, ctx);
      if (step.kind == "analyze-database") return target_sql("ANALYZE");
      if (step.kind == "verify") return verify(step);
      fail(ErrorKind::internal, fmt::format("step {}: unknown kind {} in a SQL script restore", step.id, step.kind));
    } catch (const pg::DbError& e) {
      drop_broken();
      throw pg::DbError(fmt::format("{} {} failed: {}", step.kind, step.object, e.what()), e.hint(), e.sqlstate(),
                        e.primary(), e.detail(), e.context());
    }
  }

  void cancel() override {
    cancel_ = true;
    std::lock_guard lock(mu_);
    if (active_) active_->cancel();
  }

 private:
  pg::Connection& admin() {
    if (!admin_) admin_ = pg::Connection::open(cfg_.admin_conninfo, cfg_.application_name);
    return admin_;
  }
  pg::Connection& target() {
    if (!target_) target_ = pg::Connection::open(cfg_.target_conninfo, cfg_.application_name);
    return target_;
  }
  void drop_broken() {
    for (pg::Connection* c : {&admin_, &target_})
      if (*c && (PQstatus(c->raw()) != CONNECTION_OK || c->in_transaction())) *c = pg::Connection();
  }
  void exec(pg::Connection& c, const std::string& sql) {
    {
      std::lock_guard lock(mu_);
      active_ = &c;
      if (cancel_) c.cancel();
    }
    try {
      c.exec(sql);
    } catch (...) {
      std::lock_guard lock(mu_);
      active_ = nullptr;
      throw;
    }
    std::lock_guard lock(mu_);
    active_ = nullptr;
  }

  StepOutcome admin_sql(const std::string& sql, bool may_exist) {
    try {
      exec(admin(), sql);
    } catch (const pg::DbError& e) {
      if (!may_exist || !is_duplicate_object(e.sqlstate())) throw;
      return {0, 0, "already present"};
    }
    return {};
  }
  StepOutcome target_sql(const std::string& sql) {
    exec(target(), sql);
    return {};
  }

  StepOutcome create_role(const model::Step& step) {
    StepOutcome out = admin_sql(step.params.at("sql"), true);
    if (step.params.count("password")) {
      auto it = cfg_.role_passwords.find(step.object);
      if (it == cfg_.role_passwords.end()) {
        fail(ErrorKind::input, fmt::format("role {}: the backup's globals no longer hold its password", step.object), "plan again");
      }
      exec(admin(), fmt::format("ALTER ROLE {} PASSWORD {}", pg::quote_ident(step.object), pg::quote_literal(it->second)));
    }
    return out;
  }

  // What an earlier, failed attempt of this plan's script left is removed, so it starts over.
  void start_over(const model::Step& step) {
    if (auto it = step.params.find("drop_databases"); it != step.params.end()) {
      for (const auto& d : nlohmann::json::parse(it->second)) {
        log::info("dropping database {} left by the earlier attempt of this script", d.get<std::string>());
        exec(admin(), fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg::quote_ident(d.get<std::string>())));
      }
    }
    if (auto it = step.params.find("recreate_sql"); it != step.params.end()) {
      log::info("re-creating database {}: the earlier attempt of this script left it half restored", step.object);
      target_ = pg::Connection();
      exec(admin(), fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg::quote_ident(step.object)));
      exec(admin(), it->second);
    }
  }

  StepOutcome run_script(const model::Step& step, StepContext& ctx) {
    const std::string file = step.params.at("file");
    if (cfg_.script_ran_before || step.params.count("start_over")) start_over(step);
    std::set<std::string> roles;
    auto r = admin().exec("SELECT rolname FROM pg_catalog.pg_roles");
    for (int i = 0; i < r.rows(); ++i) roles.insert(r.str(i, 0));
    auto reader = archive::open_plain_script(file);

    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      fail(ErrorKind::io, fmt::format("could not create a socket pair: {}", std::strerror(errno)));
    }
    std::atomic<bool> stop{false};
    std::exception_ptr feed_error;
    std::atomic<bool> psql_gone{false};
    std::thread writer([&, out = fds[0]] {
      try {
        ScriptFeeder feeder(roles, out);
        std::vector<char> buf(1 << 20);
        for (;;) {
          if (cancel_) break;
          std::size_t n = reader->read(buf.data(), buf.size());
          if (ctx.progress) ctx.progress->bytes = static_cast<std::int64_t>(reader->file_bytes_read());
          if (n == 0) {
            if (!feeder.finish()) psql_gone = true;
            break;
          }
          if (!feeder.feed(buf.data(), n)) {
            psql_gone = true;
            break;
          }
        }
      } catch (...) {
        feed_error = std::current_exception();
        stop = true;  // psql must not see a clean end of input: it would commit what it has
      }
      if (cancel_) stop = true;
      ::shutdown(out, SHUT_WR);
      ::close(out);
    });

    auto split = pg::split_password(cfg_.target_conninfo);
    ProcessSpec spec;
    spec.argv = {cfg_.psql.string(), "-X", "-q", "-v", "ON_ERROR_STOP=1"};
    if (step.params.count("single_transaction") && step.params.at("single_transaction") == "true") {
      spec.argv.push_back("--single-transaction");
    }
    spec.argv.insert(spec.argv.end(), {"-d", split.conninfo, "-f", "-"});
    if (!split.password.empty()) spec.env.push_back("PGPASSWORD=" + split.password);
    spec.env.push_back("PGAPPNAME=" + cfg_.application_name);
    spec.unset_env = {"PGOPTIONS", "PGSERVICE"};
    spec.stdin_fd = fds[1];
    spec.stdout_file = "/dev/null";
    spec.new_process_group = true;
    // Cancelled by the apply (a signal) or by a file that cannot be read to its end.
    std::atomic<bool> cancel_psql{false};
    std::thread watcher([&] {
      while (!psql_done_) {
        if (cancel_ || stop) cancel_psql = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
    spec.cancel = &cancel_psql;
    psql_done_ = false;
    ProcessResult res;
    try {
      res = run_process(spec);
    } catch (...) {
      psql_done_ = true;
      watcher.join();
      ::shutdown(fds[0], SHUT_RDWR);
      writer.join();
      throw;
    }
    psql_done_ = true;
    watcher.join();
    writer.join();
    if (feed_error) std::rethrow_exception(feed_error);
    if (cancel_) fail(ErrorKind::cancelled, "cancelled while psql ran the script");
    if (!res.ok()) {
      fail(ErrorKind::database, describe_failure(fmt::format("psql running \"{}\"", file), res),
           step.params.count("single_transaction") && step.params.at("single_transaction") == "true"
               ? "the script's transaction was rolled back; fix the cause and apply again"
               : "fix the cause and apply again: the script starts over (a database this restore created is "
                 "created anew)");
    }
    (void)psql_gone;
    return {0, static_cast<std::int64_t>(reader->file_bytes_read()), "the script ran to its end"};
  }

  StepOutcome verify(const model::Step& step) {
    auto& c = target();
    std::vector<std::string> failures;
    int checked = 0, sql_checks = 0;
    for (const auto& t : nlohmann::json::parse(step.params.at("tables"))) {
      std::string table = t.at("table");
      std::int64_t want = t.at("expected").get<std::int64_t>();
      std::int64_t have = c.exec(fmt::format("SELECT count(*) FROM ONLY {}", table)).int64(0, 0);
      ++checked;
      if (have != want) failures.push_back(fmt::format("{} has {} rows, expected {}", table, have, want));
    }
    for (const auto& q : nlohmann::json::parse(step.params.at("sql"))) {
      ++sql_checks;
      auto verdict = pg::run_check(c, q.get<std::string>());
      if (!verdict.passed) failures.push_back(fmt::format("check \"{}\" {}", q.get<std::string>(), verdict.problem));
    }
    if (!failures.empty()) {
      std::string list;
      for (auto& f : failures) list += "\n  - " + f;
      fail(ErrorKind::database, fmt::format("verification failed:{}", list),
           "the restored data does not match the backup; look at the tables named above");
    }
    return {0, 0, fmt::format("{} row counts and {} SQL checks passed", checked, sql_checks)};
  }

  const model::Plan& plan_;
  const SqlScriptConfig& cfg_;
  pg::Connection admin_, target_;
  std::mutex mu_;
  pg::Connection* active_ = nullptr;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> psql_done_{false};
};

class SqlRunner : public StepRunner {
 public:
  SqlRunner(const model::Plan& plan, SqlScriptConfig cfg) : plan_(plan), cfg_(std::move(cfg)) {}
  std::unique_ptr<Worker> make_worker(int) override { return std::make_unique<SqlWorker>(plan_, cfg_); }

 private:
  const model::Plan& plan_;
  SqlScriptConfig cfg_;
};

}  // namespace

std::unique_ptr<StepRunner> make_sql_script_runner(const model::Plan& plan, SqlScriptConfig config) {
  return std::make_unique<SqlRunner>(plan, std::move(config));
}

}  // namespace pgr::executor
