#pragma once

namespace pgr::cli {

// Parses the command line, runs the subcommand, and maps errors to exit codes. The only place
// in pgrecover that catches pgr::Error for reporting.
int main(int argc, char** argv);

}  // namespace pgr::cli
