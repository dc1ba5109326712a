#include "pg/read_only.hpp"

namespace pgr::pg {

Connection open_read_only(const std::string& conninfo, const std::string& application_name) {
  auto c = Connection::open(conninfo, application_name);
  c.exec("SET default_transaction_read_only = on");
  c.exec("SELECT pg_catalog.set_config('client_encoding', pg_catalog.current_setting('server_encoding'), false)");
  return c;
}

}  // namespace pgr::pg
