// The gzip/zlib reader (zlib's inflate): gzip members one
// after another, zlib streams (custom-format blocks), output larger than one read, and damage.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <random>
#include <string>

#include "archive/stream.hpp"
#include "util/error.hpp"
#include "support/deflate.hpp"

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
  CHECK(read_all(test::deflate_as(a, true) + test::deflate_as(b, true)) == a + b);
  CHECK(read_all(test::deflate_as(a, false) + test::deflate_as(b, false)) == a + b);
  CHECK(read_all(test::deflate_as(a, true), 7) == a);
  CHECK(read_all(test::deflate_as(std::string(), true)).empty());
}

TEST_CASE("gzip reader: truncated or damaged data is an archive error", "[archive][gzip]") {
  std::string a = rows(0, 20000);
  std::string gz = test::deflate_as(a, true);
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
