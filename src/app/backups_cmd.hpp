// `pgrecover backups list | show ID | verify ID [--repository NAME] [--json]`.
#pragma once

#include <ostream>
#include <string>

namespace pgr::app {

struct BackupsOptions {
  std::string config_path;
  std::string repository;  // empty: the only repository in the settings
  std::string id;          // "ID" or "POLICY/ID" for show and verify
  bool json = false;
};

int backups_list_command(const BackupsOptions& o, std::ostream& out);
int backups_show_command(const BackupsOptions& o, std::ostream& out);
// Sizes and SHA-256 of every file against the manifest, then every data stream of the archive
// read end to end with its rows counted against the manifest. Exit 1 naming the bad file.
int backups_verify_command(const BackupsOptions& o, std::ostream& out);

}  // namespace pgr::app
