// `pgrecover inspect ARCHIVE [--json]`: the TOC of a pg_dump archive with dependencies and data
// sizes, as a table or as JSON (shape documented in docs/archive.md).
#pragma once

#include <ostream>
#include <string>

namespace pgr::app {

// Bad archives throw pgr::Error(archive).
int inspect_command(const std::string& path, bool json, std::ostream& out);

}  // namespace pgr::app
