// The tests' main. The tests name every server, port and user in their own conninfo; the
// variables that shape a libpq session's values rather than where it connects are cleared here,
// for this process and every client and pgrecover it starts, so that the suite passes whatever
// the caller has set (e.g. PGCLIENTENCODING=SJIS made pg_dump fail on a test's 'é').
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

int main(int argc, char* argv[]) {
  for (const char* name : {"PGCLIENTENCODING", "PGDATESTYLE", "PGTZ", "PGOPTIONS"}) ::unsetenv(name);
  return Catch::Session().run(argc, argv);
}
