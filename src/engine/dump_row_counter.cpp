#include "engine/dump_row_counter.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <regex>
#include <vector>

#include "engine/logical.hpp"
#include "util/log.hpp"

namespace pgr::engine {

namespace fs = std::filesystem;

namespace {

// pg_dump -Fd's table data files: "<dump id>.dat" with the compression's suffix.
bool is_data_file(const std::string& name) {
  static const std::regex re(R"([0-9]+\.dat(\.gz|\.lz4|\.zst)?)");
  return std::regex_match(name, re);
}

std::int64_t count_file(const fs::path& path, ProgressCounters* progress) {
  auto reader = archive::open_data_file(path);
  std::vector<char> buf(1 << 20);
  std::int64_t rows = 0;
  for (std::size_t got; (got = reader->read(buf.data(), buf.size())) > 0;) {
    rows += std::count(buf.data(), buf.data() + got, '\n');
    if (progress) progress->bytes += static_cast<std::int64_t>(got);
  }
  return rows;
}

}  // namespace

DumpRowCounter::DumpRowCounter(fs::path folder, ProgressCounters* progress)
    : folder_(std::move(folder)), progress_(progress) {
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ >= 0 && ::inotify_add_watch(fd_, folder_.c_str(), IN_CLOSE_WRITE) < 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ < 0) {
    log::debug("row counts: cannot watch {} (inotify), the data is counted after pg_dump", folder_.string());
    return;
  }
  thread_ = std::thread([this] { watch(); });
}

DumpRowCounter::~DumpRowCounter() { stop(); }

void DumpRowCounter::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void DumpRowCounter::watch() {
  // Lowest priority, for this thread only: it gets the CPU that pg_dump and the server leave idle.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
  alignas(inotify_event) char buf[16384];
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::read(fd_, buf, sizeof buf);
    for (char* at = buf; n > 0 && at < buf + n && !stop_;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(at);
      at += sizeof(inotify_event) + ev->len;
      if (ev->len == 0 || (ev->mask & IN_ISDIR)) continue;
      std::string name(ev->name);
      if (!is_data_file(name)) continue;
      {
        std::lock_guard lock(mu_);
        busy_ = name;
      }
      try {
        std::int64_t rows = count_file(folder_ / name, progress_);
        std::lock_guard lock(mu_);
        counted_[name] = rows;
      } catch (const std::exception& e) {
        // Counted again by finish(), which reports the error with the table's name.
        log::debug("row counts: {} not counted during the dump: {}", name, e.what());
      }
      std::lock_guard lock(mu_);
      busy_.clear();
    }
  }
}

int DumpRowCounter::counted_early() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(counted_.size());
}

std::map<std::string, std::int64_t> DumpRowCounter::finish(const archive::Archive& archive) {
  // The watcher ends after the file it is counting (its work is not thrown away); the files nobody
  // counted yet are counted meanwhile, on all cores.
  stop_ = true;
  std::map<std::string, std::int64_t> known;
  std::string busy;
  {
    std::lock_guard lock(mu_);
    known = counted_;
    busy = busy_;
  }
  if (!busy.empty()) known[busy] = -1;  // the watcher's: filled in below
  auto rows = count_archive_rows(archive, known, progress_);
  stop();
  if (busy.empty()) return rows;
  std::optional<std::int64_t> watched;
  {
    std::lock_guard lock(mu_);
    if (auto it = counted_.find(busy); it != counted_.end()) watched = it->second;
  }
  if (!watched) {
    // The watcher failed on it: counted here, so that its error is reported with the table's name.
    known.erase(busy);
    return count_archive_rows(archive, known, progress_);
  }
  for (const auto& e : archive.toc().entries)
    if (e.desc == "TABLE DATA" && e.data.file == busy) rows[e.namespace_ + "." + e.tag] = *watched;
  return rows;
}

}  // namespace pgr::engine
