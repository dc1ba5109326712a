// Sessions that can only read: what a live restore source (spec.from.live) is opened with, so a
// clone never writes to its source.
#pragma once

#include <string>

#include "pg/pg.hpp"

namespace pgr::pg {

// Opens a session with default_transaction_read_only = on set before anything else, and the
// server's encoding as client encoding (what pg_dump writes). Every statement it runs outside an
// explicit transaction, and every BEGIN without READ WRITE, is read-only.
Connection open_read_only(const std::string& conninfo, const std::string& application_name);

}  // namespace pgr::pg
