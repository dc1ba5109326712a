#include "storage/crypto/crypto.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "storage/crypto/format.hpp"
#include "util/error.hpp"

namespace pgr::storage::crypto {

namespace {

constexpr const char* kKeyIdHowTo = "a key's id is the start of its SHA-256: base64 -d < KEYFILE | sha256sum | cut -c1-16";

// Reads until `n` bytes or the end of the object; returns how many were read.
std::size_t read_full(Reader& in, char* buf, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    std::size_t r = in.read(buf + got, n - got);
    if (r == 0) break;
    got += r;
  }
  return got;
}

// ---- writes: header, then full chunks as they fill, then the final (short) chunk at commit -----

class EncryptingWriter final : public Writer {
 public:
  EncryptingWriter(std::unique_ptr<Writer> out, const Key& key, const std::string& object_key)
      : out_(std::move(out)), header_(new_header(key)), cipher_(key, header_, object_key) {
    buf_.reserve(kChunk);
    sealed_.reserve(kStoredChunk);
    out_->write(header_.bytes);
  }
  void write(const char* data, std::size_t n) override {
    while (n > 0) {
      std::size_t take = std::min(n, kChunk - buf_.size());
      buf_.append(data, take);
      data += take;
      n -= take;
      if (buf_.size() == kChunk) flush(false);  // a full chunk is never the final one
    }
  }
  bool commit() override {
    flush(true);
    return out_->commit();
  }

 private:
  void flush(bool final) {
    sealed_.clear();
    cipher_.seal(index_++, final, buf_.data(), buf_.size(), sealed_);
    out_->write(sealed_);
    buf_.clear();
  }
  std::unique_ptr<Writer> out_;
  Header header_;
  ChunkCipher cipher_;
  std::string buf_, sealed_;
  std::uint64_t index_ = 0;
};

// ---- reads: chunk by chunk, each authenticated before a byte of it is handed out ---------------

class EncryptedStorage final : public Storage {
 public:
  EncryptedStorage(std::shared_ptr<Storage> inner, Keyring keys, std::string name, std::filesystem::path staging)
      : inner_(std::move(inner)), keys_(std::move(keys)), name_(std::move(name)), staging_(std::move(staging)) {}

  using Storage::describe;
  std::string describe() const override { return inner_->describe(); }
  std::string encryption_key_id() const override { return keys_.current.id(); }

  std::unique_ptr<Writer> create(const std::string& key, const WriteOptions& options) override {
    return std::make_unique<EncryptingWriter>(inner_->create(key, options), keys_.current, key);
  }

  std::unique_ptr<Reader> open(const std::string& key, std::uint64_t offset,
                               std::optional<std::uint64_t> length) const override;

  std::optional<ObjectInfo> stat(const std::string& key) const override {
    auto info = inner_->stat(key);
    if (info) info->size = plain_size(info->size).value_or(0);
    return info;
  }
  std::vector<ObjectInfo> list(const std::string& prefix) const override {
    auto all = inner_->list(prefix);
    // An object whose size no encrypted object has (stored in clear, cut short) lists as 0
    // bytes; reading it fails naming it.
    for (auto& o : all) o.size = plain_size(o.size).value_or(0);
    return all;
  }
  void remove(const std::string& key) override { inner_->remove(key); }
  void remove_all(const std::string& prefix) override { inner_->remove_all(prefix); }
  std::unique_ptr<Staging> stage(const std::string& prefix) override { return copy_staging(*this, prefix, staging_); }
  std::vector<std::string> stale_staging(const std::string& parent) const override { return inner_->stale_staging(parent); }
  void clean_stale_staging(const std::string& parent) override { inner_->clean_stale_staging(parent); }

  // The cipher for an object whose first kHeaderBytes (or fewer, when it is shorter) are `head`.
  std::unique_ptr<ChunkCipher> cipher_for(const std::string& key, std::string_view head) const {
    std::string what = describe(key);
    if (head.size() < kHeaderBytes || !has_magic(head)) {
      throw KeyError(fmt::format("\"{}\" is not encrypted, but repository \"{}\" is configured with an encryption key ({})", what,
                                 name_, keys_.origin),
                     "an encrypted repository holds only objects pgrecover encrypted; a file stored in clear was put there "
                     "by something else, or the repository was used without its key: keep such backups in a repository "
                     "configured without encryption_key_file / encryption_key_env");
    }
    Header h = parse_header(head, what);
    const Key* k = keys_.find(h.key_id);
    if (k == nullptr) {
      throw KeyError(fmt::format("\"{}\" was encrypted with key id {}, but repository \"{}\" has {} ({})", what, h.key_id,
                                 name_, keys_.ids(), keys_.origin),
                     fmt::format("configure the key with id {} (as encryption_key_file, or in decryption_key_files to read "
                                 "backups written before a key rotation); {}",
                                 h.key_id, kKeyIdHowTo));
    }
    return std::make_unique<ChunkCipher>(*k, h, key);
  }

 private:
  std::shared_ptr<Storage> inner_;
  Keyring keys_;
  std::string name_;
  std::filesystem::path staging_;
};

class DecryptingReader final : public Reader {
 public:
  // Reads chunks from `in`, which starts at chunk `index`; drops the first `skip` plaintext bytes
  // and hands out at most `left`. `what` names the object in errors.
  DecryptingReader(std::string what, std::unique_ptr<Reader> in, std::unique_ptr<ChunkCipher> cipher, std::uint64_t index,
                   std::uint64_t skip, std::uint64_t left)
      : what_(std::move(what)),
        in_(std::move(in)),
        cipher_(std::move(cipher)),
        index_(index),
        skip_(skip),
        left_(left),
        whole_(left == std::numeric_limits<std::uint64_t>::max()) {}

  std::size_t read(char* buf, std::size_t cap) override {
    while (left_ > 0 && pos_ == plain_.size()) {
      if (done_) {
        if (whole_) return 0;
        fail(ErrorKind::io, fmt::format("\"{}\" ends {} bytes early", what_, left_));  // changed since the range was computed
      }
      next_chunk();
    }
    std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>({cap, plain_.size() - pos_, left_}));
    std::memcpy(buf, plain_.data() + pos_, take);
    pos_ += take;
    left_ -= take;
    return take;
  }

 private:
  void next_chunk() {
    stored_.resize(kStoredChunk);
    std::size_t n = read_full(*in_, stored_.data(), stored_.size());
    if (n == 0) {
      fail(ErrorKind::io, fmt::format("\"{}\" is truncated: it ends after {} chunks without its final chunk", what_, index_),
           "the object was cut short after it was written; restore from another backup");
    }
    bool final = n < kStoredChunk;  // only the final chunk is shorter than a full one
    if (!cipher_->open(index_, final, stored_.data(), n, plain_)) {
      fail(ErrorKind::io,
           fmt::format("\"{}\" failed authentication at chunk {} (plaintext bytes from {}): it was changed, damaged or cut "
                       "short after it was written",
                       what_, index_, index_ * kChunk),
           "nothing of it can be trusted; restore from another backup or copy");
    }
    ++index_;
    done_ = final;
    pos_ = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, plain_.size()));
    skip_ = 0;
  }

  std::string what_;
  std::unique_ptr<Reader> in_;
  std::unique_ptr<ChunkCipher> cipher_;
  std::uint64_t index_, skip_, left_;
  bool whole_;  // to the end of the object, however long; else exactly `left` bytes
  std::string stored_, plain_;
  std::size_t pos_ = 0;
  bool done_ = false;
};

std::unique_ptr<Reader> EncryptedStorage::open(const std::string& key, std::uint64_t offset,
                                               std::optional<std::uint64_t> length) const {
  constexpr auto kAll = std::numeric_limits<std::uint64_t>::max();
  if (offset == 0 && !length) {  // the whole object, streamed: the header comes first
    auto in = inner_->open(key);
    std::string head(kHeaderBytes, '\0');
    head.resize(read_full(*in, head.data(), head.size()));
    auto cipher = cipher_for(key, head);
    return std::make_unique<DecryptingReader>(describe(key), std::move(in), std::move(cipher), 0, 0, kAll);
  }
  // A range: only the chunks that hold it are read.
  auto info = inner_->stat(key);
  if (!info) fail(ErrorKind::io, fmt::format("\"{}\" does not exist", describe(key)));
  std::string head(kHeaderBytes, '\0');
  {
    auto r = inner_->open(key, 0, std::min<std::uint64_t>(info->size, kHeaderBytes));
    head.resize(read_full(*r, head.data(), head.size()));
  }
  auto cipher = cipher_for(key, head);
  auto plain = plain_size(info->size);
  if (!plain) {
    fail(ErrorKind::io, fmt::format("\"{}\" is {} bytes, which no encrypted object is: it was cut short or changed", describe(key),
                                    info->size));
  }
  if (offset > *plain) fail(ErrorKind::io, fmt::format("\"{}\": offset {} is past its end ({} bytes)", describe(key), offset, *plain));
  std::uint64_t len = length.value_or(*plain - offset);
  if (len > *plain - offset) fail(ErrorKind::io, fmt::format("\"{}\" ends {} bytes early", describe(key), len - (*plain - offset)));
  if (len == 0) return std::make_unique<DecryptingReader>(describe(key), nullptr, std::move(cipher), 0, 0, 0);
  std::uint64_t first = offset / kChunk, last = (offset + len - 1) / kChunk;
  std::uint64_t start = kHeaderBytes + first * kStoredChunk;
  std::uint64_t end = std::min<std::uint64_t>(info->size, kHeaderBytes + (last + 1) * kStoredChunk);
  return std::make_unique<DecryptingReader>(describe(key), inner_->open(key, start, end - start), std::move(cipher), first,
                                            offset - first * kChunk, len);
}

// ---- a repository without a key --------------------------------------------------------------

class CheckingReader final : public Reader {
 public:
  CheckingReader(std::unique_ptr<Reader> in, std::string what, std::string name, std::string origin)
      : in_(std::move(in)), what_(std::move(what)), name_(std::move(name)), origin_(std::move(origin)) {}
  std::size_t read(char* buf, std::size_t cap) override {
    if (!checked_) check();
    if (pos_ < head_.size()) {
      std::size_t take = std::min(cap, head_.size() - pos_);
      std::memcpy(buf, head_.data() + pos_, take);
      pos_ += take;
      return take;
    }
    return in_->read(buf, cap);
  }

 private:
  void check() {
    checked_ = true;
    head_.resize(16);
    head_.resize(read_full(*in_, head_.data(), head_.size()));
    if (head_.size() < 16 || !has_magic(head_)) return;
    std::string id;
    for (std::size_t i = 8; i < 16; ++i) id += fmt::format("{:02x}", static_cast<unsigned char>(head_[i]));
    throw KeyError(fmt::format("\"{}\" is encrypted (key id {}), but repository \"{}\" has no encryption key configured ({})", what_,
                               id, name_, origin_),
                   fmt::format("set encryption_key_file or encryption_key_env in [repositories.{}] to the key with id {}; {}", name_,
                               id, kKeyIdHowTo));
  }
  std::unique_ptr<Reader> in_;
  std::string what_, name_, origin_;
  std::string head_;
  std::size_t pos_ = 0;
  bool checked_ = false;
};

class PlainStorage final : public Storage {
 public:
  PlainStorage(std::shared_ptr<Storage> inner, std::string name, std::string origin)
      : inner_(std::move(inner)), name_(std::move(name)), origin_(std::move(origin)) {}

  using Storage::describe;
  std::string describe() const override { return inner_->describe(); }
  std::unique_ptr<Writer> create(const std::string& key, const WriteOptions& options) override { return inner_->create(key, options); }
  std::unique_ptr<Reader> open(const std::string& key, std::uint64_t offset,
                               std::optional<std::uint64_t> length) const override {
    auto r = inner_->open(key, offset, length);
    if (offset != 0) return r;  // only the start of an object says whether it is encrypted
    return std::make_unique<CheckingReader>(std::move(r), describe(key), name_, origin_);
  }
  std::optional<ObjectInfo> stat(const std::string& key) const override { return inner_->stat(key); }
  std::vector<ObjectInfo> list(const std::string& prefix) const override { return inner_->list(prefix); }
  void remove(const std::string& key) override { inner_->remove(key); }
  void remove_all(const std::string& prefix) override { inner_->remove_all(prefix); }
  std::unique_ptr<Staging> stage(const std::string& prefix) override { return inner_->stage(prefix); }
  std::vector<std::string> stale_staging(const std::string& parent) const override { return inner_->stale_staging(parent); }
  void clean_stale_staging(const std::string& parent) override { inner_->clean_stale_staging(parent); }

 private:
  std::shared_ptr<Storage> inner_;
  std::string name_, origin_;
};

}  // namespace

std::shared_ptr<Storage> encrypted(std::shared_ptr<Storage> inner, Keyring keys, std::string name,
                                   std::filesystem::path staging_base) {
  return std::make_shared<EncryptedStorage>(std::move(inner), std::move(keys), std::move(name), std::move(staging_base));
}

std::shared_ptr<Storage> refuse_encrypted(std::shared_ptr<Storage> inner, std::string name, std::string origin) {
  return std::make_shared<PlainStorage>(std::move(inner), std::move(name), std::move(origin));
}

}  // namespace pgr::storage::crypto
