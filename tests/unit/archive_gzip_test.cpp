// The gzip/zlib reader (zlib):
// after another, zlib streams (custom-format blocks), output larger than one read, and damage.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <random>
#include <string>

#include "archive/stream.hpp"
#include "util/error.hpp"

using namespace pgr;

namespace {

class StringSource final : public archive::detail::Source {
 public:
  explicit StringSource(std::string s) : s_(std::move(s)) {}
  std::size_t read(char* buf, std::size_t cap) override {
    std::size_t n = std::min(cap, s_.size() - pos_);
    std::copy_n(s_.data() + pos_, n, buf);
    pos_ += n;
    return n;
  }

 private:
  std::string s_;
  std::size_t pos_ = 0;
};

std::string deflate_as(const std::string& in, bool gzip) {
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

std::string read_all(const std::string& compressed, std::size_t read_size = 1000) {
  auto src = archive::detail::decompress(archive::Compression::gzip, std::make_unique<StringSource>(compressed), "t");
  std::string out, buf(read_size, '\0');
  for (std::size_t n; (n = src->read(buf.data(), buf.size())) > 0;) out.append(buf.data(), n);
  return out;
}

std::string rows(int from, int to) {
  std::string s;
  std::mt19937 rng(static_cast<unsigned>(from));
  for (int i = from; i < to; ++i) s += std::to_string(i) + "\t" + std::to_string(rng()) + "\tsome text\n";
  return s;
}

}  // namespace

TEST_CASE("gzip reader: members and zlib streams one after another, in small reads", "[archive][gzip]") {
  std::string a = rows(0, 20000), b = rows(20000, 50000);
  CHECK(read_all(deflate_as(a, true) + deflate_as(b, true)) == a + b);
  CHECK(read_all(deflate_as(a, false) + deflate_as(b, false)) == a + b);
  CHECK(read_all(deflate_as(a, true), 7) == a);
  CHECK(read_all(deflate_as(std::string(), true)).empty());
}

TEST_CASE("gzip reader: truncated or damaged data is an archive error", "[archive][gzip]") {
  std::string a = rows(0, 20000);
  std::string gz = deflate_as(a, true);
  for (std::size_t len : {std::size_t{5}, gz.size() / 2, gz.size() - 3}) {
    INFO("length " << len);
    CHECK_THROWS_AS(read_all(gz.substr(0, len)), Error);
  }
  std::string bad = gz;
  bad[bad.size() - 6] ^= 0x55;  // in the CRC-32 of the trailer
  CHECK_THROWS_AS(read_all(bad), Error);
  bad = gz;
  bad[0] = 'q';  // neither a gzip nor a zlib header
  CHECK_THROWS_AS(read_all(bad), Error);
}
