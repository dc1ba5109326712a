#include "storage/crypto/format.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::storage::crypto {

namespace {

constexpr std::string_view kInfo = "pgrecover object v1";

[[noreturn]] void openssl_fail(const char* what) { fail(ErrorKind::internal, fmt::format("OpenSSL: {} failed", what)); }

void put_be64(char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

std::string hex(const unsigned char* p, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += fmt::format("{:02x}", p[i]);
  return out;
}

bool unhex(std::string_view h, unsigned char* out) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    int a = nib(h[i]), b = nib(h[i + 1]);
    if (a < 0 || b < 0) return false;
    out[i / 2] = static_cast<unsigned char>(a * 16 + b);
  }
  return true;
}

}  // namespace

std::uint64_t stored_size(std::uint64_t plain) {
  return kHeaderBytes + (plain / kChunk + 1) * kTag + plain;
}

std::optional<std::uint64_t> plain_size(std::uint64_t stored) {
  if (stored < kHeaderBytes + kTag) return std::nullopt;
  std::uint64_t x = stored - kHeaderBytes;
  std::uint64_t full = x / kStoredChunk, rest = x % kStoredChunk;
  if (rest < kTag) return std::nullopt;  // the final chunk has at least its tag
  return full * kChunk + (rest - kTag);
}

bool has_magic(std::string_view head) { return head.substr(0, kMagic.size()) == kMagic; }

Header new_header(const Key& key) {
  Header h;
  if (RAND_bytes(h.salt.data(), static_cast<int>(h.salt.size())) != 1) openssl_fail("RAND_bytes");
  h.key_id = key.id();
  h.bytes.reserve(kHeaderBytes);
  h.bytes.append(kMagic);
  h.bytes.push_back(static_cast<char>(kFormatVersion));
  h.bytes.push_back(static_cast<char>(kCipherAes256Gcm64k));
  unsigned char id[8];
  unhex(key.id(), id);
  h.bytes.append(reinterpret_cast<const char*>(id), sizeof id);
  h.bytes.append(reinterpret_cast<const char*>(h.salt.data()), h.salt.size());
  return h;
}

Header parse_header(std::string_view bytes, const std::string& what) {
  if (bytes.size() < kHeaderBytes || !has_magic(bytes)) {
    fail(ErrorKind::io, fmt::format("\"{}\" has no pgrecover encryption header", what));
  }
  auto version = static_cast<unsigned char>(bytes[6]), cipher = static_cast<unsigned char>(bytes[7]);
  if (version != kFormatVersion || cipher != kCipherAes256Gcm64k) {
    fail(ErrorKind::io, fmt::format("\"{}\" is encrypted in format {} (cipher {}), which this pgrecover does not read", what,
                                    version, cipher),
         "upgrade pgrecover");
  }
  Header h;
  h.bytes = std::string(bytes.substr(0, kHeaderBytes));
  h.key_id = hex(reinterpret_cast<const unsigned char*>(bytes.data()) + 8, 8);
  for (std::size_t i = 0; i < kSaltBytes; ++i) h.salt[i] = static_cast<unsigned char>(bytes[16 + i]);
  return h;
}

// ---- ChunkCipher -------------------------------------------------------------------------------

struct ChunkCipher::Impl {
  unsigned char key[32];
  EVP_CIPHER_CTX* enc = nullptr;
  EVP_CIPHER_CTX* dec = nullptr;
  std::string aad;       // header | be64(index) | final | object key
  unsigned char iv[12];  // 00000000 | be64(index)

  ~Impl() {
    OPENSSL_cleanse(key, sizeof key);
    EVP_CIPHER_CTX_free(enc);
    EVP_CIPHER_CTX_free(dec);
  }
  EVP_CIPHER_CTX* ctx(bool encrypt) {
    EVP_CIPHER_CTX*& c = encrypt ? enc : dec;
    if (c) return c;
    c = EVP_CIPHER_CTX_new();
    if (!c || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) != 1 ||
        EVP_CipherInit_ex(c, nullptr, nullptr, key, nullptr, encrypt ? 1 : 0) != 1) {
      openssl_fail("AES-256-GCM setup");
    }
    return c;
  }
};

ChunkCipher::ChunkCipher(const Key& master, const Header& header, std::string_view object_key)
    : impl_(std::make_unique<Impl>()) {
  EVP_PKEY_CTX* kdf = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  std::size_t len = sizeof impl_->key;
  bool ok = kdf && EVP_PKEY_derive_init(kdf) == 1 && EVP_PKEY_CTX_set_hkdf_md(kdf, EVP_sha256()) == 1 &&
            EVP_PKEY_CTX_set1_hkdf_salt(kdf, header.salt.data(), static_cast<int>(header.salt.size())) == 1 &&
            EVP_PKEY_CTX_set1_hkdf_key(kdf, master.data(), static_cast<int>(kKeyBytes)) == 1 &&
            EVP_PKEY_CTX_add1_hkdf_info(kdf, reinterpret_cast<const unsigned char*>(kInfo.data()), static_cast<int>(kInfo.size())) == 1 &&
            EVP_PKEY_derive(kdf, impl_->key, &len) == 1 && len == sizeof impl_->key;
  EVP_PKEY_CTX_free(kdf);
  if (!ok) openssl_fail("HKDF-SHA256");
  impl_->aad = header.bytes;
  impl_->aad.append(9, '\0');
  impl_->aad.append(object_key);
  std::fill(std::begin(impl_->iv), std::end(impl_->iv), 0);
}

ChunkCipher::~ChunkCipher() = default;

void ChunkCipher::set_chunk(std::uint64_t index, bool final) {
  put_be64(impl_->aad.data() + kHeaderBytes, index);
  impl_->aad[kHeaderBytes + 8] = final ? 1 : 0;
  put_be64(reinterpret_cast<char*>(impl_->iv) + 4, index);
}

void ChunkCipher::seal(std::uint64_t index, bool final, const char* plain, std::size_t n, std::string& out) {
  set_chunk(index, final);
  EVP_CIPHER_CTX* c = impl_->ctx(true);
  int len = 0;
  std::size_t at = out.size();
  out.resize(at + n + kTag);
  auto* dst = reinterpret_cast<unsigned char*>(out.data() + at);
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, impl_->iv) != 1 ||
      EVP_EncryptUpdate(c, nullptr, &len, reinterpret_cast<const unsigned char*>(impl_->aad.data()),
                        static_cast<int>(impl_->aad.size())) != 1 ||
      EVP_EncryptUpdate(c, dst, &len, reinterpret_cast<const unsigned char*>(plain), static_cast<int>(n)) != 1 ||
      static_cast<std::size_t>(len) != n || EVP_EncryptFinal_ex(c, dst + n, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTag), dst + n) != 1) {
    openssl_fail("AES-256-GCM encryption");
  }
}

bool ChunkCipher::open(std::uint64_t index, bool final, const char* stored, std::size_t n, std::string& plain) {
  plain.clear();
  if (n < kTag) return false;
  set_chunk(index, final);
  EVP_CIPHER_CTX* c = impl_->ctx(false);
  std::size_t body = n - kTag;
  plain.resize(body);
  int len = 0;
  auto* dst = reinterpret_cast<unsigned char*>(plain.data());
  unsigned char tag[kTag];
  std::copy(stored + body, stored + n, reinterpret_cast<char*>(tag));
  if (EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, impl_->iv) != 1 ||
      EVP_DecryptUpdate(c, nullptr, &len, reinterpret_cast<const unsigned char*>(impl_->aad.data()),
                        static_cast<int>(impl_->aad.size())) != 1 ||
      EVP_DecryptUpdate(c, dst, &len, reinterpret_cast<const unsigned char*>(stored), static_cast<int>(body)) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTag), tag) != 1) {
    openssl_fail("AES-256-GCM decryption");
  }
  if (EVP_DecryptFinal_ex(c, dst + body, &len) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    plain.clear();
    return false;
  }
  return true;
}

}  // namespace pgr::storage::crypto
