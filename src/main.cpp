// The pgrecover executable: everything lives in the library (src/cli, src/app, ...).
#include "cli/cli.hpp"

int main(int argc, char** argv) { return pgr::cli::main(argc, argv); }
