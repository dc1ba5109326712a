// Cluster globals for logical backups: roles with their attributes, memberships, role and
// database settings, tablespaces, read with libpq; and the CREATE ROLE statements a restore into
// a fresh cluster runs from them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pg/pg.hpp"
#include "repository/repository.hpp"

namespace pgr::engine {

// Reads the globals of the cluster `conn` is connected to, with the settings of `database`.
// Password hashes are included only when the role may read pg_authid; otherwise a warning is
// logged and Globals::passwords_included is false.
repository::Globals capture_globals(pg::Connection& conn, const std::string& database);

// role -> SQL that creates it as in the backup: CREATE ROLE with every attribute (never the
// password: plans are reviewed by people and must not carry hashes), its cluster-wide settings,
// its comment, and its memberships as guarded GRANTs that run only when the other role exists,
// so roles can be created in any order and still end up with every membership.
std::map<std::string, std::string> role_definitions(const repository::Globals& globals);

// tablespace -> one CREATE TABLESPACE statement (OWNER, LOCATION, options) as in the backup.
std::map<std::string, std::string> tablespace_definitions(const repository::Globals& globals);

}  // namespace pgr::engine
