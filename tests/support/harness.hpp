// The test harness: a real PostgreSQL started by the tests themselves (initdb in a temporary
// folder, own port, Unix socket only; as root the server runs as "postgres"). Never a mock.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "util/process.hpp"

namespace pgr::test {

// One server per test process, started on first use and stopped at exit.
instance::Instance& server();

// Creates a database with a fresh unique name on server() and returns its name.
std::string fresh_database(const std::string& prefix = "t");

// Runs the pgrecover binary built with this tree; stdin is /dev/null.
ProcessResult run_pgrecover(std::vector<std::string> args, std::vector<std::string> env = {});

// psql -X -v ON_ERROR_STOP=1 -d DB -c SQL against server(); throws with psql's output on failure.
std::string psql(const std::string& db, const std::string& sql);

std::string test_data(const std::string& relative);

}  // namespace pgr::test
