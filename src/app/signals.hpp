// SIGINT/SIGTERM during an apply: set a flag the executor polls, so running transactions are
// cancelled and rolled back and the journal stays valid. A second signal exits at once.
#pragma once

#include <atomic>

namespace pgr::app {

std::atomic<bool>& install_cancel_handlers();

}  // namespace pgr::app
