// Client-side encryption as a storage filter, on the POSIX driver in a temporary folder: what is
// stored is never the plaintext; every size, range and chunk edge reads back exactly; a flipped
// byte, a cut, reordered chunks, an object moved to another name, another key or an object in
// clear are refused with a message naming the object (and the key ids); keys are parsed and
// their files checked like ssh checks private keys.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fstream>
#include <random>

#include "config/settings.hpp"
#include "repository/copy.hpp"
#include "repository/repository.hpp"
#include "storage/crypto/crypto.hpp"
#include "storage/crypto/format.hpp"
#include "storage/crypto/keys.hpp"
#include "storage/storage.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

using namespace pgr;
namespace crypto = pgr::storage::crypto;
using crypto::kChunk;

namespace {

std::string base64(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string random_bytes(std::size_t n) {
  std::string s(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n));
  return s;
}

crypto::Key new_key() { return crypto::parse_key(base64(random_bytes(32)) + "\n", "test key"); }

// Incompressible-looking but reproducible plaintext.
std::string data(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

struct Repo {
  TempDir dir{"pgrecover-crypto-test-"};
  fs::path root = dir.path() / "repo";
  std::shared_ptr<storage::Storage> raw = storage::open(storage::posix_location(root), "vault", true);
  crypto::Key key = new_key();
  std::shared_ptr<storage::Storage> enc = with({key});

  std::shared_ptr<storage::Storage> with(std::vector<crypto::Key> keys) const {
    crypto::Keyring ring{keys.front(), {keys.begin() + 1, keys.end()}, "test.toml [repositories.vault]"};
    return crypto::encrypted(raw, ring, "vault", dir.path());
  }
  fs::path file(const std::string& key) const { return root / key; }
  std::string stored(const std::string& key) const { return read_file(file(key)); }
  void store_raw(const std::string& key, const std::string& bytes) const {
    std::ofstream(file(key), std::ios::binary | std::ios::trunc) << bytes;
  }
};

std::string read_all(const storage::Storage& s, const std::string& key, std::uint64_t off = 0,
                     std::optional<std::uint64_t> len = std::nullopt, std::size_t step = 7000) {
  auto r = s.open(key, off, len);
  std::string out, buf(step, '\0');
  for (std::size_t n; (n = r->read(buf.data(), buf.size())) > 0;) out.append(buf.data(), n);
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("crypto: objects of every size round-trip, are stored encrypted, and list with their plaintext size",
          "[storage][crypto]") {
  Repo r;
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, kChunk - 1, kChunk, kChunk + 1, 3 * kChunk + 17}) {
    INFO("size " << n);
    std::string key = "backups/p/20250101T000000Z/f" + std::to_string(n);
    std::string plain = data(n);
    REQUIRE(storage::put(*r.enc, key, plain));
    std::string stored = r.stored(key);
    CHECK(stored.size() == crypto::stored_size(n));
    CHECK(crypto::plain_size(stored.size()) == n);
    CHECK(stored.substr(0, 6) == "PGRENC");
    if (n >= 16) CHECK_FALSE(contains(stored, plain.substr(0, 16)));
    CHECK(read_all(*r.enc, key) == plain);
    CHECK(r.enc->stat(key)->size == n);
    std::uint64_t size = 0;
    CHECK(storage::sha256(*r.enc, key, &size) == sha256_hex(plain));  // checksums stay over the plaintext
    CHECK(size == n);
  }
  auto listed = r.enc->list("backups/p/");
  REQUIRE(listed.size() == 6);
  for (const auto& o : listed) CHECK(o.size == std::stoull(o.key.substr(o.key.rfind('f') + 1)));
  CHECK(r.enc->encryption_key_id() == r.key.id());
  // Every object has its own salt: the same plaintext twice is stored differently.
  storage::put(*r.enc, "a", "same");
  storage::put(*r.enc, "b", "same");
  CHECK(r.stored("a") != r.stored("b"));
  // An exclusive write never replaces (the WAL archive relies on it).
  CHECK_FALSE(storage::put(*r.enc, "a", "other", {true}));
  CHECK(read_all(*r.enc, "a") == "same");
}

TEST_CASE("crypto: byte ranges decrypt only the chunks they need, at every chunk edge", "[storage][crypto]") {
  Repo r;
  const std::size_t n = 3 * kChunk + 100;
  std::string plain = data(n, 7);
  storage::put(*r.enc, "obj", plain);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges = {
      {0, 1}, {0, kChunk}, {kChunk - 1, 2}, {kChunk, kChunk}, {kChunk - 1, kChunk + 2}, {2 * kChunk + 5, kChunk},
      {3 * kChunk, 100}, {3 * kChunk + 99, 1}, {n, 0}, {17, n - 17}, {0, n}};
  for (auto [off, len] : ranges) {
    INFO("offset " << off << " length " << len);
    CHECK(read_all(*r.enc, "obj", off, len) == plain.substr(off, len));
  }
  CHECK(read_all(*r.enc, "obj", kChunk + 3) == plain.substr(kChunk + 3));  // to the end
  CHECK(contains(error_of([&] { r.enc->open("obj", n + 1); }), "past its end"));
  CHECK(contains(error_of([&] { r.enc->open("obj", n - 10, 11); }), "ends 1 bytes early"));
  CHECK(contains(error_of([&] { r.enc->open("missing", 5, 1); }), "does not exist"));
}

TEST_CASE("crypto: a flipped byte, a cut, reordered chunks or a moved object fail authentication, naming the object",
          "[storage][crypto]") {
  Repo r;
  std::string plain = data(2 * kChunk + 10, 3);
  storage::put(*r.enc, "backups/p/20250101T000000Z/data.dump", plain);
  const std::string key = "backups/p/20250101T000000Z/data.dump";
  const std::string good = r.stored(key);
  const std::string where = r.file(key).string();
  auto fails = [&](const std::string& stored, const std::string& expected) {
    r.store_raw(key, stored);
    std::string e = error_of([&] { read_all(*r.enc, key); });
    INFO(e);
    CHECK(contains(e, "\"" + where + "\""));
    CHECK(contains(e, expected));
    r.store_raw(key, good);
  };
  std::string flipped = good;
  flipped[crypto::kHeaderBytes + kChunk + 100] ^= 0x01;  // in chunk 1
  fails(flipped, "failed authentication at chunk 1");
  std::string salt = good;
  salt[20] ^= 0x01;  // the header's salt: another object key, nothing decrypts
  fails(salt, "failed authentication at chunk 0");
  fails(good.substr(0, good.size() - 1), "failed authentication at chunk 2");  // the final chunk cut
  fails(good.substr(0, crypto::kHeaderBytes + 2 * crypto::kStoredChunk), "truncated: it ends after 2 chunks without its final chunk");
  std::string swapped = good.substr(0, crypto::kHeaderBytes) + good.substr(crypto::kHeaderBytes + crypto::kStoredChunk, crypto::kStoredChunk) +
                        good.substr(crypto::kHeaderBytes, crypto::kStoredChunk) + good.substr(crypto::kHeaderBytes + 2 * crypto::kStoredChunk);
  fails(swapped, "failed authentication at chunk 0");
  fails(good + "x", "failed authentication at chunk 2");  // appended to
  // The damage is found by range reads too, and by the checksum a verify computes.
  r.store_raw(key, flipped);
  CHECK(contains(error_of([&] { read_all(*r.enc, key, kChunk + 50, 10); }), "failed authentication at chunk 1"));
  CHECK(read_all(*r.enc, key, 0, 100) == plain.substr(0, 100));  // chunk 0 is intact
  CHECK(contains(error_of([&] { storage::sha256(*r.enc, key); }), where));
  r.store_raw(key, good);
  // An object moved to another name does not decrypt there (the name is authenticated).
  fs::rename(r.file(key), r.file("backups/p/20250101T000000Z/other.dump"));
  CHECK(contains(error_of([&] { read_all(*r.enc, "backups/p/20250101T000000Z/other.dump"); }), "failed authentication at chunk 0"));
}

TEST_CASE("crypto: another key, an object in clear, or an encrypted object without a key: clear errors naming the key ids",
          "[storage][crypto]") {
  Repo r;
  storage::put(*r.enc, "wal/main/000000010000000000000001", "segment");
  crypto::Key other = new_key();
  auto wrong = r.with({other});
  std::string e;
  try {
    read_all(*wrong, "wal/main/000000010000000000000001");
  } catch (const storage::KeyError& k) {
    e = k.what();
  }
  INFO(e);
  CHECK(contains(e, "was encrypted with key id " + r.key.id()));
  CHECK(contains(e, "has key id " + other.id()));
  CHECK(contains(e, "test.toml [repositories.vault]"));
  CHECK(contains(e, r.file("wal/main/000000010000000000000001").string()));
  CHECK_THROWS_AS(read_all(*wrong, "wal/main/000000010000000000000001", 1, 2), storage::KeyError);
  // After a rotation the old key still decrypts what it wrote; new writes use the new key.
  auto rotated = r.with({other, r.key});
  CHECK(read_all(*rotated, "wal/main/000000010000000000000001") == "segment");
  CHECK(rotated->encryption_key_id() == other.id());
  storage::put(*rotated, "new", "x");
  CHECK_THROWS_AS(read_all(*r.enc, "new"), storage::KeyError);

  // In clear in an encrypted repository: refused, not passed through unauthenticated.
  r.store_raw("wal/main/000000010000000000000002", "plain text");
  CHECK(contains(error_of([&] { read_all(*r.enc, "wal/main/000000010000000000000002"); }), "is not encrypted, but repository \"vault\""));
  CHECK_THROWS_AS(read_all(*r.enc, "wal/main/000000010000000000000002"), storage::KeyError);

  // A repository without a key refuses ciphertext instead of handing it on, and reads clear text.
  auto none = crypto::refuse_encrypted(r.raw, "vault", "test.toml [repositories.vault]");
  CHECK(contains(error_of([&] { read_all(*none, "wal/main/000000010000000000000001"); }),
                 "is encrypted (key id " + r.key.id() + "), but repository \"vault\" has no encryption key"));
  CHECK(read_all(*none, "wal/main/000000010000000000000002") == "plain text");
  CHECK(read_all(*none, "wal/main/000000010000000000000002", 6) == "text");
  CHECK(none->encryption_key_id().empty());
}

TEST_CASE("crypto: a staged backup never lands in the repository in clear and records its key id", "[storage][crypto]") {
  Repo r;
  repository::Repository repo(r.enc, "vault");
  auto pending = repo.begin("nightly", repository::TimePoint{std::chrono::seconds{1735689600}});
  CHECK(pending.dir().string().rfind(r.root.string(), 0) != 0);  // staged outside the repository
  write_file_atomic(pending.dir() / "data.dump", "MARKER-TABLE-ROW " + data(100000));
  repository::Manifest m;
  m.kind = "logical";
  m.database = "shop";
  m.data = "data.dump";
  m.globals = repository::Globals{};
  m.globals->roles.push_back({.name = "MARKER-ROLE", .comment = "MARKER-COMMENT"});
  auto b = pending.commit(m);
  CHECK(b.encryption_key_id == r.key.id());
  auto listed = repo.list();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].encryption_key_id == r.key.id());
  CHECK(repo.read_manifest(listed[0]).encryption_key_id == r.key.id());
  CHECK(repo.read_manifest(listed[0]).files.at(0).size == 17 + 100000);
  CHECK(repo.verify_files(listed[0]).empty());
  for (const auto& e : fs::recursive_directory_iterator(r.root)) {
    if (!e.is_regular_file()) continue;
    std::string bytes = read_file(e.path());
    INFO(e.path().string());
    CHECK_FALSE(contains(bytes, "MARKER"));
    CHECK(bytes.substr(0, 6) == "PGRENC");
  }
  // A flipped byte: verify names the file; a wrong key: the listing says why nothing is there.
  std::string key = repository::Repository::file_key(listed[0], "data.dump");
  std::string stored = r.stored(key);
  stored[stored.size() / 2] ^= 0x20;
  r.store_raw(key, stored);
  auto problems = repo.verify_files(listed[0]);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].file == "data.dump");
  CHECK(contains(problems[0].message, "failed authentication"));
  repository::Repository wrong(r.with({new_key()}), "vault");
  CHECK(contains(error_of([&] { wrong.list(); }), "was encrypted with key id " + r.key.id()));
  CHECK(contains(error_of([&] { wrong.find(listed[0].id); }), "was encrypted with key id " + r.key.id()));
  repository::Repository clear(crypto::refuse_encrypted(r.raw, "vault", "test.toml"), "vault");
  CHECK(contains(error_of([&] { clear.list(); }), "has no encryption key configured"));
}

TEST_CASE("crypto: keys are what openssl rand -base64 32 prints, files readable by others are refused", "[storage][crypto]") {
  std::string raw = random_bytes(32);
  auto k = crypto::parse_key("  " + base64(raw) + "\r\n", "k");
  std::string digest = sha256_hex(raw);
  CHECK(k.id() == digest.substr(0, 16));
  CHECK(contains(error_of([] { crypto::parse_key("not base64!", "encryption_key_env (x.toml [repositories.r])"); }),
                 "encryption_key_env (x.toml [repositories.r]) is not base64"));
  CHECK(contains(error_of([] { crypto::parse_key(base64(std::string(31, 'a')), "k"); }), "holds 31 bytes; an AES-256 key is 32 bytes"));
  CHECK(contains(error_of([] { crypto::parse_key("", "k"); }), "is empty"));
  CHECK(contains(error_of([] { crypto::parse_key("QUJD=A==", "k"); }), "is not base64"));
  // The key itself is never in a message.
  std::string secretish = base64(std::string(24, 'z'));
  CHECK_FALSE(contains(error_of([&] { crypto::parse_key(secretish, "k"); }), secretish));

  TempDir dir;
  fs::path f = dir.path() / "offsite.key";
  write_file_atomic(f, base64(raw) + "\n", 0600);
  CHECK(crypto::read_key_file(f, "encryption_key_file").id() == k.id());
  ::chmod(f.c_str(), 0640);
  std::string open = error_of([&] { crypto::read_key_file(f, "encryption_key_file \"" + f.string() + "\""); });
  CHECK(contains(open, f.string()));
  CHECK(contains(open, "permissions 0640 are too open"));
  CHECK(contains(error_of([&] { crypto::read_key_file(dir.path() / "absent.key", "encryption_key_file \"absent.key\""); }),
                 "encryption_key_file \"absent.key\": cannot open the key file"));
  ::unsetenv("PGR_TEST_NO_SUCH_KEY");
  CHECK(contains(error_of([] { crypto::read_key_env("PGR_TEST_NO_SUCH_KEY", "encryption_key_env (x.toml [repositories.r])"); }),
                 "the environment variable PGR_TEST_NO_SUCH_KEY is not set"));
}

TEST_CASE("crypto: settings name the key by file or variable, older keys for reading, staging for encrypted folders",
          "[storage][crypto][config]") {
  auto s = config::parse_settings(R"([repositories.vault]
path = "/srv/vault"
encryption_key_file = "keys/vault.key"
decryption_key_files = ["keys/vault-2024.key", "/etc/pgrecover/vault-2023.key"]
staging_dir = "/var/tmp/pgrecover"

[repositories.plain]
path = "/srv/plain"
)",
                                  "/etc/pgrecover/pgrecover.toml");
  const auto& v = s.repositories.at("vault");
  CHECK(v.encrypted());
  CHECK(v.encryption_key_file == "/etc/pgrecover/keys/vault.key");
  CHECK(v.decryption_key_files == std::vector<fs::path>{"/etc/pgrecover/keys/vault-2024.key", "/etc/pgrecover/vault-2023.key"});
  CHECK(v.staging_dir == "/var/tmp/pgrecover");
  CHECK_FALSE(s.repositories.at("plain").encrypted());
  auto bad = [](const std::string& toml) {
    try {
      config::parse_settings(toml, "/etc/pgrecover/pgrecover.toml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(contains(bad("[repositories.r]\npath = \"/x\"\nencryption_key_file = \"/k\"\nencryption_key_env = \"K\"\n"),
                 "give encryption_key_file or encryption_key_env, not both"));
  CHECK(contains(bad("[repositories.r]\npath = \"/x\"\ndecryption_key_files = [\"/old.key\"]\n"),
                 "repositories.r.decryption_key_files needs encryption_key_file or encryption_key_env"));
  CHECK(contains(bad("[repositories.r]\npath = \"/x\"\nencryption_key_env = \"K\"\ndecryption_key_files = \"/old.key\"\n"),
                 "must be an array of paths"));
  CHECK(contains(bad("[repositories.r]\npath = \"/x\"\nstaging_dir = \"/tmp\"\n"), "repositories.r.staging_dir is for type \"s3\" and encrypted"));
  CHECK(contains(bad("[repositories.r]\npath = \"/x\"\nencryption_key = \"abc\"\n"), "unknown key \"encryption_key\""));
}

TEST_CASE("crypto: a copy into an encrypted repository records that repository's key id, not the first's",
          "[storage][crypto][copies]") {
  TempDir dir{"pgrecover-crypto-copy-"};
  repository::Repository plain(storage::open(storage::posix_location(dir.path() / "local"), "local", true), "local");
  Repo off;
  repository::Repository vault(off.enc, "vault");
  auto pending = plain.begin("shop", std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  write_file_atomic(pending.dir() / "data.dump", "COPY rows ZEBRAMARKER42\n");
  repository::Manifest m;
  m.format = "custom";
  m.data = "data.dump";
  auto b = pending.commit(m);
  CHECK(plain.read_manifest(b).encryption_key_id.empty());
  auto r = repository::copy_backup(plain, b, vault);
  CHECK(vault.read_manifest(r.copy).encryption_key_id == off.key.id());
  CHECK(vault.verify_files(r.copy).empty());
  // Nothing of the copy is stored in clear, the manifest included.
  for (const auto& o : off.raw->list("backups/")) {
    INFO(o.key);
    CHECK(off.stored(o.key).find("ZEBRAMARKER42") == std::string::npos);
    CHECK(off.stored(o.key).rfind("PGRENC", 0) == 0);
  }
}
