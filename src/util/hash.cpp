#include "util/hash.hpp"

#include <openssl/evp.h>
#include <zlib.h>

#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace pgr {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
    fail(ErrorKind::internal, "could not initialise SHA-256");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::update(std::string_view data) {
  if (EVP_DigestUpdate(impl_->ctx, data.data(), data.size()) != 1) {
    fail(ErrorKind::internal, "SHA-256 update failed");
  }
}

std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, md, &len) != 1) fail(ErrorKind::internal, "SHA-256 final failed");
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

void MultisetDigest::add(std::string_view item) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(item.data(), item.size(), md, &len, EVP_sha256(), nullptr) != 1 || len < 16) {
    fail(ErrorKind::internal, "SHA-256 failed");
  }
  std::uint64_t x = 0, y = 0;
  for (int k = 0; k < 8; ++k) {
    x = (x << 8) | md[k];
    y = (y << 8) | md[8 + k];
  }
  a_ += x;
  b_ += y;
  ++count_;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex();
}

std::string sha256_file(const std::filesystem::path& path, std::uint64_t* bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::io, fmt::format("could not open \"{}\": {}", path.string(), errno_text(errno)));
  Sha256 h;
  std::vector<char> buf(1 << 20);
  std::uint64_t total = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize n = in.gcount();
    if (n > 0) {
      h.update(std::string_view(buf.data(), static_cast<size_t>(n)));
      total += static_cast<std::uint64_t>(n);
    }
  }
  if (in.bad()) fail(ErrorKind::io, fmt::format("could not read \"{}\"", path.string()));
  if (bytes) *bytes = total;
  return h.hex();
}

std::uint32_t crc32_of(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  return static_cast<std::uint32_t>(
      crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

}  // namespace pgr
