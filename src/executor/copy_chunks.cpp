#include "executor/copy_chunks.hpp"

#include <algorithm>
#include <cstring>

namespace pgr::executor {

CopyChunker::CopyChunker(archive::RowReader& reader, std::int64_t chunk_bytes, std::size_t read_size)
    : reader_(reader),
      chunk_bytes_(static_cast<std::size_t>(std::max<std::int64_t>(chunk_bytes, 1))),
      read_size_(std::max<std::size_t>(read_size, 1)) {}

bool CopyChunker::fill() {
  if (eof_) return false;
  std::size_t old = buf_.size();
  buf_.resize(old + read_size_);
  std::size_t n = reader_.read(buf_.data() + old, read_size_);
  buf_.resize(old + n);
  if (n == 0) eof_ = true;
  return n > 0;
}

bool CopyChunker::next(CopyChunk& out) {
  // The chunk ends after the first '\n' at index >= chunk_bytes - 1 (at least chunk_bytes long).
  const std::size_t from = chunk_bytes_ - 1;
  std::size_t end = std::string::npos;
  for (;;) {
    std::size_t start = std::max(from, scanned_);
    if (start < buf_.size()) {
      const void* nl = std::memchr(buf_.data() + start, '\n', buf_.size() - start);
      if (nl) {
        end = static_cast<std::size_t>(static_cast<const char*>(nl) - buf_.data()) + 1;
        break;
      }
    }
    scanned_ = buf_.size();
    if (!fill()) break;
  }
  if (end == std::string::npos) {
    if (buf_.empty()) return false;
    end = buf_.size();  // the rest of the stream (its last row may lack a newline)
  }
  out.index = index_++;
  out.offset = offset_;
  out.data.assign(buf_, 0, end);
  buf_.erase(0, end);
  scanned_ = 0;
  offset_ += static_cast<std::int64_t>(end);
  out.rows = std::count(out.data.begin(), out.data.end(), '\n');
  if (!out.data.empty() && out.data.back() != '\n') ++out.rows;
  return true;
}

}  // namespace pgr::executor
