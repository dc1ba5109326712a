// `pgrecover validate PATH...`: check documents (and the settings they name) without touching
// any server.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace pgr::app {

struct ValidateOptions {
  std::vector<std::string> paths;  // files, or folders walked for *.yaml / *.yml
  std::string config_path;         // --config; empty: $PGRECOVER_CONFIG, else ./pgrecover.toml
  bool json = false;               // one JSON object on `out` instead of text
};

// Writes one summary line per document when all are valid (exit 0), else one
// "FILE:LINE:COL: message" line per problem (exit 1). Problems in the settings file are
// reported the same way. Returns the exit code.
int validate(const ValidateOptions& options, std::ostream& out);

}  // namespace pgr::app
