// `pgrecover instance start|stop`: a throwaway PostgreSQL for trying pgrecover out (the
// quickstart uses it). start leaves it running and prints how to connect; stop removes it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace pgr::app {

struct InstanceStartOptions {
  std::string base_dir;                // where the instance folder is made (default $TMPDIR or /tmp)
  int port = 0;                        // 0: a free one
  bool tcp = false;                    // also listen on 127.0.0.1
  bool durable = false;                // keep fsync on
  std::vector<std::string> settings;   // NAME=VALUE server settings
  std::string bin_dir;                 // PostgreSQL server binaries (default: discovered)
  bool json = false;
};
int instance_start_command(const InstanceStartOptions& o, std::ostream& out);
int instance_stop_command(const std::string& folder, std::ostream& out);

}  // namespace pgr::app
