// Key rules and the helpers every driver shares.
#include "storage/storage.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "storage/posix/posix.hpp"
#include "storage/s3/s3.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

namespace pgr::storage {

namespace {
constexpr std::size_t kChunk = 1 << 20;
}

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 1024 || key.find('\0') != std::string_view::npos) return false;
  std::size_t pos = 0;
  for (;;) {
    std::size_t slash = key.find('/', pos);
    std::string_view part = key.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (part.empty() || part[0] == '.') return false;
    if (slash == std::string_view::npos) return true;
    pos = slash + 1;
  }
}

void check_key(std::string_view key) {
  if (!valid_key(key)) fail(ErrorKind::internal, fmt::format("\"{}\" is not a valid storage key", key));
}

std::string Storage::describe(std::string_view key) const { return describe() + "/" + std::string(key); }

void Storage::remove_all(const std::string& prefix) {
  auto objects = list(prefix);
  // Deepest first, so a listing interrupted half-way never shows a parent without its children.
  std::reverse(objects.begin(), objects.end());
  for (const auto& o : objects) remove(o.key);
}

bool put(Storage& s, const std::string& key, std::string_view data, const WriteOptions& options) {
  auto w = s.create(key, options);
  w->write(data);
  return w->commit();
}

bool put_file(Storage& s, const std::string& key, const fs::path& file, const WriteOptions& options) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) fail(ErrorKind::io, fmt::format("could not open \"{}\": {}", file.string(), errno_text(errno)));
  std::unique_ptr<int, void (*)(int*)> guard(&fd, [](int* f) { ::close(*f); });
  auto w = s.create(key, options);
  std::vector<char> buf(kChunk);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(ErrorKind::io, fmt::format("could not read \"{}\": {}", file.string(), errno_text(errno)));
    if (n == 0) break;
    w->write(buf.data(), static_cast<std::size_t>(n));
  }
  return w->commit();
}

std::optional<std::string> get(const Storage& s, const std::string& key, std::uint64_t max_bytes) {
  auto info = s.stat(key);
  if (!info) return std::nullopt;
  if (info->size > max_bytes) {
    fail(ErrorKind::io, fmt::format("\"{}\" is {} bytes, more than the {} expected", s.describe(key), info->size, max_bytes));
  }
  auto r = s.open(key);
  std::string out;
  std::vector<char> buf(kChunk);
  for (std::size_t n; (n = r->read(buf.data(), buf.size())) > 0;) {
    out.append(buf.data(), n);
    if (out.size() > max_bytes) fail(ErrorKind::io, fmt::format("\"{}\" grew past {} bytes while read", s.describe(key), max_bytes));
  }
  return out;
}

void get_file(const Storage& s, const std::string& key, const fs::path& dest) {
  auto r = s.open(key);
  AtomicFile out(dest, 0600);
  std::vector<char> buf(kChunk);
  for (std::size_t n; (n = r->read(buf.data(), buf.size())) > 0;) out.write(std::string_view(buf.data(), n));
  out.commit();
}

std::string sha256(const Storage& s, const std::string& key, std::uint64_t* size) {
  auto r = s.open(key);
  Sha256 h;
  std::uint64_t total = 0;
  std::vector<char> buf(kChunk);
  for (std::size_t n; (n = r->read(buf.data(), buf.size())) > 0;) {
    h.update(std::string_view(buf.data(), n));
    total += n;
  }
  if (size) *size = total;
  return h.hex();
}

namespace {

class CopyStaging final : public Staging {
 public:
  CopyStaging(Storage& s, std::string prefix, const fs::path& base)
      : s_(s), prefix_(std::move(prefix)), temp_("pgrecover-staging-", base) {}
  const fs::path& dir() const override { return temp_.path(); }
  void commit() override {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(temp_.path())) {
      auto st = e.symlink_status();
      if (fs::is_directory(st)) continue;
      if (!fs::is_regular_file(st)) {
        fail(ErrorKind::io, fmt::format("\"{}\" in the staging folder is not a regular file", e.path().string()));
      }
      files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string key = prefix_ + fs::relative(f, temp_.path()).generic_string();
      check_key(key);
      put_file(s_, key, f);
      fs::remove(f);
    }
  }

 private:
  Storage& s_;
  std::string prefix_;
  TempDir temp_;
};

}  // namespace

std::unique_ptr<Staging> copy_staging(Storage& s, const std::string& prefix, const fs::path& base) {
  return std::make_unique<CopyStaging>(s, prefix, base);
}

std::shared_ptr<Storage> open(const Location& location, const std::string& name, bool create) {
  if (location.type == "posix") return std::make_shared<PosixStorage>(location.path, name, create);
  if (location.type == "s3") return open_s3(location, name);
  fail(ErrorKind::input, fmt::format("repository \"{}\": unknown storage type \"{}\"", name, location.type));
}

}  // namespace pgr::storage
