// HTTP requests to an S3 endpoint through libcurl: signing (CURLOPT_AWS_SIGV4), TLS settings,
// retries with exponential backoff, and errors that say which setting to look at.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/storage.hpp"

typedef void CURL;

namespace pgr::storage::s3 {

struct Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
};

struct Request {
  std::string method = "GET";      // GET, HEAD, PUT, POST, DELETE
  std::string key;                 // empty: the bucket itself
  std::string query;               // already encoded, parameters in sorted order (SigV4)
  std::vector<std::string> headers;
  std::string_view body;           // PUT / POST payload
};

class Client {
 public:
  Client(Location location, std::string name);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Location& location() const { return loc_; }
  std::string describe() const;  // "s3://bucket/prefix" (endpoint in messages only when useful)
  // Performs the request, retrying connection errors and 5xx/429 answers. Returns the final
  // answer whatever its status; throws Error(io) when the endpoint cannot be reached.
  Response perform(const Request& r) const;
  // Throws Error(io) for a failed answer, naming the request and what to check.
  [[noreturn]] void fail_response(const Request& r, const Response& resp) const;

  // A configured easy handle (signing, TLS, timeouts) for a request of the driver's own.
  CURL* make_handle() const;
  // The message for a curl failure on `what`, naming the endpoint setting.
  std::string connect_error(const std::string& what, int curl_code, const char* detail) const;
  static int attempts();
  static void backoff(int attempt);  // sleeps 100 ms * 2^attempt, at most 5 s

 private:
  Location loc_;
  std::string name_;
  mutable std::mutex mu_;
  mutable std::vector<CURL*> idle_;
};

}  // namespace pgr::storage::s3
