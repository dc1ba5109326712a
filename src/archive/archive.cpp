#include "archive/archive.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "archive/backends.hpp"
#include "util/error.hpp"

namespace pgr::archive {

Archive::Archive(std::shared_ptr<const Files> files, Toc toc)
    : files_(std::move(files)), path_(files_->origin("")), toc_(std::move(toc)) {}

std::unique_ptr<RowReader> Archive::open_data_pages(const TocEntry& e, std::int64_t, std::int64_t) const {
  fail(ErrorKind::archive, fmt::format("the rows of {}.{} come in one stream: they cannot be read by page ranges",
                                       e.namespace_, e.tag));
}

const TocEntry* Archive::find(int id) const {
  for (const auto& e : toc_.entries) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

std::unique_ptr<Archive> Archive::open(const std::filesystem::path& path) { return open(local_files(path)); }

std::unique_ptr<Archive> Archive::open(std::shared_ptr<const Files> files) {
  std::string where = files->origin("");
  if (files->is_folder()) {
    if (!files->size("toc.dat")) {
      fail(ErrorKind::archive, fmt::format("{}: a folder without toc.dat is not a directory-format archive", where));
    }
    return detail::open_directory(std::move(files));
  }
  char head[512];
  std::memset(head, 0, sizeof head);
  std::size_t n = 0;
  {
    auto f = files->open("");
    while (n < sizeof head) {
      std::size_t got = f->pread(head + n, sizeof head - n, static_cast<std::int64_t>(n));
      if (got == 0) break;
      n += got;
    }
  }
  if (n >= 5 && std::memcmp(head, "PGDMP", 5) == 0) return detail::open_custom(std::move(files));
  if (n == 512 && std::memcmp(head + 257, "ustar", 5) == 0) return detail::open_tar(std::move(files));
  fail(ErrorKind::archive,
       fmt::format("{}: not a pg_dump archive (no \"PGDMP\" magic string and no tar header at byte 0)", where),
       "plain-format (SQL) dumps cannot be inspected; use pg_dump -Fd, -Fc or -Ft");
}

std::filesystem::path Archive::write_toc_only_copy(const std::filesystem::path& dest) const {
  // directory: dest/toc.dat; custom: dest/archive.dump; tar: dest/archive.tar (+ end blocks)
  std::filesystem::create_directories(dest);
  bool folder = files_->is_folder();
  bool tar = toc_.header.format == Format::tar;
  std::filesystem::path out = folder ? dest / "toc.dat" : dest / (tar ? "archive.tar" : "archive.dump");
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(ErrorKind::io, fmt::format("could not create \"{}\": {}", out.string(), std::strerror(errno)));
  std::unique_ptr<int, void (*)(int*)> guard(&fd, [](int* f) { ::close(*f); });
  auto put = [&](const char* p, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) fail(ErrorKind::io, fmt::format("could not write \"{}\": {}", out.string(), std::strerror(errno)));
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  };
  auto in = files_->open(toc_file_);
  std::vector<char> buf(1 << 20);
  std::int64_t pos = 0;
  while (pos < toc_copy_bytes_) {
    auto want = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(buf.size()), toc_copy_bytes_ - pos));
    std::size_t got = in->pread(buf.data(), want, pos);
    if (got == 0) fail(ErrorKind::archive, fmt::format("{}: ends inside its table of contents", path_.string()));
    put(buf.data(), got);
    pos += static_cast<std::int64_t>(got);
  }
  if (tar && !folder) {
    std::vector<char> zeros(1024, 0);  // the end-of-archive blocks
    put(zeros.data(), zeros.size());
  }
  return folder ? dest : out;
}

bool listed_by_pg_restore(const TocEntry& e) {
  return e.desc != "ENCODING" && e.desc != "STDSTRINGS" && e.desc != "SEARCHPATH" && e.desc != "DATABASE" &&
         e.desc != "DATABASE PROPERTIES";
}

namespace detail {

std::string describe(const TocEntry& e) {
  std::string name = e.namespace_.empty() ? e.tag : e.namespace_ + "." + e.tag;
  return fmt::format("entry {} ({} {})", e.id, e.desc, name);
}

}  // namespace detail

}  // namespace pgr::archive
