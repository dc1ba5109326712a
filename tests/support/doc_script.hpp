// Runs the shell blocks of a page of docs/ as one bash script, as a reader would paste them:
// the tutorial and the runbooks are tested by executing them.
#pragma once

#include <string>

#include "util/process.hpp"

namespace pgr::test {

// The ```sh blocks of docs/<page> in order (only those under the "## <section>" heading when
// section is not empty), prefixed with `set -euo pipefail; set -x`. REQUIREs at least min_blocks.
std::string doc_shell_script(const std::string& page, const std::string& section, int min_blocks);

// Runs the script with bash in a fresh temporary folder (TMPDIR), with the built pgrecover and
// PostgreSQL 15's programs first on PATH and no libpq variables of the caller; stops any server
// the script left running. Prints the tail of its output when a check fails.
ProcessResult run_doc_script(const std::string& script, const std::string& name);

}  // namespace pgr::test
