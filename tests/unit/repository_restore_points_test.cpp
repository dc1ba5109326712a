// Restore points recorded in the repository: one file per name, written atomically, listed by LSN,
// never recorded twice, names that are safe as file names only.
#include <catch2/catch.hpp>

#include "repository/restore_points.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace pgr;

TEST_CASE("restore points: recorded, listed by LSN, refused twice, names checked", "[repository]") {
  TempDir dir("pgrecover-rp-test-");
  repository::RestorePoint a{"before_v2", "prod", "prod-physical", "0/A000100", 1, "00000001000000000000000A",
                             "2026-11-20T10:00:00.000000Z"};
  repository::RestorePoint b{"after-v1.2", "prod", "prod-physical", "0/3000028", 1, "000000010000000000000003",
                             "2026-11-19T10:00:00.000000Z"};
  repository::record_restore_point(dir.path(), a);
  repository::record_restore_point(dir.path(), b);
  auto all = repository::list_restore_points(dir.path(), "prod");
  REQUIRE(all.size() == 2);
  CHECK(all[0] == b);  // lower LSN first
  CHECK(all[1] == a);
  CHECK(repository::find_restore_point(dir.path(), "prod", "before_v2") == a);
  CHECK_FALSE(repository::find_restore_point(dir.path(), "other", "before_v2"));
  CHECK_THROWS_WITH(repository::record_restore_point(dir.path(), a), Catch::Contains("already recorded"));
  // foreign and temporary files are ignored
  write_file_atomic(dir.path() / "restore_points" / "prod" / ".before_v2.json.tmp", "{");
  write_file_atomic(dir.path() / "restore_points" / "prod" / "broken.json", "{");
  CHECK(repository::list_restore_points(dir.path(), "prod").size() == 2);
  for (const char* bad : {"", "../x", "a/b", ".hidden", "has space", "x'y"}) {
    INFO(bad);
    CHECK_FALSE(repository::valid_restore_point_name(bad));
  }
  CHECK_FALSE(repository::valid_restore_point_name(std::string(64, 'a')));
  CHECK(repository::valid_restore_point_name(std::string(63, 'a')));
  auto c = a;
  c.name = "../../etc";
  CHECK_THROWS_AS(repository::record_restore_point(dir.path(), c), Error);
}
