// `pgrecover wal push|fetch`: the archive_command and restore_command of a cluster.
//   archive_command = 'pgrecover --config /etc/pgrecover.toml wal push %p --repository R --cluster C'
//   restore_command = 'pgrecover --config /etc/pgrecover.toml wal fetch %f %p --repository R --cluster C'
// Both run as the server's OS user: it must be able to read the settings file and write (push) or
// read (fetch) the repository folder. Exit 0 on success, 1 otherwise (PostgreSQL retries a failed
// push, and treats a failed fetch as "no such file").
// A policy with several repositories (copies) lists them all, comma-separated: `--repository
// local,offsite`. push stores the file in every one (exit 1 unless all have it: PostgreSQL then
// retries, and a file already there with the same content counts as pushed); fetch reads the
// first one that has it, passing over one that is unreachable.
#pragma once

#include <ostream>
#include <string>

namespace pgr::app {

struct WalOptions {
  std::string config_path;
  std::string repository, cluster;  // repository: one name, or several comma-separated
  std::string path;              // push: the file to archive (%p)
  std::string compress = "none"; // push: none | gzip | zstd
  std::string name, dest;        // fetch: the file wanted (%f) and where to write it (%p)
};
int wal_push_command(const WalOptions& o);
// A file that is not in the archive is normal during recovery: one short line on `err`, exit 1.
int wal_fetch_command(const WalOptions& o, std::ostream& err);

}  // namespace pgr::app
