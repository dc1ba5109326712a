#include "archive/read_ahead.hpp"

#include <algorithm>
#include <cstring>

#include "util/error.hpp"

namespace pgr::archive {

ReadAhead::ReadAhead(std::unique_ptr<RowReader> inner, std::size_t block, std::size_t depth)
    : inner_(std::move(inner)), block_(std::max<std::size_t>(block, 4096)), depth_(std::max<std::size_t>(depth, 1)) {
  thread_ = std::thread([this] { run(); });
}

ReadAhead::~ReadAhead() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ReadAhead::run() {
  try {
    for (;;) {
      Block b;
      {
        std::lock_guard lock(mu_);
        if (!free_.empty()) {
          b.data = std::move(free_.back());
          free_.pop_back();
        }
      }
      if (!b.data) b.data.reset(new char[block_]);  // not zeroed: read() fills what is used
      b.size = inner_->read(b.data.get(), block_);
      const std::size_t n = b.size;
      std::unique_lock lock(mu_);
      if (n == 0) {
        eof_ = true;
        cv_.notify_all();
        return;
      }
      cv_.wait(lock, [&] { return stop_ || ready_.size() < depth_; });
      if (stop_) return;
      ready_.push_back(std::move(b));
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard lock(mu_);
    error_ = std::current_exception();
    cv_.notify_all();
  }
}

bool ReadAhead::next_row(std::string&) {
  fail(ErrorKind::internal, "a read-ahead archive reader gives bytes, not rows");
}

size_t ReadAhead::read(char* buf, size_t cap) {
  if (used_ == current_.size) {
    std::unique_lock lock(mu_);
    if (current_.data) free_.push_back(std::move(current_.data));
    cv_.wait(lock, [&] { return !ready_.empty() || eof_ || error_; });
    if (ready_.empty()) {
      if (error_) std::rethrow_exception(error_);
      return 0;
    }
    current_ = std::move(ready_.front());
    ready_.pop_front();
    used_ = 0;
    cv_.notify_all();
  }
  std::size_t n = std::min(cap, current_.size - used_);
  std::memcpy(buf, current_.data.get() + used_, n);
  used_ += n;
  return n;
}

}  // namespace pgr::archive
