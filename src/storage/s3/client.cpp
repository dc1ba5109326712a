#include "storage/s3/client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "storage/s3/s3.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::storage::s3 {

namespace {

std::once_flag curl_once;

std::size_t collect_body(char* p, std::size_t size, std::size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() < (16u << 20)) out->append(p, size * n);  // answers of ours are small XML
  return size * n;
}

std::size_t collect_header(char* p, std::size_t size, std::size_t n, void* user) {
  auto* out = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(p, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.erase(0, 1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
    (*out)[name] = value;
  }
  return size * n;
}

struct Upload {
  std::string_view data;
  std::size_t pos = 0;
};

std::size_t send_body(char* buf, std::size_t size, std::size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  std::size_t take = std::min(size * n, u->data.size() - u->pos);
  std::memcpy(buf, u->data.data() + u->pos, take);
  u->pos += take;
  return take;
}

bool retryable(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

}  // namespace

Client::Client(Location location, std::string name) : loc_(std::move(location)), name_(std::move(name)) {
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Client::~Client() {
  for (CURL* h : idle_) curl_easy_cleanup(h);
}

std::string Client::describe() const {
  return loc_.prefix.empty() ? fmt::format("s3://{}", loc_.bucket) : fmt::format("s3://{}/{}", loc_.bucket, loc_.prefix);
}

int Client::attempts() { return 5; }

void Client::backoff(int attempt) {
  auto ms = std::min(5000, 100 << std::min(attempt, 6));
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

CURL* Client::make_handle() const {
  CURL* h = curl_easy_init();
  if (!h) fail(ErrorKind::internal, "could not initialise libcurl");
  std::string sigv4 = fmt::format("aws:amz:{}:s3", loc_.region.empty() ? "us-east-1" : loc_.region);
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(h, CURLOPT_USERNAME, loc_.access_key.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, loc_.secret_key.c_str());
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, loc_.tls_verify ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, loc_.tls_verify ? 2L : 0L);
  if (!loc_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, loc_.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer fails after a minute
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  return h;
}

std::string Client::connect_error(const std::string& what, int code, const char* detail) const {
  return fmt::format("{}: could not reach the S3 endpoint {} ({}{}{}) after {} attempts; check {}.endpoint", what,
                     loc_.endpoint, curl_easy_strerror(static_cast<CURLcode>(code)), detail && *detail ? ": " : "",
                     detail ? detail : "", attempts(), loc_.origin.empty() ? "repositories." + name_ : loc_.origin);
}

Response Client::perform(const Request& r) const {
  std::string url = object_url(loc_, r.key, r.query);
  CURL* h = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      h = idle_.back();
      idle_.pop_back();
    }
  }
  if (!h) h = make_handle();
  Response resp;
  CURLcode rc = CURLE_OK;
  char errbuf[CURL_ERROR_SIZE] = {0};
  for (int attempt = 0; attempt < attempts(); ++attempt) {
    if (attempt > 0) {
      log::debug("S3 {} {}: attempt {} after {}", r.method, r.key, attempt + 1,
                 rc != CURLE_OK ? std::string(curl_easy_strerror(rc)) : fmt::format("HTTP {}", resp.status));
      backoff(attempt - 1);
    }
    resp = Response{};
    errbuf[0] = 0;
    Upload up{r.body, 0};
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    headers = curl_slist_append(headers, "Expect:");
    for (const auto& hd : r.headers) headers = curl_slist_append(headers, hd.c_str());
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp.headers);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, nullptr);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_NOBODY, r.method == "HEAD" ? 1L : 0L);
    if (r.method == "PUT") {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, send_body);
      curl_easy_setopt(h, CURLOPT_READDATA, &up);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    } else if (r.method == "POST") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    } else if (r.method == "DELETE") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    if (rc == CURLE_OK) {
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
      if (resp.status < 500 && resp.status != 429) break;
    } else if (!retryable(rc)) {
      break;
    }
  }
  std::string detail = errbuf;
  if (rc != CURLE_OK) {
    curl_easy_cleanup(h);
    fail(ErrorKind::io, connect_error(fmt::format("S3 {} of \"{}\"", r.method, describe() + "/" + r.key), rc, detail.c_str()),
         "is the endpoint up and its URL right (scheme, host, port)? With https, is its certificate trusted (ca_file)?");
  }
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(h);
  return resp;
}

void Client::fail_response(const Request& r, const Response& resp) const {
  auto codes = xml_values(resp.body, "Code");
  auto messages = xml_values(resp.body, "Message");
  std::string code = codes.empty() ? "" : codes.front();
  std::string where = loc_.origin.empty() ? "repositories." + name_ : loc_.origin;
  std::string what = fmt::format("S3 {} of \"{}\" failed: HTTP {}{}{}", r.method, describe() + (r.key.empty() ? "" : "/" + r.key),
                                 resp.status, code.empty() ? "" : " " + code,
                                 messages.empty() ? "" : ": " + messages.front());
  if (code == "NoSuchBucket") {
    fail(ErrorKind::io, fmt::format("bucket \"{}\" does not exist at {} ({}.bucket)", loc_.bucket, loc_.endpoint, where),
         "create the bucket, or correct bucket / endpoint in the settings");
  }
  if (resp.status == 403 || resp.status == 401 || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch") {
    fail(ErrorKind::io, what,
         fmt::format("the endpoint refused the credentials: check the variables named by {}.access_key_env and "
                     "secret_key_env, the region ({}.region) and the bucket's policy", where, where));
  }
  if (code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed") {
    fail(ErrorKind::io, what, fmt::format("the bucket is in another region or needs another endpoint: check {}.region and "
                                          "{}.endpoint", where, where));
  }
  fail(ErrorKind::io, what, fmt::format("check the endpoint's log; settings: {}", where));
}

}  // namespace pgr::storage::s3
