#include "storage/s3/s3.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include <fmt/format.h>

#include "storage/s3/client.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace pgr::storage {

namespace s3 {

std::string encode_key(const std::string& key) {
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') out.push_back(static_cast<char>(c));
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

namespace {

std::string full_key(const Location& l, const std::string& key) {
  if (l.prefix.empty()) return key;
  return key.empty() ? l.prefix + "/" : l.prefix + "/" + key;
}

}  // namespace

std::string object_url(const Location& l, const std::string& key, const std::string& query) {
  auto scheme_end = l.endpoint.find("://");
  std::string scheme = l.endpoint.substr(0, scheme_end);
  std::string host = l.endpoint.substr(scheme_end + 3);
  while (!host.empty() && host.back() == '/') host.pop_back();
  std::string path = key.empty() ? "" : encode_key(full_key(l, key));
  std::string url = l.uri_style == "path" ? fmt::format("{}://{}/{}/{}", scheme, host, l.bucket, path)
                                          : fmt::format("{}://{}.{}/{}", scheme, l.bucket, host, path);
  if (!query.empty()) url += "?" + query;
  return url;
}

std::vector<std::string> xml_values(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  std::string open = "<" + tag + ">", close = "</" + tag + ">";
  std::size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string::npos) {
    pos += open.size();
    std::size_t end = xml.find(close, pos);
    if (end == std::string::npos) break;
    std::string v = xml.substr(pos, end - pos), d;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] != '&') {
        d.push_back(v[i]);
        continue;
      }
      std::size_t semi = v.find(';', i);
      std::string ent = semi == std::string::npos ? "" : v.substr(i + 1, semi - i - 1);
      if (ent == "amp") d.push_back('&');
      else if (ent == "lt") d.push_back('<');
      else if (ent == "gt") d.push_back('>');
      else if (ent == "quot") d.push_back('"');
      else if (ent == "apos") d.push_back('\'');
      else if (!ent.empty() && ent[0] == '#') d.push_back(static_cast<char>(std::stoi(ent[1] == 'x' ? "0" + ent.substr(1) : ent.substr(1), nullptr, ent[1] == 'x' ? 16 : 10)));
      else { d.push_back('&'); continue; }
      i = semi;
    }
    out.push_back(std::move(d));
    pos = end + close.size();
  }
  return out;
}

}  // namespace s3

namespace {

using s3::Client;
using s3::Request;
using s3::Response;

constexpr std::size_t kPartSize = 16u << 20;     // multipart above this; one part in memory at a time
constexpr std::size_t kReadBuffer = 4u << 20;    // a streaming read pauses the transfer beyond this

// ---- writes: one PUT, or a multipart upload when the object outgrows one part ------------------

class S3Writer final : public Writer {
 public:
  S3Writer(std::shared_ptr<Client> c, std::string key, bool exclusive)
      : c_(std::move(c)), key_(std::move(key)), exclusive_(exclusive) {
    buf_.reserve(1 << 20);
  }
  ~S3Writer() override {
    if (!upload_id_.empty() && !done_) {
      try {
        c_->perform({"DELETE", key_, "uploadId=" + upload_id_, {}, {}});
      } catch (const std::exception& e) {
        log::warn("could not abort the multipart upload of {}: {}", key_, e.what());
      }
    }
  }
  void write(const char* data, std::size_t n) override {
    while (n > 0) {
      std::size_t take = std::min(n, kPartSize - buf_.size());
      buf_.append(data, take);
      data += take;
      n -= take;
      if (buf_.size() == kPartSize) flush_part();
    }
  }
  bool commit() override {
    if (exclusive_) {
      Response head = c_->perform({"HEAD", key_, "", {}, {}});
      if (head.status == 200) return finish(false);
    }
    if (upload_id_.empty()) {
      Request put{"PUT", key_, "", {}, buf_};
      if (exclusive_) put.headers.push_back("If-None-Match: *");
      Response r = c_->perform(put);
      if (r.status == 412) return finish(false);  // someone stored it first
      if (r.status != 200) c_->fail_response(put, r);
      return finish(true);
    }
    if (!buf_.empty()) flush_part();
    std::string xml = "<CompleteMultipartUpload>";
    for (std::size_t i = 0; i < etags_.size(); ++i)
      xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1, etags_[i]);
    xml += "</CompleteMultipartUpload>";
    Request done{"POST", key_, "uploadId=" + upload_id_, {"Content-Type: application/xml"}, xml};
    Response r = c_->perform(done);
    // S3 may answer 200 with an error document once the upload was accepted.
    if (r.status != 200 || !s3::xml_values(r.body, "Code").empty()) c_->fail_response(done, r);
    return finish(true);
  }

 private:
  bool finish(bool stored) {
    done_ = true;
    buf_.clear();
    buf_.shrink_to_fit();
    return stored;
  }
  void flush_part() {
    if (upload_id_.empty()) {
      Request start{"POST", key_, "uploads=", {}, {}};
      Response r = c_->perform(start);
      auto ids = s3::xml_values(r.body, "UploadId");
      if (r.status != 200 || ids.empty()) c_->fail_response(start, r);
      upload_id_ = ids.front();
    }
    Request part{"PUT", key_, fmt::format("partNumber={}&uploadId={}", etags_.size() + 1, upload_id_), {}, buf_};
    Response r = c_->perform(part);
    if (r.status != 200 || !r.headers.count("etag")) c_->fail_response(part, r);
    etags_.push_back(r.headers.at("etag"));
    buf_.clear();
  }

  std::shared_ptr<Client> c_;
  std::string key_;
  bool exclusive_;
  std::string buf_;
  std::string upload_id_;
  std::vector<std::string> etags_;
  bool done_ = false;
};

// ---- reads: one streaming GET with a Range, paused while the buffer is full --------------------

class S3Reader final : public Reader {
 public:
  S3Reader(std::shared_ptr<Client> c, std::string key, std::uint64_t offset, std::uint64_t length)
      : c_(std::move(c)), key_(std::move(key)), next_(offset), left_(length) {
    multi_ = curl_multi_init();
    if (left_ > 0) start();
  }
  ~S3Reader() override { stop(); curl_multi_cleanup(multi_); }

  std::size_t read(char* out, std::size_t cap) override {
    while (pos_ == buf_.size()) {
      if (left_ == 0) return 0;
      pump();
    }
    std::size_t take = std::min(cap, buf_.size() - pos_);
    std::memcpy(out, buf_.data() + pos_, take);
    pos_ += take;
    next_ += take;
    left_ -= take;
    if (pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    return take;
  }

 private:
  static std::size_t on_data(char* p, std::size_t size, std::size_t n, void* user) {
    auto* self = static_cast<S3Reader*>(user);
    std::size_t bytes = size * n;
    if (self->status_ == 0) curl_easy_getinfo(self->easy_, CURLINFO_RESPONSE_CODE, &self->status_);
    if (self->status_ != 200 && self->status_ != 206) {
      if (self->error_body_.size() < 65536) self->error_body_.append(p, bytes);
      return bytes;
    }
    if (self->buf_.size() - self->pos_ >= kReadBuffer) {
      self->paused_ = true;
      return CURL_WRITEFUNC_PAUSE;  // bounded memory: the rest waits in the socket
    }
    self->buf_.append(p, bytes);
    self->received_ += bytes;
    return bytes;
  }

  void start() {
    easy_ = c_->make_handle();
    url_ = s3::object_url(c_->location(), key_);
    headers_ = curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    range_ = fmt::format("Range: bytes={}-{}", next_ + (buf_.size() - pos_), next_ + left_ - 1);
    headers_ = curl_slist_append(headers_, range_.c_str());
    curl_easy_setopt(easy_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, errbuf_);
    status_ = 0;
    error_body_.clear();
    received_ = 0;
    curl_multi_add_handle(multi_, easy_);
  }

  void stop() {
    if (!easy_) return;
    curl_multi_remove_handle(multi_, easy_);
    curl_easy_cleanup(easy_);
    curl_slist_free_all(headers_);
    easy_ = nullptr;
    headers_ = nullptr;
  }

  // Moves the transfer on until data arrived or it ended; restarts it (from where the data
  // stopped) after a connection error, with backoff.
  void pump() {
    if (paused_) {
      paused_ = false;
      curl_easy_pause(easy_, CURLPAUSE_CONT);
    }
    int running = 0;
    curl_multi_perform(multi_, &running);
    if (running) {
      if (buf_.size() == pos_) curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
      return;
    }
    CURLcode rc = CURLE_OK;
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &queued))
      if (m->msg == CURLMSG_DONE) rc = m->data.result;
    if (rc == CURLE_OK && status_ == 0) curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status_);
    bool server_error = rc == CURLE_OK && (status_ >= 500 || status_ == 429);
    if (rc == CURLE_OK && !server_error && status_ != 200 && status_ != 206) {
      Response resp{status_, error_body_, {}};
      stop();
      c_->fail_response({"GET", key_, "", {}, {}}, resp);
    }
    std::uint64_t pending = buf_.size() - pos_;
    if (rc == CURLE_OK && !server_error && pending >= left_) return;  // everything asked for is buffered
    if (rc == CURLE_OK && !server_error) {  // the answer ended early: the object is shorter than asked
      stop();
      fail(ErrorKind::io, fmt::format("\"{}/{}\" ends {} bytes early", c_->describe(), key_, left_ - pending));
    }
    std::string detail = server_error ? fmt::format("HTTP {}", status_) : std::string(errbuf_);
    stop();
    if (received_ == 0) ++failures_;
    else failures_ = 0;
    if (failures_ >= Client::attempts()) fail(ErrorKind::io, c_->connect_error(fmt::format("reading \"{}/{}\"", c_->describe(), key_), rc, detail.c_str()));
    log::debug("S3 GET {}: {} — resuming at byte {}", key_, curl_easy_strerror(rc), next_ + pending);
    Client::backoff(failures_);
    start();
  }

  std::shared_ptr<Client> c_;
  std::string key_;
  std::uint64_t next_, left_;  // next_: offset of buf_[pos_]; left_: bytes still owed to the caller
  CURLM* multi_ = nullptr;
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string url_, range_;
  std::string buf_;
  std::size_t pos_ = 0;
  long status_ = 0;
  std::string error_body_;
  std::uint64_t received_ = 0;
  int failures_ = 0;
  bool paused_ = false;
  char errbuf_[CURL_ERROR_SIZE] = {0};
};

class S3Storage final : public Storage {
 public:
  S3Storage(const Location& l, const std::string& name) : c_(std::make_shared<Client>(l, name)) {}

  using Storage::describe;
  std::string describe() const override { return c_->describe(); }

  std::unique_ptr<Writer> create(const std::string& key, const WriteOptions& options) override {
    check_key(key);
    return std::make_unique<S3Writer>(c_, key, options.exclusive);
  }

  std::unique_ptr<Reader> open(const std::string& key, std::uint64_t offset,
                               std::optional<std::uint64_t> length) const override {
    auto info = stat(key);
    if (!info) fail(ErrorKind::io, fmt::format("\"{}\" does not exist", describe(key)));
    if (offset > info->size) fail(ErrorKind::io, fmt::format("\"{}\": offset {} is past its end ({} bytes)", describe(key), offset, info->size));
    std::uint64_t len = length ? *length : info->size - offset;
    return std::make_unique<S3Reader>(c_, key, offset, len);
  }

  std::optional<ObjectInfo> stat(const std::string& key) const override {
    check_key(key);
    Request head{"HEAD", key, "", {}, {}};
    Response r = c_->perform(head);
    if (r.status == 404) {
      // HEAD has no body: ask the bucket (once) so that a missing bucket is named as such
      if (!bucket_seen_) {
        // a prefix nothing has (names starting with '.' are never keys): a cheap, empty listing
        std::string probe = (c_->location().prefix.empty() ? "" : c_->location().prefix + "/") + ".pgrecover-probe";
        Response b = c_->perform({"GET", "", "list-type=2&max-keys=1&prefix=" + s3::encode_key(probe), {}, {}});
        if (b.status != 200) c_->fail_response({"GET", "", "", {}, {}}, b);
        bucket_seen_ = true;
      }
      return std::nullopt;
    }
    if (r.status != 200) c_->fail_response(head, r);
    auto it = r.headers.find("content-length");
    double modified = 0;
    if (auto lm = r.headers.find("last-modified"); lm != r.headers.end()) {
      time_t t = curl_getdate(lm->second.c_str(), nullptr);  // RFC 7231 date
      if (t > 0) modified = static_cast<double>(t);
    }
    return ObjectInfo{key, it == r.headers.end() ? 0 : std::stoull(it->second), modified};
  }

  std::vector<ObjectInfo> list(const std::string& prefix) const override {
    std::vector<ObjectInfo> out;
    std::string base = c_->location().prefix.empty() ? "" : c_->location().prefix + "/";
    std::string token;
    for (;;) {
      std::string q = (token.empty() ? "" : "continuation-token=" + s3::encode_key(token) + "&") + "list-type=2&prefix=" +
                      s3::encode_key(base + prefix);
      Request req{"GET", "", q, {}, {}};
      Response r = c_->perform(req);
      if (r.status != 200) c_->fail_response(req, r);
      auto keys = s3::xml_values(r.body, "Key");
      auto sizes = s3::xml_values(r.body, "Size");
      auto times = s3::xml_values(r.body, "LastModified");
      for (std::size_t i = 0; i < keys.size() && i < sizes.size(); ++i) {
        if (keys[i].compare(0, base.size(), base) != 0) continue;
        std::string key = keys[i].substr(base.size());
        if (!valid_key(key)) continue;  // not ours (or a name we never write)
        double modified = 0;
        if (times.size() == keys.size()) {
          try {
            modified = parse_iso8601(times[i]);
          } catch (const Error&) {
            modified = 0;  // a server's odd date format is not a reason to fail a listing
          }
        }
        out.push_back({key, std::stoull(sizes[i]), modified});
      }
      auto truncated = s3::xml_values(r.body, "IsTruncated");
      auto next = s3::xml_values(r.body, "NextContinuationToken");
      if (truncated.empty() || truncated.front() != "true" || next.empty()) break;
      token = next.front();
    }
    std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  }

  void remove(const std::string& key) override {
    check_key(key);
    Request del{"DELETE", key, "", {}, {}};
    Response r = c_->perform(del);
    if (r.status != 204 && r.status != 200 && r.status != 404) c_->fail_response(del, r);
  }

  std::unique_ptr<Staging> stage(const std::string& prefix) override {
    return copy_staging(*this, prefix, c_->location().staging_dir);
  }
  std::vector<std::string> stale_staging(const std::string&) const override { return {}; }
  void clean_stale_staging(const std::string&) override {}

 private:
  std::shared_ptr<Client> c_;
  mutable std::atomic<bool> bucket_seen_{false};
};

bool valid_bucket(const std::string& b) {
  if (b.size() < 3 || b.size() > 63) return false;
  return std::all_of(b.begin(), b.end(), [](unsigned char c) { return std::islower(c) || std::isdigit(c) || c == '-' || c == '.'; });
}

}  // namespace

std::shared_ptr<Storage> open_s3(const Location& l, const std::string& name) {
  std::string where = l.origin.empty() ? "repositories." + name : l.origin;
  if (l.endpoint.rfind("https://", 0) != 0 && l.endpoint.rfind("http://", 0) != 0) {
    fail(ErrorKind::input, fmt::format("{}: endpoint \"{}\" must start with https:// or http://", where, l.endpoint));
  }
  if (!valid_bucket(l.bucket)) {
    fail(ErrorKind::input, fmt::format("{}: bucket \"{}\" is not a valid S3 bucket name (3 to 63 lower-case letters, digits, '-', '.')", where, l.bucket));
  }
  if (l.uri_style != "host" && l.uri_style != "path") {
    fail(ErrorKind::input, fmt::format("{}: uri_style \"{}\" must be host or path", where, l.uri_style));
  }
  if (!l.prefix.empty() && !valid_key(l.prefix)) {
    fail(ErrorKind::input, fmt::format("{}: prefix \"{}\" must be a relative path without empty, '.' or '..' parts", where, l.prefix));
  }
  return std::make_shared<S3Storage>(l, name);
}

}  // namespace pgr::storage
