#include "archive/archive.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "archive/backends.hpp"
#include "util/error.hpp"

namespace pgr::archive {

Archive::Archive(std::filesystem::path path, Toc toc) : path_(std::move(path)), toc_(std::move(toc)) {}

const TocEntry* Archive::find(int id) const {
  for (const auto& e : toc_.entries) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

std::unique_ptr<Archive> Archive::open(const std::filesystem::path& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    fail(ErrorKind::archive, fmt::format("{}: no such archive", path.string()),
         "give a pg_dump directory, custom (-Fc) or tar (-Ft) archive");
  }
  if (std::filesystem::is_directory(st)) {
    if (!std::filesystem::exists(path / "toc.dat")) {
      fail(ErrorKind::archive, fmt::format("{}: a folder without toc.dat is not a directory-format archive", path.string()));
    }
    return detail::open_directory(path);
  }
  char head[512];
  std::memset(head, 0, sizeof head);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    fail(ErrorKind::archive, fmt::format("{}: cannot open: {}", path.string(), std::strerror(err)));
  }
  ssize_t n = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  if (n >= 5 && std::memcmp(head, "PGDMP", 5) == 0) return detail::open_custom(path);
  if (n == 512 && std::memcmp(head + 257, "ustar", 5) == 0) return detail::open_tar(path);
  fail(ErrorKind::archive,
       fmt::format("{}: not a pg_dump archive (no \"PGDMP\" magic string and no tar header at byte 0)", path.string()),
       "plain-format (SQL) dumps cannot be inspected; use pg_dump -Fd, -Fc or -Ft");
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
