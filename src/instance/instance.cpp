#include "instance/instance.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pgr::instance {
namespace {

bool has_server_binaries(const fs::path& dir) {
  return ::access((dir / "initdb").c_str(), X_OK) == 0 && ::access((dir / "pg_ctl").c_str(), X_OK) == 0 &&
         ::access((dir / "postgres").c_str(), X_OK) == 0;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

namespace {

bool is_executable(const fs::path& p) { return ::access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p); }

// Where PostgreSQL programs are looked for when nothing is configured, in order, with where each
// folder came from: $PGRECOVER_PG_BINDIR, pg_config --bindir, /usr/lib/postgresql/N/bin (newest N first).
std::vector<std::pair<fs::path, std::string>> candidate_dirs() {
  std::vector<std::pair<fs::path, std::string>> out;
  if (const char* env = std::getenv("PGRECOVER_PG_BINDIR"); env && *env) out.emplace_back(env, "$PGRECOVER_PG_BINDIR");
  fs::path pg_config = find_on_path("pg_config");
  if (!pg_config.empty()) {
    ProcessSpec spec;
    spec.argv = {pg_config.string(), "--bindir"};
    ProcessResult r = run_process(spec);
    if (r.ok()) out.emplace_back(trim(r.out), "pg_config --bindir");
  }
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    int v = std::atoi(e.path().filename().c_str());
    if (v > 0) found.emplace_back(v, e.path() / "bin");
  }
  std::sort(found.rbegin(), found.rend());
  for (auto& [v, dir] : found) out.emplace_back(dir, "installed");
  return out;
}

std::string looked_in(const std::vector<std::pair<fs::path, std::string>>& dirs) {
  std::string where;
  for (const auto& [dir, source] : dirs) where += fmt::format("\n  {} ({})", dir.string(), source);
  return where.empty() ? " (no pg_config on PATH, nothing under /usr/lib/postgresql)" : where;
}

}  // namespace

namespace {

// The folder found when nothing is configured, once per process and $PGRECOVER_PG_BINDIR value:
// every pg_dump, pg_restore or psql pgrecover runs looks it up, and Debian's pg_config is a
// wrapper script that costs a process tree each time (0.1-0.4 s measured on a busy machine, run
// three times by a live clone's apply).
std::mutex found_mu;
std::map<std::string, fs::path> found_dirs;

fs::path search_bin_dir();

}  // namespace

fs::path find_bin_dir(const fs::path& override_dir) {
  if (!override_dir.empty()) {
    if (has_server_binaries(override_dir)) return override_dir;
    fail(ErrorKind::instance,
         fmt::format("no PostgreSQL server binaries (initdb, pg_ctl, postgres) in \"{}\"", override_dir.string()),
         "fix [instance] bin_dir in pgrecover.toml, or install postgresql-15");
  }
  const char* env_now = std::getenv("PGRECOVER_PG_BINDIR");
  const std::string key = env_now ? env_now : std::string("\x01unset");
  {
    std::lock_guard lock(found_mu);
    if (auto it = found_dirs.find(key); it != found_dirs.end() && has_server_binaries(it->second)) return it->second;
  }
  fs::path dir = search_bin_dir();
  std::lock_guard lock(found_mu);
  found_dirs[key] = dir;
  return dir;
}

namespace {

fs::path search_bin_dir() {
  auto dirs = candidate_dirs();
  if (const char* env = std::getenv("PGRECOVER_PG_BINDIR"); env && *env && !has_server_binaries(env)) {
    fail(ErrorKind::instance,
         fmt::format("no PostgreSQL server binaries (initdb, pg_ctl, postgres) in \"{}\" ($PGRECOVER_PG_BINDIR)", env),
         "point PGRECOVER_PG_BINDIR at a folder holding initdb, or unset it");
  }
  for (const auto& [dir, source] : dirs)
    if (has_server_binaries(dir)) return dir;
  fail(ErrorKind::instance, "PostgreSQL server binaries not found; looked in:" + looked_in(dirs),
       "install them (apt-get install postgresql-15), or set [instance] bin_dir in pgrecover.toml "
       "or $PGRECOVER_PG_BINDIR");
}

}  // namespace

fs::path tool_path(const std::string& name, const fs::path& bin_dir) {
  if (!bin_dir.empty()) {
    if (is_executable(bin_dir / name)) return bin_dir / name;
    fail(ErrorKind::instance, fmt::format("{} is not in [instance] bin_dir \"{}\"", name, bin_dir.string()),
         "install that version's client programs there, or fix bin_dir in pgrecover.toml");
  }
  // The folder the embedded instance uses, so that every program pgrecover runs is of one major
  // version: a pg_dump of another version found on PATH could write what this pg_restore cannot read.
  std::optional<fs::path> server_dir;
  try {
    server_dir = find_bin_dir();
  } catch (const Error&) {
  }
  if (server_dir) {
    if (is_executable(*server_dir / name)) return *server_dir / name;
    int major = server_major_version(*server_dir);
    fail(ErrorKind::instance,
         fmt::format("{} is not in {}, the PostgreSQL {} programs pgrecover uses", name, server_dir->string(), major),
         fmt::format("install postgresql-client-{} (pgrecover does not take a {} of another version from PATH), or set "
                     "[instance] bin_dir in pgrecover.toml",
                     major, name));
  }
  auto dirs = candidate_dirs();
  for (const auto& [dir, source] : dirs)
    if (is_executable(dir / name)) return dir / name;
  fail(ErrorKind::instance, fmt::format("{} was not found; looked in:{}", name, looked_in(dirs)),
       "install postgresql-client-15 (or newer), or set [instance] bin_dir in pgrecover.toml");
}

bool read_postmaster_pid(const fs::path& data_directory, PostmasterInfo& out) {
  std::ifstream in(data_directory / "postmaster.pid");
  if (!in) return false;
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  if (lines.size() < 5) return false;
  try {
    out.pid = std::stol(lines[0]);
    out.port = std::stoi(lines[3]);
  } catch (const std::exception&) {
    return false;
  }
  out.socket_dir = lines[4].substr(0, lines[4].find(','));
  return true;
}

int server_major_version(const fs::path& bin_dir) {
  ProcessSpec spec;
  spec.argv = {(bin_dir / "postgres").string(), "--version"};
  ProcessResult r = run_process(spec);
  std::smatch m;
  std::string out = r.out;
  if (!r.ok() || !std::regex_search(out, m, std::regex(R"((\d+)(\.\d+)?)"))) {
    fail(ErrorKind::instance, describe_failure(fmt::format("\"{} --version\"", spec.argv[0]), r));
  }
  return std::stoi(m[1]);
}

bool port_in_use(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool in_use = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0;
  ::close(fd);
  return in_use;
}

int pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(ErrorKind::instance, fmt::format("could not create a socket: {}", errno_text(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    fail(ErrorKind::instance, fmt::format("could not find a free port: {}", errno_text(err)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

Instance::Instance(Options options) : opts_(std::move(options)) {
  bin_dir_ = find_bin_dir(opts_.bin_dir);
  if (running_as_root()) user_ = lookup_user(opts_.run_as.empty() ? "postgres" : opts_.run_as);
  try {
    if (opts_.existing_data_dir.empty()) {
      TempDir tmp("pgrecover-instance-", opts_.base_dir);
      folder_ = tmp.path();
      tmp.keep();  // ownership moves to this object; cleanup() removes it
      own_folder_ = true;
      data_dir_ = folder_ / "data";
      socket_dir_ = folder_;
    } else {
      data_dir_ = opts_.existing_data_dir;
      if (opts_.socket_dir.empty()) {
        TempDir tmp("pgrecover-socket-", opts_.base_dir);
        folder_ = tmp.path();
        tmp.keep();
        own_folder_ = true;
        socket_dir_ = folder_;
      } else {
        socket_dir_ = opts_.socket_dir;
      }
    }
    log_file_ = (own_folder_ ? folder_ : data_dir_.parent_path()) / "postgresql.log";
    if (user_ && own_folder_) {
      if (::chown(folder_.c_str(), user_->uid, user_->gid) != 0) {
        fail(ErrorKind::instance, fmt::format("could not give \"{}\" to user {}: {}", folder_.string(),
                                              user_->name, errno_text(errno)));
      }
      check_reachable(folder_);
    }
    if (own_folder_) write_file_atomic(folder_ / kMarkerFile, "pgrecover ephemeral instance\n", 0644);
    if (opts_.port != 0) {
      port_ = opts_.port;
      if (opts_.listen_tcp && port_in_use(port_)) {
        fail(ErrorKind::instance, fmt::format("port {} is already in use on 127.0.0.1", port_),
             "choose another port, or stop whatever listens there");
      }
    } else {
      port_ = pick_free_port();
    }
    if (opts_.existing_data_dir.empty()) initdb();
    write_settings();
    start();
  } catch (...) {
    cleanup();
    throw;
  }
}

Instance::~Instance() { cleanup(); }

void Instance::cleanup() noexcept {
  if (opts_.keep) return;
  try {
    if (running_) stop(true);
  } catch (const std::exception& e) {
    log::warn("could not stop the PostgreSQL instance in {}: {}", data_dir_.string(), e.what());
    // last resort: the postmaster's pid is the first line of postmaster.pid
    std::ifstream pidf(data_dir_ / "postmaster.pid");
    long pid = 0;
    if (pidf >> pid && pid > 1) ::kill(static_cast<pid_t>(pid), SIGQUIT);
    running_ = false;
  }
  if (own_folder_ && !folder_.empty()) {
    std::error_code ec;
    fs::remove_all(folder_, ec);
    if (ec) log::warn("could not remove \"{}\": {}", folder_.string(), ec.message());
  }
}

void Instance::check_reachable(const fs::path& dir) const {
  // Every folder above dir must let the server's user through, or initdb fails obscurely.
  for (fs::path p = dir.parent_path(); !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      bool ok = (st.st_mode & S_IXOTH) || (st.st_uid == user_->uid && (st.st_mode & S_IXUSR)) ||
                (st.st_gid == user_->gid && (st.st_mode & S_IXGRP));
      if (!ok) {
        fail(ErrorKind::instance,
             fmt::format("user \"{}\" cannot reach \"{}\" (no search permission on \"{}\")", user_->name,
                         dir.string(), p.string()),
             "set TMPDIR (or [instance] base_dir) to a folder that user can reach, such as /tmp");
      }
    }
    if (p == p.root_path()) break;
  }
}

ProcessResult Instance::run_server_tool(std::vector<std::string> argv) const {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.run_as = user_;
  spec.cwd = own_folder_ ? folder_ : data_dir_;
  spec.unset_env = {"PGDATA", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS"};
  return run_process(spec);
}

std::vector<std::string> Instance::client_env() const {
  return {"PGHOST=" + socket_dir_.string(), "PGPORT=" + std::to_string(port_), "PGUSER=" + opts_.superuser,
          "PGDATABASE=postgres"};
}

ProcessResult Instance::run_client(std::vector<std::string> argv, std::vector<std::string> env) const {
  ProcessSpec spec;
  if (!argv.empty() && argv[0].find('/') == std::string::npos) argv[0] = tool(argv[0]).string();
  spec.argv = std::move(argv);
  spec.env = client_env();
  spec.unset_env = {"PGSERVICE", "PGOPTIONS", "PGPASSWORD"};
  for (auto& e : env) spec.env.push_back(std::move(e));
  return run_process(spec);
}

void Instance::initdb() {
  std::vector<std::string> argv = {tool("initdb").string(), "-D", data_dir_.string(), "-U", opts_.superuser,
                                   "--auth=trust", "-E", "UTF8", "--locale=C"};
  if (!opts_.durable) argv.push_back("--no-sync");
  log::debug("initdb into {}", data_dir_.string());
  ProcessResult r = run_server_tool(argv);
  if (!r.ok()) fail(ErrorKind::instance, describe_failure("initdb", r), "the output above says why");
}

void Instance::write_settings() {
  std::string conf = "\n# written by pgrecover for an ephemeral instance\n";
  if (!(opts_.keep_configuration && !opts_.existing_data_dir.empty())) {
    conf += fmt::format("port = {}\n", port_);
    conf += opts_.listen_tcp ? "listen_addresses = '127.0.0.1'\n" : "listen_addresses = ''\n";
    conf += fmt::format("unix_socket_directories = '{}'\n", socket_dir_.string());
  }
  if (!opts_.durable) {
    conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
  }
  for (auto& [k, v] : opts_.settings) conf += fmt::format("{} = {}\n", k, v);
  fs::path file = data_dir_ / (opts_.existing_data_dir.empty() ? "postgresql.conf" : "postgresql.auto.conf");
  std::ofstream out(file, std::ios::app);
  out << conf;
  out.close();
  if (!out) fail(ErrorKind::instance, fmt::format("could not write \"{}\"", file.string()));
}

void Instance::start() {
  if (running_) return;
  std::vector<std::string> argv = {tool("pg_ctl").string(), "-D", data_dir_.string(), "-l", log_file_.string(),
                                   "-w", "-t", std::to_string(opts_.start_timeout_seconds), "start"};
  std::string once;
  for (const auto& [k, v] : opts_.start_settings) once += fmt::format("{}-c {}={}", once.empty() ? "" : " ", k, v);
  if (!once.empty()) argv.insert(argv.end() - 1, {"-o", once});
  ProcessResult r = run_server_tool(argv);
  if (!r.ok()) {
    std::string tail = log_tail();
    fail(ErrorKind::instance,
         describe_failure("pg_ctl start", r) + (tail.empty() ? "" : "\nserver log:\n" + tail),
         "the server log above says why (a port or socket in use, bad settings, no space)");
  }
  running_ = true;
  if (opts_.keep_configuration && !opts_.existing_data_dir.empty()) {
    PostmasterInfo pm;
    if (read_postmaster_pid(data_dir_, pm)) {
      port_ = pm.port;
      if (!pm.socket_dir.empty()) socket_dir_ = pm.socket_dir;
    }
  }
  log::debug("PostgreSQL started: {} port {}", socket_dir_.string(), port_);
}

void Instance::stop(bool fast) {
  if (!running_) return;
  ProcessResult r = run_server_tool(
      {tool("pg_ctl").string(), "-D", data_dir_.string(), "-m", fast ? "fast" : "smart", "-w", "-t", "60", "stop"});
  if (!r.ok()) {
    r = run_server_tool({tool("pg_ctl").string(), "-D", data_dir_.string(), "-m", "immediate", "-w", "stop"});
    if (!r.ok()) fail(ErrorKind::instance, describe_failure("pg_ctl stop", r));
  }
  running_ = false;
}

std::string Instance::conninfo(const std::string& dbname) const {
  return fmt::format("host='{}' port={} user='{}' dbname='{}'", socket_dir_.string(), port_, opts_.superuser, dbname);
}

std::string Instance::log_tail(int lines) const {
  std::ifstream in(log_file_);
  if (!in) return {};
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) all.push_back(line);
  std::string out;
  size_t from = all.size() > static_cast<size_t>(lines) ? all.size() - static_cast<size_t>(lines) : 0;
  for (size_t i = from; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

void destroy_folder(const fs::path& folder, const fs::path& bin_dir) {
  if (!fs::exists(folder / kMarkerFile)) {
    fail(ErrorKind::instance,
         fmt::format("\"{}\" is not a pgrecover instance folder (no {} file in it)", folder.string(), kMarkerFile),
         "give the folder printed by \"pgrecover instance start\"");
  }
  fs::path bin = find_bin_dir(bin_dir);
  fs::path data = folder / "data";
  if (fs::exists(data / "postmaster.pid")) {
    struct stat st {};
    std::optional<UserIdentity> user;
    if (running_as_root() && ::stat(data.c_str(), &st) == 0 && st.st_uid != 0) {
      struct passwd* pw = ::getpwuid(st.st_uid);
      if (pw) user = lookup_user(pw->pw_name);
    }
    ProcessSpec spec;
    spec.argv = {(bin / "pg_ctl").string(), "-D", data.string(), "-m", "fast", "-w", "-t", "60", "stop"};
    spec.run_as = user;
    spec.cwd = folder;
    ProcessResult r = run_process(spec);
    if (!r.ok() && fs::exists(data / "postmaster.pid")) {
      fail(ErrorKind::instance, describe_failure("pg_ctl stop", r));
    }
  }
  std::error_code ec;
  fs::remove_all(folder, ec);
  if (ec) fail(ErrorKind::io, fmt::format("could not remove \"{}\": {}", folder.string(), ec.message()));
}

}  // namespace pgr::instance
