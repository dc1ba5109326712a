#include "archive/stream.hpp"

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::archive::detail {

namespace {

constexpr std::size_t kChunk = 128 * 1024;
constexpr std::size_t kMaxRow = (std::size_t{1} << 30) + (std::size_t{1} << 20);  // 1 GiB + slack

[[noreturn]] void fail_stream(const std::string& origin, const std::string& what) {
  fail(ErrorKind::archive, fmt::format("{}: {}", origin, what),
       "the data is damaged; take the backup again or restore this table from another one");
}

class FileRangeSource final : public Source {
 public:
  FileRangeSource(const std::string& path, const std::string& origin, std::int64_t offset, std::int64_t length)
      : FileRangeSource(FileInput(path, origin), origin, offset, length) {}
  FileRangeSource(std::unique_ptr<RandomAccess> file, const std::string& origin, std::int64_t offset, std::int64_t length)
      : FileRangeSource(FileInput(std::move(file), origin), origin, offset, length) {}
  FileRangeSource(FileInput&& in, const std::string& origin, std::int64_t offset, std::int64_t length)
      : in_(std::move(in)) {
    if (offset < 0 || (length >= 0 && offset + length > in_.size())) {
      fail_at(origin, offset, fmt::format("data range of {} bytes extends past the end of the file ({} bytes)",
                                          length, in_.size()));
    }
    in_.seek(offset);
    left_ = length < 0 ? in_.size() - offset : length;
  }
  std::size_t read(char* buf, std::size_t cap) override {
    if (left_ <= 0) return 0;
    auto want = static_cast<std::size_t>(std::min<std::int64_t>(left_, static_cast<std::int64_t>(cap)));
    std::size_t got = in_.read_some(buf, want);
    if (got == 0) fail_at(in_.origin(), in_.offset(), "unexpected end of file");
    left_ -= static_cast<std::int64_t>(got);
    return got;
  }

 private:
  FileInput in_;
  std::int64_t left_ = 0;
};

// Shared input buffering for the decompressors.
class Decompressor : public Source {
 protected:
  Decompressor(std::unique_ptr<Source> raw, std::string origin)
      : raw_(std::move(raw)), origin_(std::move(origin)), in_(kChunk) {}
  // Refills the input buffer when it is empty; false at the end of the raw input.
  bool need_input() {
    if (in_pos_ < in_len_) return true;
    if (raw_eof_) return false;
    in_pos_ = 0;
    in_len_ = raw_->read(in_.data(), in_.size());
    if (in_len_ == 0) raw_eof_ = true;
    total_in_ += in_len_;
    return in_len_ > 0;
  }
  std::unique_ptr<Source> raw_;
  std::string origin_;
  std::vector<char> in_;
  std::size_t in_pos_ = 0, in_len_ = 0;
  std::uint64_t total_in_ = 0;
  bool raw_eof_ = false;
};

class InflateSource final : public Decompressor {
 public:
  InflateSource(std::unique_ptr<Source> raw, std::string origin) : Decompressor(std::move(raw), std::move(origin)) {
    std::memset(&z_, 0, sizeof z_);
    if (inflateInit2(&z_, 15 + 32) != Z_OK) fail_stream(origin_, "cannot initialise zlib");
  }
  ~InflateSource() override { inflateEnd(&z_); }
  std::size_t read(char* buf, std::size_t cap) override {
    if (cap == 0) return 0;
    for (;;) {
      if (!need_input()) {
        if (in_stream_) fail_stream(origin_, fmt::format("compressed data is truncated (after {} compressed bytes)", total_in_));
        return 0;
      }
      if (!in_stream_) {  // a new gzip member / zlib stream begins
        inflateReset(&z_);
        in_stream_ = true;
      }
      z_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
      z_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = static_cast<uInt>(std::min<std::size_t>(cap, 1u << 30));
      int rc = inflate(&z_, Z_NO_FLUSH);
      in_pos_ = in_len_ - z_.avail_in;
      std::size_t produced = static_cast<std::size_t>(reinterpret_cast<char*>(z_.next_out) - buf);
      if (rc == Z_STREAM_END) {
        in_stream_ = false;
      } else if (rc != Z_OK && !(rc == Z_BUF_ERROR && produced == 0 && z_.avail_in == 0)) {
        fail_stream(origin_, fmt::format("corrupt gzip data near compressed byte {}: {}",
                                         total_in_ - (in_len_ - in_pos_), z_.msg ? z_.msg : "inflate failed"));
      }
      if (produced > 0) return produced;
    }
  }

 private:
  z_stream z_;
  bool in_stream_ = false;
};

class Lz4Source final : public Decompressor {
 public:
  Lz4Source(std::unique_ptr<Source> raw, std::string origin) : Decompressor(std::move(raw), std::move(origin)) {
    if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx_, LZ4F_VERSION))) fail_stream(origin_, "cannot initialise lz4");
  }
  ~Lz4Source() override { LZ4F_freeDecompressionContext(ctx_); }
  std::size_t read(char* buf, std::size_t cap) override {
    for (;;) {
      if (!need_input()) {
        if (mid_frame_) fail_stream(origin_, fmt::format("lz4 data is truncated (after {} compressed bytes)", total_in_));
        return 0;
      }
      std::size_t out_size = cap;
      std::size_t in_size = in_len_ - in_pos_;
      std::size_t rc = LZ4F_decompress(ctx_, buf, &out_size, in_.data() + in_pos_, &in_size, nullptr);
      if (LZ4F_isError(rc)) {
        fail_stream(origin_, fmt::format("corrupt lz4 data near compressed byte {}: {}", total_in_ - (in_len_ - in_pos_),
                                         LZ4F_getErrorName(rc)));
      }
      in_pos_ += in_size;
      mid_frame_ = rc != 0;
      if (out_size > 0) return out_size;
    }
  }

 private:
  LZ4F_dctx* ctx_ = nullptr;
  bool mid_frame_ = false;
};

class ZstdSource final : public Decompressor {
 public:
  ZstdSource(std::unique_ptr<Source> raw, std::string origin) : Decompressor(std::move(raw), std::move(origin)) {
    ds_ = ZSTD_createDStream();
    if (ds_ == nullptr) fail_stream(origin_, "cannot initialise zstd");
    // Bound the window a hostile frame can ask for (zstd's default limit, stated explicitly).
    ZSTD_DCtx_setParameter(ds_, ZSTD_d_windowLogMax, 27);
  }
  ~ZstdSource() override { ZSTD_freeDStream(ds_); }
  std::size_t read(char* buf, std::size_t cap) override {
    for (;;) {
      if (!need_input()) {
        if (mid_frame_) fail_stream(origin_, fmt::format("zstd data is truncated (after {} compressed bytes)", total_in_));
        return 0;
      }
      ZSTD_inBuffer in{in_.data() + in_pos_, in_len_ - in_pos_, 0};
      ZSTD_outBuffer out{buf, cap, 0};
      std::size_t rc = ZSTD_decompressStream(ds_, &out, &in);
      if (ZSTD_isError(rc)) {
        fail_stream(origin_, fmt::format("corrupt zstd data near compressed byte {}: {}", total_in_ - (in_len_ - in_pos_),
                                         ZSTD_getErrorName(rc)));
      }
      in_pos_ += in.pos;
      mid_frame_ = rc != 0;
      if (out.pos > 0) return out.pos;
    }
  }

 private:
  ZSTD_DStream* ds_ = nullptr;
  bool mid_frame_ = false;
};

}  // namespace

std::unique_ptr<Source> file_range_source(const std::string& path, const std::string& origin, std::int64_t offset,
                                          std::int64_t length) {
  return std::make_unique<FileRangeSource>(path, origin, offset, length);
}

std::unique_ptr<Source> file_range_source(const Files& files, const std::string& file, const std::string& origin,
                                          std::int64_t offset, std::int64_t length) {
  return std::make_unique<FileRangeSource>(files.open(file), origin, offset, length);
}

std::size_t ChunkSource::read(char* buf, std::size_t cap) {
  while (!done_) {
    if (left_in_chunk_ == 0) {
      std::int64_t at = in_.offset();
      int len = read_int(in_, enc_);
      if (len == 0) {
        done_ = true;
        return 0;
      }
      if (len < 0) fail_at(in_.origin(), at, fmt::format("negative data chunk length {}", len));
      if (len > in_.remaining()) {
        fail_at(in_.origin(), at, fmt::format("data chunk length {} exceeds the {} bytes left", len, in_.remaining()));
      }
      left_in_chunk_ = len;
    }
    if (cap == 0) return 0;
    auto take = static_cast<std::size_t>(std::min<std::int64_t>(left_in_chunk_, static_cast<std::int64_t>(cap)));
    in_.read(buf, take);
    left_in_chunk_ -= static_cast<std::int64_t>(take);
    return take;
  }
  return 0;
}

void ChunkSource::drain() {
  while (!done_) {
    if (left_in_chunk_ > 0) {
      in_.skip(left_in_chunk_);
      left_in_chunk_ = 0;
    }
    char dummy;
    read(&dummy, 0);  // reads the next chunk header (or the terminating 0)
  }
}

std::unique_ptr<Source> decompress(Compression c, std::unique_ptr<Source> raw, std::string origin) {
  switch (c) {
    case Compression::none: return raw;
    case Compression::gzip: return std::make_unique<InflateSource>(std::move(raw), std::move(origin));
    case Compression::lz4: return std::make_unique<Lz4Source>(std::move(raw), std::move(origin));
    case Compression::zstd: return std::make_unique<ZstdSource>(std::move(raw), std::move(origin));
  }
  return raw;
}

Compression compression_of_name(const std::string& name) {
  auto ends = [&](std::string_view s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (ends(".gz")) return Compression::gzip;
  if (ends(".lz4")) return Compression::lz4;
  if (ends(".zst")) return Compression::zstd;
  return Compression::none;
}

// --- CopyReader ---------------------------------------------------------------------------------

void CopyReader::refill(std::size_t want) {
  if (want > kMaxRow) fail_stream(origin_, fmt::format("a COPY row is longer than {} bytes", kMaxRow));
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
    len_ -= pos_;
    pos_ = 0;
  }
  if (buf_.size() < std::max(want, kChunk)) buf_.resize(std::max(want, std::max(kChunk, buf_.size() * 2)));
  while (len_ < want && !src_eof_) {
    std::size_t got = src_->read(buf_.data() + len_, buf_.size() - len_);
    if (got == 0) src_eof_ = true;
    len_ += got;
  }
}

bool CopyReader::terminator_here() const {
  std::size_t a = avail();
  const char* p = buf_.data() + pos_;
  if (a < 2 || p[0] != '\\' || p[1] != '.') return false;
  if (a == 2) return src_eof_;
  if (p[2] == '\n') return true;
  if (p[2] == '\r') return a == 3 ? src_eof_ : p[3] == '\n';
  return false;
}

std::size_t CopyReader::read(char* out, std::size_t cap) {
  std::size_t n = 0;
  while (n < cap && !done_) {
    if (at_line_start_) {
      if (avail() < 4 && !src_eof_) refill(4);
      if (avail() == 0) break;
      if (terminator_here()) {
        done_ = true;  // pg_dump 17 and older append "\.\n\n\n"; COPY stops at the "\."
        break;
      }
    } else if (avail() == 0) {
      if (src_eof_) break;
      refill(1);
      if (avail() == 0) break;
    }
    const char* p = buf_.data() + pos_;
    std::size_t room = std::min(avail(), cap - n);
    std::size_t take = room;
    // Stop after a newline that may start the terminator, so it is checked at a line start.
    const char* q = p;
    while (q < p + room) {
      const auto* nl = static_cast<const char*>(std::memchr(q, '\n', static_cast<std::size_t>(p + room - q)));
      if (nl == nullptr) break;
      auto idx = static_cast<std::size_t>(nl - p);
      if (idx + 1 >= avail() || p[idx + 1] == '\\') {
        take = idx + 1;
        break;
      }
      q = nl + 1;
    }
    std::memcpy(out + n, p, take);
    pos_ += take;
    n += take;
    at_line_start_ = out[n - 1] == '\n';
  }
  return n;
}

bool CopyReader::next_row(std::string& row) {
  while (!done_) {
    if (avail() < 4 && !src_eof_) refill(4);
    if (avail() == 0 || terminator_here()) {
      done_ = true;
      break;
    }
    const char* p = buf_.data() + pos_;
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', avail()));
    if (nl != nullptr) {
      auto n = static_cast<std::size_t>(nl - p) + 1;
      row.assign(p, n);
      pos_ += n;
      return true;
    }
    if (src_eof_) {  // a last row without its newline: hand it over as it is
      row.assign(p, avail());
      pos_ = len_;
      return true;
    }
    refill(avail() + kChunk);
  }
  return false;
}

}  // namespace pgr::archive::detail
