#include "repository/read_ahead.hpp"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace pgr::repository {

namespace {

constexpr std::size_t kChunk = 1 << 20;
constexpr std::size_t kChunks = 8;  // at most 8 MiB read ahead

class ReadAhead final : public archive::detail::Source {
 public:
  explicit ReadAhead(std::unique_ptr<archive::detail::Source> inner) : inner_(std::move(inner)) {
    for (std::size_t i = 0; i < kChunks; ++i) free_.emplace_back(kChunk);
    thread_ = std::thread([this] { fill(); });
  }
  ~ReadAhead() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  std::size_t read(char* buf, std::size_t cap) override {
    std::size_t got = 0;
    while (got < cap) {
      if (pos_ == current_.second) {
        if (!next()) break;
        continue;
      }
      std::size_t n = std::min(cap - got, current_.second - pos_);
      std::memcpy(buf + got, current_.first.data() + pos_, n);
      pos_ += n;
      got += n;
    }
    return got;
  }

 private:
  // Hands the finished chunk back and takes the next full one; false at the end.
  bool next() {
    std::unique_lock lock(mu_);
    if (!current_.first.empty()) free_.push_back(std::move(current_.first));
    current_ = {{}, 0};
    pos_ = 0;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !full_.empty() || done_; });
    if (full_.empty()) {
      if (error_) std::rethrow_exception(error_);
      return false;
    }
    current_ = std::move(full_.front());
    full_.pop_front();
    return true;
  }

  void fill() {
    try {
      for (;;) {
        std::vector<char> buf;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [&] { return !free_.empty() || stop_; });
          if (stop_) break;
          buf = std::move(free_.front());
          free_.pop_front();
        }
        std::size_t n = 0;
        while (n < buf.size()) {
          std::size_t r = inner_->read(buf.data() + n, buf.size() - n);
          if (r == 0) break;
          n += r;
        }
        std::lock_guard lock(mu_);
        if (n > 0) full_.emplace_back(std::move(buf), n);
        if (n < kChunk) break;  // the end
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard lock(mu_);
      error_ = std::current_exception();
    }
    std::lock_guard lock(mu_);
    done_ = true;
    cv_.notify_all();
  }

  std::unique_ptr<archive::detail::Source> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<char>> free_;
  std::deque<std::pair<std::vector<char>, std::size_t>> full_;
  bool stop_ = false, done_ = false;
  std::exception_ptr error_;
  std::pair<std::vector<char>, std::size_t> current_{{}, 0};  // being read by the caller
  std::size_t pos_ = 0;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<archive::detail::Source> read_ahead(std::unique_ptr<archive::detail::Source> inner) {
  return std::make_unique<ReadAhead>(std::move(inner));
}

}  // namespace pgr::repository
