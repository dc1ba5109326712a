// `pgrecover restore-point NAME --policy P [PATH...] [--timeout D]`: a named restore point on the
// source of the physical policy P, archived and recorded in P's repository.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace pgr::app {

struct RestorePointOptions {
  std::string config_path;
  std::string name, policy;
  std::vector<std::string> paths;  // the documents holding the policy; empty: the current folder
  std::string timeout = "5m";
  bool json = false;
};

int restore_point_command(const RestorePointOptions& o, std::ostream& out);

}  // namespace pgr::app
