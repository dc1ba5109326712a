#include "app/inspect.hpp"

#include "archive/archive.hpp"
#include "report/inspect.hpp"
#include "util/error.hpp"

namespace pgr::app {

int inspect_command(const std::string& path, bool json, std::ostream& out) {
  auto a = archive::Archive::open(path);
  if (json) {
    nlohmann::json j = report::inspect_json(*a);
    j["format_version"] = 1;
    out << j.dump(2) << "\n";
  } else {
    out << report::inspect_text(*a);
  }
  out.flush();
  return kExitOk;
}

}  // namespace pgr::app
