// A Source read ahead by a thread of its own: what wraps a tar file's decompression (and the
// storage read and decryption below it) so that it runs on one core while the caller parses,
// hashes and writes the bytes on another. The wrapped source is read only by that thread; an
// error there is thrown by the read() that reaches it.
#pragma once

#include <memory>

#include "archive/stream.hpp"

namespace pgr::repository {

std::unique_ptr<archive::detail::Source> read_ahead(std::unique_ptr<archive::detail::Source> inner);

}  // namespace pgr::repository
