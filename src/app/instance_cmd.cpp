#include "app/instance_cmd.hpp"

#include <nlohmann/json.hpp>

#include "instance/instance.hpp"
#include "util/error.hpp"

namespace pgr::app {

int instance_start_command(const InstanceStartOptions& a, std::ostream& out) {
  instance::Options o;
  o.base_dir = a.base_dir;
  o.port = a.port;
  o.listen_tcp = a.tcp;
  o.bin_dir = a.bin_dir;
  o.keep = true;
  o.durable = a.durable;
  for (const auto& kv : a.settings) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) fail(ErrorKind::usage, "--set takes NAME=VALUE, got \"" + kv + "\"");
    o.settings.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  instance::Instance inst(o);
  if (a.json) {
    out << nlohmann::json{{"format_version", 1},
                          {"folder", inst.folder().string()},
                          {"port", inst.port()},
                          {"socket_directory", inst.socket_dir().string()},
                          {"conninfo", inst.conninfo()}}
               .dump()
        << "\n";
  } else {
    out << "started PostgreSQL in " << inst.folder().string() << "\n"
        << "conninfo: " << inst.conninfo() << "\n"
        << "stop and remove it with: pgrecover instance stop " << inst.folder().string() << "\n";
  }
  return kExitOk;
}

int instance_stop_command(const std::string& folder, std::ostream& out) {
  instance::destroy_folder(folder);
  out << "stopped and removed " << folder << "\n";
  return kExitOk;
}

}  // namespace pgr::app
