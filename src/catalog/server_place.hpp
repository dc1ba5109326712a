// Where a server keeps its data: its data directory and the address it was reached on, for the
// 3-2-1 placement check (is a repository on the same filesystem, or the same host?).
#pragma once

#include <string>

#include "pg/pg.hpp"

namespace pgr::catalog {

struct ServerPlace {
  std::string data_directory;
  std::string address;  // inet_server_addr(): "" over a Unix socket
  // Reached over a Unix socket or loopback: the server runs on this host.
  bool on_this_host() const { return address.empty() || address == "127.0.0.1" || address == "::1"; }
};

ServerPlace read_server_place(pg::Connection& conn);

}  // namespace pgr::catalog
