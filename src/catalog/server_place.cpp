#include "catalog/server_place.hpp"

namespace pgr::catalog {

ServerPlace read_server_place(pg::Connection& conn) {
  auto r = conn.exec("SELECT current_setting('data_directory'), coalesce(host(inet_server_addr()), '')");
  return {r.str(0, 0), r.str(0, 1)};
}

}  // namespace pgr::catalog
