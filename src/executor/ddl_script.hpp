// The SQL of every schema entry exactly as pg_restore would run it (owners, privileges,
// tablespaces, access methods, quoting): pg_restore renders the archive's schema once as a
// verbose script, which is split at its "-- TOC entry N" markers. The design allows delegating
// DDL text to pg_restore; doing it once per apply instead of once per step keeps it fast.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace pgr::executor {

struct DdlScript {
  std::string prelude;               // the session settings before the first entry
  std::map<int, std::string> chunks;  // TOC entry id -> its SQL
};

// Splits a script made by `pg_restore -v -s -f - ARCHIVE`. Pure (tested on text fixtures).
DdlScript split_ddl_script(const std::string& script);

// Runs pg_restore from bin_dir and splits its output. no_owner adds --no-owner, no_tablespaces
// --no-tablespaces (the runner then sets each entry's tablespace through the plan's map).
DdlScript render_ddl_script(const std::filesystem::path& pg_restore, const std::filesystem::path& archive,
                            bool no_owner, bool no_tablespaces = false);

}  // namespace pgr::executor
