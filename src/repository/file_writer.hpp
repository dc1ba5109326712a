// The writing of extracted files on a thread of its own (repository/physical.cpp's extract_tar):
// the caller fills a buffer, hands it over with the file's descriptor, and hashes the same bytes
// while this thread writes them (the kernel's page-cache copy is the largest cost of an extract).
// Buffers come from a small pool, so at most kBuffers MiB are in flight. The thread owns every
// descriptor it is given: it closes each after the file's last chunk (after starting its
// write-back when asked). The first write error is thrown by the next acquire() or by finish();
// later chunks are then dropped (their descriptors still closed).
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

namespace pgr::repository {

class FileWriter {
 public:
  static constexpr std::size_t kBufferSize = 1 << 20;
  static constexpr std::size_t kBuffers = 8;

  explicit FileWriter(bool early_writeback);
  ~FileWriter();  // stops the thread; chunks not yet written are dropped, descriptors closed
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  // A free buffer of kBufferSize bytes (waits for one); throws the writer's error if there is one.
  std::vector<char> acquire();
  // Queues `n` bytes of `buf` for `fd` at the file's current end; `last`: the file is complete
  // (an empty file is one call with n = 0 and last = true).
  void write(int fd, const std::filesystem::path& target, std::vector<char> buf, std::size_t n, bool last);
  // Waits until everything queued is written and closed; throws the first error.
  void finish();

 private:
  struct Job {
    int fd;
    std::filesystem::path target;
    std::vector<char> buf;
    std::size_t n;
    bool last;
  };
  void run();

  bool early_writeback_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<char>> free_;
  std::deque<Job> jobs_;
  std::size_t busy_ = 0;  // jobs taken by the thread and not yet finished
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace pgr::repository
