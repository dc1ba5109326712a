#include "support/s3_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::test {

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    fail(ErrorKind::io, "no free port for s3rver");
  }
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

bool accepting(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string s3rver_path() {
  std::string p = env_or("PGRECOVER_S3RVER", "");
  if (!p.empty()) return p;
  std::string home = env_or("HOME", "/root");
  return env_or("PGRECOVER_CACHE", env_or("XDG_CACHE_HOME", home + "/.cache") + "/pgrecover") + "/s3rver/node_modules/.bin/s3rver";
}

}  // namespace

S3Server& S3Server::shared() {
  static S3Server s;
  return s;
}

S3Server::S3Server() {
  std::string ext = env_or("PGRECOVER_TEST_S3_ENDPOINT", "");
  if (!ext.empty()) {
    external_ = true;
    endpoint_ = ext;
    bucket_ = env_or("PGRECOVER_TEST_S3_BUCKET", "pgrecover-test");
    region_ = env_or("PGRECOVER_TEST_S3_REGION", "us-east-1");
    uri_style_ = env_or("PGRECOVER_TEST_S3_URI_STYLE", "path");
    access_key_ = env_or("AWS_ACCESS_KEY_ID", "");
    secret_key_ = env_or("AWS_SECRET_ACCESS_KEY", "");
    return;
  }
  std::string bin = s3rver_path();
  if (::access(bin.c_str(), X_OK) != 0) {
    fail(ErrorKind::io, fmt::format("s3rver is not installed at {}", bin),
         "run ./scripts/test once (it installs s3rver into a cache folder), or set PGRECOVER_S3RVER");
  }
  dir_ = std::make_unique<TempDir>("pgrecover-s3rver-");
  storage_dir_ = dir_->path() / "data";
  std::filesystem::create_directories(storage_dir_);
  port_ = free_port();
  endpoint_ = fmt::format("http://127.0.0.1:{}", port_);
  bucket_ = "pgrecover-test";
  region_ = "us-east-1";
  access_key_ = secret_key_ = "S3RVER";  // s3rver's built-in account (it does not reject bad signatures)
  start();
}

S3Server::~S3Server() { kill(); }

void S3Server::start() {
  if (external_ || pid_ > 0) return;
  std::string bin = s3rver_path(), dir = storage_dir_.string(), port = std::to_string(port_),
              log = (dir_->path() / "s3rver.log").string();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);  // s3rver 3's continuation tokens use a legacy cipher
    FILE* out = std::freopen(log.c_str(), "a", stdout);
    (void)out;
    ::dup2(::fileno(stdout), 2);
    ::execl(bin.c_str(), bin.c_str(), "-d", dir.c_str(), "-a", "127.0.0.1", "-p", port.c_str(), "--configure-bucket",
            bucket_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  for (int i = 0; i < 300; ++i) {
    if (accepting(port_)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill();
  fail(ErrorKind::io, fmt::format("s3rver did not start on port {} (log: {})", port_, log));
}

void S3Server::kill() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  for (int i = 0; i < 100 && accepting(port_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::string S3Server::settings(const std::string& name, const std::string& prefix, const std::string& extra) const {
  return fmt::format(R"([repositories.{}]
type = "s3"
endpoint = "{}"
bucket = "{}"
prefix = "{}"
region = "{}"
uri_style = "{}"
access_key_env = "TEST_S3_ACCESS_KEY"
secret_key_env = "TEST_S3_SECRET_KEY"
{}
)",
                     name, endpoint_, bucket_, prefix, region_, uri_style_, extra);
}

storage::Location S3Server::location(const std::string& prefix) const {
  storage::Location l;
  l.type = "s3";
  l.endpoint = endpoint_;
  l.bucket = bucket_;
  l.prefix = prefix;
  l.region = region_;
  l.uri_style = uri_style_;
  l.access_key = access_key_;
  l.secret_key = secret_key_;
  l.origin = "the test's S3 server";
  return l;
}

std::vector<std::string> S3Server::env() const {
  return {"TEST_S3_ACCESS_KEY=" + access_key_, "TEST_S3_SECRET_KEY=" + secret_key_};
}

void S3Server::export_env() const {
  ::setenv("TEST_S3_ACCESS_KEY", access_key_.c_str(), 1);
  ::setenv("TEST_S3_SECRET_KEY", secret_key_.c_str(), 1);
}

// s3rver's filesystem store keeps the object "a/b/c" of a bucket as <storage>/<bucket>/a/b/c._S3rver_object
// (beside c._S3rver_metadata.json), and a multipart upload's parts in <storage>/<bucket>/._S3rver_uploads/<upload id>/.
namespace {
constexpr std::string_view kObjectSuffix = "._S3rver_object";
}

std::set<std::string> S3Server::stored_keys(const std::string& prefix) const {
  std::set<std::string> keys;
  if (external_) return keys;
  std::filesystem::path bucket = storage_dir_ / bucket_;
  if (!std::filesystem::exists(bucket)) return keys;
  for (const auto& e : std::filesystem::recursive_directory_iterator(bucket)) {
    std::string rel = std::filesystem::relative(e.path(), bucket).generic_string();
    if (rel.size() <= kObjectSuffix.size() || rel.compare(rel.size() - kObjectSuffix.size(), kObjectSuffix.size(), kObjectSuffix) != 0)
      continue;
    std::string key = rel.substr(0, rel.size() - kObjectSuffix.size());
    if (key.rfind(prefix, 0) == 0) keys.insert(key);
  }
  return keys;
}

std::string S3Server::stored_object(const std::string& key) const {
  return read_file(storage_dir_ / bucket_ / (key + std::string(kObjectSuffix)));
}

std::size_t S3Server::pending_uploads() const {
  std::filesystem::path uploads = storage_dir_ / bucket_ / "._S3rver_uploads";
  if (external_ || !std::filesystem::exists(uploads)) return 0;
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(uploads))
    if (e.is_directory()) ++n;
  return n;
}

}  // namespace pgr::test
