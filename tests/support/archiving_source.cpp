#include "support/archiving_source.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "support/harness.hpp"

namespace pgr::test {

namespace fs = std::filesystem;

ArchivingSource::ArchivingSource(const std::string& prefix, const std::function<std::string(const fs::path&)>& settings,
                                 const std::string& repository, const std::string& cluster,
                                 std::vector<std::pair<std::string, std::string>> extra)
    : base(prefix) {
  fs::permissions(base.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  config = base.path() / "pgrecover.toml";
  write_file_atomic(config, fmt::format("state_dir = \"{}\"\n", (base.path() / "state").string()) + settings(base.path()));
  give_to_server_user(config);
  instance::Options o;
  o.settings = {{"wal_level", "replica"},
                {"archive_mode", "on"},
                {"archive_command", fmt::format("'{} --config {} wal push %p --repository {} --cluster {}'",
                                                PGRECOVER_BINARY, config.string(), repository, cluster)}};
  for (auto& s : extra) o.settings.push_back(std::move(s));
  server = std::make_unique<instance::Instance>(o);
}

std::string ArchivingSource::sql(const std::string& q) const {
  auto r = server->run_client({"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", q});
  if (!r.ok()) FAIL(describe_failure("psql", r));
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

fs::path ArchivingSource::write(const std::string& name, const std::string& text) const {
  fs::path p = base.path() / name;
  write_file_atomic(p, text);
  return p;
}

std::string ArchivingSource::conninfo() const {
  return fmt::format("host={} port={} user=postgres dbname=postgres", server->socket_dir().string(), server->port());
}

ProcessResult ArchivingSource::pgrecover(std::vector<std::string> args, std::vector<std::string> env) const {
  args.insert(args.begin(), {"--config", config.string()});
  return run_pgrecover(std::move(args), std::move(env));
}

std::string ArchivingSource::archive_current_segment() const {
  std::string segment = sql("SELECT pg_walfile_name(pg_switch_wal())");
  for (int i = 0; i < 600; ++i) {
    if (sql(fmt::format("SELECT coalesce(last_archived_wal >= '{}', false) FROM pg_stat_archiver", segment)) == "t") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return segment;
}

std::string posix_repository(const fs::path& base) {
  fs::path repo = base / "repo";
  fs::create_directory(repo);
  fs::permissions(repo, fs::perms::owner_all, fs::perm_options::replace);
  give_to_server_user(repo);
  return fmt::format("[repositories.local]\npath = \"{}\"\n", repo.string());
}

void stop_server(const fs::path& data_dir) {
  if (!fs::exists(data_dir / "postmaster.pid")) return;
  ProcessSpec ps;
  ps.argv = {(instance::find_bin_dir() / "pg_ctl").string(), "stop", "-D", data_dir.string(), "-m", "immediate", "-w"};
  ps.run_as = server_user();
  ps.cwd = "/";
  run_process(ps);
}

}  // namespace pgr::test
