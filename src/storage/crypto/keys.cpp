#include "storage/crypto/keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace pgr::storage::crypto {

namespace {

constexpr const char* kHowToMake = "make one with: openssl rand -base64 32 > KEYFILE && chmod 600 KEYFILE";

std::string id_of(const std::array<unsigned char, kKeyBytes>& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1 || len < 8) {
    fail(ErrorKind::internal, "SHA-256 failed");
  }
  std::string id;
  for (int i = 0; i < 8; ++i) id += fmt::format("{:02x}", md[i]);
  return id;
}

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict base64 (RFC 4648 section 4, padded); nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 4) {
    bool last = i + 4 == s.size();
    int pad = 0;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      char c = s[i + k];
      if (c == '=' && last && k >= 2) {
        ++pad;
        v <<= 6;
        continue;
      }
      int x = sextet(c);
      if (x < 0 || pad > 0) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(x);
    }
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

Key::Key(const std::array<unsigned char, kKeyBytes>& bytes) : bytes_(bytes), id_(id_of(bytes)) {}
Key::~Key() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }
Key::Key(const Key& other) = default;
Key& Key::operator=(const Key& other) = default;

Key parse_key(std::string_view text, const std::string& what) {
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  if (text.empty()) fail(ErrorKind::input, fmt::format("{} is empty", what), kHowToMake);
  auto raw = base64_decode(text);
  if (!raw) {
    fail(ErrorKind::input, fmt::format("{} is not base64 (expected what `openssl rand -base64 32` prints)", what), kHowToMake);
  }
  if (raw->size() != kKeyBytes) {
    std::size_t n = raw->size();
    OPENSSL_cleanse(raw->data(), raw->size());
    fail(ErrorKind::input, fmt::format("{} holds {} bytes; an AES-256 key is {} bytes", what, n, kKeyBytes), kHowToMake);
  }
  std::array<unsigned char, kKeyBytes> bytes{};
  for (std::size_t i = 0; i < kKeyBytes; ++i) bytes[i] = static_cast<unsigned char>((*raw)[i]);
  OPENSSL_cleanse(raw->data(), raw->size());
  Key k(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return k;
}

Key read_key_file(const std::filesystem::path& file, const std::string& what) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    fail(ErrorKind::input, fmt::format("{}: cannot open the key file: {}", what, errno_text(err)),
         err == ENOENT ? std::string(kHowToMake) : std::string("the key file must be readable by the user pgrecover runs as"));
  }
  std::unique_ptr<int, void (*)(int*)> guard(&fd, [](int* f) { ::close(*f); });
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) fail(ErrorKind::input, fmt::format("{} is not a regular file", what));
  if ((st.st_mode & 077) != 0) {
    fail(ErrorKind::input,
         fmt::format("{}: permissions {:04o} are too open: group and others must have no access to an encryption key",
                     what, static_cast<unsigned>(st.st_mode & 07777)),
         fmt::format("chmod 600 {}", file.string()));
  }
  if (st.st_size > 4096) fail(ErrorKind::input, fmt::format("{} is {} bytes; a key file holds one base64 line", what, st.st_size));
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(ErrorKind::input, fmt::format("{}: cannot read the key file: {}", what, errno_text(errno)));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  try {
    Key k = parse_key(text, what);
    OPENSSL_cleanse(text.data(), text.size());
    return k;
  } catch (...) {
    OPENSSL_cleanse(text.data(), text.size());
    throw;
  }
}

Key read_key_env(const std::string& var, const std::string& what) {
  const char* v = std::getenv(var.c_str());
  if (v == nullptr || *v == '\0') {
    fail(ErrorKind::input, fmt::format("{}: the environment variable {} is not set", what, var),
         fmt::format("export {}=\"$(cat KEYFILE)\" before running pgrecover (the settings name the variable, never the key)", var));
  }
  return parse_key(v, what);
}

const Key* Keyring::find(std::string_view id) const {
  if (current.id() == id) return &current;
  for (const auto& k : previous)
    if (k.id() == id) return &k;
  return nullptr;
}

std::string Keyring::ids() const {
  if (previous.empty()) return "key id " + current.id();
  std::string out = "key ids " + current.id() + " (current)";
  for (const auto& k : previous) out += ", " + k.id();
  return out;
}

}  // namespace pgr::storage::crypto
