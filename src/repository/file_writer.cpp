#include "repository/file_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace pgr::repository {

FileWriter::FileWriter(bool early_writeback) : early_writeback_(early_writeback) {
  for (std::size_t i = 0; i < kBuffers; ++i) free_.emplace_back(kBufferSize);
  thread_ = std::thread([this] { run(); });
}

FileWriter::~FileWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto& j : jobs_)
    if (j.last) ::close(j.fd);
}

std::vector<char> FileWriter::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !free_.empty() || error_; });
  if (error_) std::rethrow_exception(error_);
  auto buf = std::move(free_.front());
  free_.pop_front();
  return buf;
}

void FileWriter::write(int fd, const std::filesystem::path& target, std::vector<char> buf, std::size_t n, bool last) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(Job{fd, target, std::move(buf), n, last});
  }
  cv_.notify_all();
}

void FileWriter::finish() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return jobs_.empty() && busy_ == 0; });
  if (error_) std::rethrow_exception(error_);
}

void FileWriter::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !jobs_.empty() || stop_; });
      if (jobs_.empty() || stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      ++busy_;
    }
    bool failed = false;
    {
      std::lock_guard lock(mu_);
      failed = static_cast<bool>(error_);
    }
    try {
      const char* p = job.buf.data();
      std::size_t left = failed ? 0 : job.n;
      while (left > 0) {
        ssize_t w = ::write(job.fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) fail(ErrorKind::io, fmt::format("could not write \"{}\": {}", job.target.string(), errno_text(errno)));
        p += w;
        left -= static_cast<std::size_t>(w);
      }
#ifdef SYNC_FILE_RANGE_WRITE
      if (!failed && job.last && early_writeback_ && job.n > 0) ::sync_file_range(job.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
    } catch (...) {
      std::lock_guard lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
    if (job.last && ::close(job.fd) != 0 && !failed) {
      std::lock_guard lock(mu_);
      if (!error_) {
        try {
          fail(ErrorKind::io, fmt::format("could not close \"{}\": {}", job.target.string(), errno_text(errno)));
        } catch (...) {
          error_ = std::current_exception();
        }
      }
    }
    {
      std::lock_guard lock(mu_);
      free_.push_back(std::move(job.buf));
      --busy_;
    }
    cv_.notify_all();
  }
}

}  // namespace pgr::repository
