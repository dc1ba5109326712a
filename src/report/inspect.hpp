// `pgrecover inspect ARCHIVE [--json]`: the TOC of a pg_dump archive with dependencies and data
// sizes, as a table or as JSON (shape documented in docs/archive.md).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "archive/archive.hpp"

namespace pgr::report {

// {"format", "archive_version", "database", "server_version", "entries": [...], "summary": {...}}
nlohmann::json inspect_json(const archive::Archive& a);
// The table (id, kind, schema, name, owner, section, dependencies, data size) and a summary.
std::string inspect_text(const archive::Archive& a);

}  // namespace pgr::report
