// An ephemeral PostgreSQL: initdb into a temporary folder, a free port, a Unix socket in that
// folder only (no TCP unless asked), pg_ctl start/stop, everything removed on destruction. As
// root, initdb and the server run as an unprivileged user ("postgres" unless configured),
// because PostgreSQL refuses to run as root. The embedded default for the quickstart, restore
// drills, the tests and PITR.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/process.hpp"

namespace pgr::instance {

namespace fs = std::filesystem;

struct Options {
  fs::path bin_dir;          // server binaries; empty: $PGRECOVER_PG_BINDIR, pg_config, /usr/lib/postgresql/*/bin
  std::string run_as;        // user for initdb/postgres when we are root; empty: "postgres"
  int port = 0;              // 0: pick a free one
  fs::path base_dir;         // where the temporary folder is made; empty: $TMPDIR or /tmp
  bool listen_tcp = false;   // also listen on 127.0.0.1:port
  // Throwaway instances (tests, drills) may skip fsync; an instance whose data matters must not.
  bool durable = false;
  std::string superuser = "postgres";
  int start_timeout_seconds = 120;
  std::vector<std::pair<std::string, std::string>> settings;  // extra postgresql.conf lines
  // Settings for this start only (pg_ctl start -o "-c NAME=VALUE"): never written to the
  // configuration, so a later start does without them. Values are plain words.
  std::vector<std::pair<std::string, std::string>> start_settings;
  // Use an existing data directory instead of initdb (PITR); it is never removed.
  fs::path existing_data_dir;
  fs::path socket_dir;       // with existing_data_dir: where the socket goes (default: a temp folder)
  bool keep = false;         // leave the folder and the server running on destruction
  // With existing_data_dir: write no port, listen_addresses or unix_socket_directories (the data
  // directory's own configuration says them; `settings` may still override). port() and
  // socket_dir() are then read from postmaster.pid once started.
  bool keep_configuration = false;
};

// Finds the folder holding initdb, pg_ctl and postgres. Throws pgr::Error(instance) listing
// where it looked when there is none.
fs::path find_bin_dir(const fs::path& override_dir = {});
// The path of a PostgreSQL program (pg_dump, pg_dumpall, pg_restore, pg_basebackup,
// pg_verifybackup, pg_amcheck, psql, ...): in bin_dir when it is set ([instance] bin_dir), else in
// the folder find_bin_dir() finds, so that every program is of the same major version as the
// embedded instance; only without any server binaries, the first of the same places that has it.
// Never a fallback to another version on PATH. Throws Error(instance) naming where it looked.
fs::path tool_path(const std::string& name, const fs::path& bin_dir = {});

// postmaster.pid of a data directory: the pid, port and socket folder of a running server.
struct PostmasterInfo {
  long pid = 0;
  int port = 0;
  std::string socket_dir;
};
bool read_postmaster_pid(const fs::path& data_directory, PostmasterInfo& out);

// The major version of the server binaries in bin_dir (e.g. 15).
int server_major_version(const fs::path& bin_dir);
// A TCP port on 127.0.0.1 that nobody listens on now.
int pick_free_port();
bool port_in_use(int port);

// The marker file written into every folder an Instance creates; destroy_folder() refuses a
// folder without it, so "instance stop" can never remove something that is not ours.
inline constexpr const char* kMarkerFile = "PGRECOVER_INSTANCE";

// Stops the server of an instance folder left running (Options::keep) and removes the folder.
void destroy_folder(const fs::path& folder, const fs::path& bin_dir = {});

class Instance {
 public:
  explicit Instance(Options options);  // initdb (unless existing_data_dir) and start
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  void start();
  void stop(bool fast = true);
  bool running() const { return running_; }

  // key=value conninfo over the Unix socket as the superuser.
  std::string conninfo(const std::string& dbname = "postgres") const;
  int port() const { return port_; }
  const fs::path& folder() const { return folder_; }
  const fs::path& data_dir() const { return data_dir_; }
  const fs::path& socket_dir() const { return socket_dir_; }
  const fs::path& bin_dir() const { return bin_dir_; }
  fs::path tool(const std::string& name) const { return bin_dir_ / name; }
  const std::optional<UserIdentity>& server_user() const { return user_; }
  const std::string& superuser() const { return opts_.superuser; }
  std::string log_tail(int lines = 30) const;

  // Runs a client tool from bin_dir (psql, pg_dump, ...) against this instance, as the invoking
  // user, with PGHOST/PGPORT/PGUSER set.
  ProcessResult run_client(std::vector<std::string> argv, std::vector<std::string> env = {}) const;
  // Runs a server-side tool (pg_ctl, initdb, ...) as the server's user.
  ProcessResult run_server_tool(std::vector<std::string> argv) const;
  std::vector<std::string> client_env() const;

 private:
  void cleanup() noexcept;
  void initdb();
  void write_settings();
  void check_reachable(const fs::path& dir) const;

  Options opts_;
  fs::path bin_dir_;
  fs::path folder_;     // the temporary folder we own (empty with existing_data_dir and socket_dir)
  fs::path data_dir_;
  fs::path socket_dir_;
  fs::path log_file_;
  int port_ = 0;
  std::optional<UserIdentity> user_;
  bool running_ = false;
  bool own_folder_ = false;
};

}  // namespace pgr::instance
