// Encryption keys of a repository (docs/backups.md#encryption): 256-bit keys given as what
// `openssl rand -base64 32` prints, from a key file or an environment variable. A key is known to
// everything outside this folder by its id only: the first 8 bytes of the key's SHA-256, in hex
// (`base64 -d < KEYFILE | sha256sum | cut -c1-16`). The key bytes are never in a message, a log
// line, a plan, a report or a child's argv, and are wiped from memory when a Key is destroyed.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace pgr::storage::crypto {

inline constexpr std::size_t kKeyBytes = 32;

class Key {
 public:
  explicit Key(const std::array<unsigned char, kKeyBytes>& bytes);
  ~Key();
  Key(const Key& other);
  Key& operator=(const Key& other);

  const unsigned char* data() const { return bytes_.data(); }
  const std::string& id() const { return id_; }  // 16 lower-case hex digits

 private:
  std::array<unsigned char, kKeyBytes> bytes_{};
  std::string id_;
};

// Base64 of exactly 32 bytes (standard alphabet, '=' padding), whitespace around it ignored.
// Throws Error(input) naming `what` (e.g. "encryption_key_file \"/etc/k\" in pgrecover.toml
// [repositories.offsite]"); the text itself never appears in the message.
Key parse_key(std::string_view text, const std::string& what);

// A key file: a regular file (symlinks are followed) that group and others have no permission on
// at all (mode & 077 == 0, the rule ssh applies to private keys), at most 4 KiB.
Key read_key_file(const std::filesystem::path& file, const std::string& what);

// The key held by environment variable `var`; unset or empty is an error naming it.
Key read_key_env(const std::string& var, const std::string& what);

// The keys of one repository: `current` encrypts everything written and decrypts what it wrote;
// `previous` keys only decrypt (objects written before a key rotation), matched by key id.
struct Keyring {
  Key current;
  std::vector<Key> previous;
  std::string origin;  // where the keys are configured, for messages: "FILE [repositories.NAME]"

  const Key* find(std::string_view id) const;
  std::string ids() const;  // "key id 0123456789abcdef" or "key ids 0123... (current), ..."
};

}  // namespace pgr::storage::crypto
