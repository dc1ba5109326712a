// SHA-256 (OpenSSL EVP) for manifests, plan fingerprints and archive TOC checksums.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace pgr {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex();  // finishes the digest; lower-case hex

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);

// An order-independent digest of a multiset of strings (a table's rows, in any order): the sums,
// modulo 2^64, of the two halves of each string's SHA-256 prefix, and the count. Equal multisets
// give equal digests; different ones collide with probability about 2^-128.
class MultisetDigest {
 public:
  void add(std::string_view item);
  std::uint64_t count() const { return count_; }
  bool operator==(const MultisetDigest&) const = default;

 private:
  std::uint64_t a_ = 0, b_ = 0, count_ = 0;
};
// Streams the file (bounded memory); the size is returned through *bytes when given.
std::string sha256_file(const std::filesystem::path& path, std::uint64_t* bytes = nullptr);

// CRC-32C style checksum is not needed: journal records use crc32 from zlib.
std::uint32_t crc32_of(std::string_view data);

}  // namespace pgr
