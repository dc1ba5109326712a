// The stored form of an encrypted object (format 1, docs/backups.md#the-encrypted-format):
//
//   header   48 bytes: "PGRENC" | version 0x01 | cipher 0x01 (AES-256-GCM, 64 KiB chunks)
//                      | key id (8 bytes) | salt (32 random bytes, new for every object)
//   chunk 0  ciphertext of plaintext bytes [0, 65536)       | 16-byte GCM tag
//   chunk 1  ciphertext of plaintext bytes [65536, 131072)  | tag
//   ...
//   final    ciphertext of the last 0..65535 bytes          | tag   (always present, never full)
//
// Every chunk but the last holds exactly 64 KiB, the last one less (possibly nothing), so the
// plaintext size follows from the stored size alone (listings report plaintext sizes without a
// read) and a chunk's length says whether it is the final one. Each object has its own key,
// HKDF-SHA256(repository key, salt, "pgrecover object v1"); chunk i is encrypted under the nonce
// 00000000 || be64(i) — unique, since a key is used for one object only. The additional
// authenticated data of chunk i is header || be64(i) || final (0/1) || the object's storage key,
// so chunks cannot be reordered, dropped, truncated or appended to, the header cannot be edited,
// and an object cannot be passed off under another name, without authentication failing.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "storage/crypto/keys.hpp"

namespace pgr::storage::crypto {

inline constexpr std::size_t kChunk = 64 * 1024;        // plaintext bytes per full chunk
inline constexpr std::size_t kTag = 16;                 // GCM tag per chunk
inline constexpr std::size_t kStoredChunk = kChunk + kTag;
inline constexpr std::size_t kSaltBytes = 32;
inline constexpr std::size_t kHeaderBytes = 48;
inline constexpr std::string_view kMagic{"PGRENC", 6};
inline constexpr unsigned char kFormatVersion = 1;
inline constexpr unsigned char kCipherAes256Gcm64k = 1;

// Stored size of `plain` plaintext bytes, and back (nullopt: no encrypted object has that size).
std::uint64_t stored_size(std::uint64_t plain);
std::optional<std::uint64_t> plain_size(std::uint64_t stored);

// Does `head` (the first bytes of an object, at least kMagic.size()) start like an encrypted object?
bool has_magic(std::string_view head);

struct Header {
  std::string bytes;    // the kHeaderBytes stored
  std::string key_id;   // hex
  std::array<unsigned char, kSaltBytes> salt{};
};

// A new header (fresh random salt) for an object encrypted with `key`.
Header new_header(const Key& key);
// Parses kHeaderBytes; Error(io) naming `what` for an unknown version or cipher, or bad magic.
Header parse_header(std::string_view bytes, const std::string& what);

// Seals and opens the chunks of one object (not thread-safe: one per reader or writer).
class ChunkCipher {
 public:
  ChunkCipher(const Key& key, const Header& header, std::string_view object_key);
  ~ChunkCipher();
  ChunkCipher(const ChunkCipher&) = delete;
  ChunkCipher& operator=(const ChunkCipher&) = delete;

  // Appends the ciphertext and tag of chunk `index` to `out`.
  void seal(std::uint64_t index, bool final, const char* plain, std::size_t n, std::string& out);
  // Decrypts a stored chunk (ciphertext + tag, n >= kTag) into `plain` (n - kTag bytes, resized).
  // False when authentication fails; `plain` is then cleared.
  bool open(std::uint64_t index, bool final, const char* stored, std::size_t n, std::string& plain);

 private:
  void set_chunk(std::uint64_t index, bool final);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgr::storage::crypto
