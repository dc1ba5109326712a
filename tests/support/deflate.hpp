// Compresses in memory as pg_dump does, for tests of the archive readers: a gzip member (a
// directory archive's .dat.gz) or a zlib stream (a custom-format data block).
#pragma once

#include <string>

#include <zlib.h>

#include <catch2/catch.hpp>

namespace pgr::test {

inline std::string deflate_as(const std::string& in, bool gzip) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace pgr::test
