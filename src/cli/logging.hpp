#pragma once

#include "util/log.hpp"

namespace pgr::cli {

// The CLI's choice of sink: human lines (with time, for non-terminals) or JSON lines on stderr.
void install_log_sink(bool json, log::Level level, bool terminal);

}  // namespace pgr::cli
