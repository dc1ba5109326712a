// A RowReader read ahead on its own thread: the archive's data is decompressed into a few
// blocks while the caller converts and sends the ones before, so a load session's server never
// waits for pgrecover's decompression (measured: the COPY backend waited in ClientRead about 40%
// of a single-session load without it, bench/results/bigtable-*). Bounded memory: `depth`
// blocks of `block` bytes. Errors of the inner reader are rethrown by read().
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "archive/archive.hpp"

namespace pgr::archive {

class ReadAhead : public RowReader {
 public:
  explicit ReadAhead(std::unique_ptr<RowReader> inner, std::size_t block = std::size_t{1} << 20, std::size_t depth = 4);
  ~ReadAhead() override;
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  bool next_row(std::string& row) override;  // not offered: use read()
  size_t read(char* buf, size_t cap) override;
  std::int64_t rows_sent() const override { return inner_->rows_sent(); }

 private:
  void run();

  std::unique_ptr<RowReader> inner_;
  const std::size_t block_, depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Blocks are allocated without being zeroed and recycled through free_: a table of a few rows
  // touches one page, and a big one does not map and fault in a fresh megabyte per block.
  struct Block {
    std::unique_ptr<char[]> data;
    std::size_t size = 0;
  };
  std::deque<Block> ready_;
  std::vector<std::unique_ptr<char[]>> free_;
  bool eof_ = false, stop_ = false;
  std::exception_ptr error_;
  Block current_;
  std::size_t used_ = 0;  // of current_
  std::thread thread_;
};

}  // namespace pgr::archive
