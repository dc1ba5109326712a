#include <catch2/catch.hpp>

#include "util/log.hpp"
#include "util/redact.hpp"

using pgr::redact_secrets;

TEST_CASE("redact_secrets removes key/value passwords, quoted or not", "[redact]") {
  CHECK(redact_secrets("host=db password=s3cret user=x") == "host=db password=******** user=x");
  CHECK(redact_secrets("host=db password='s3 cr\\'et' user=x") == "host=db password=******** user=x");
  CHECK(redact_secrets("PASSWORD = hunter2 dbname=a") == "PASSWORD=******** dbname=a");
  CHECK(redact_secrets("password=") == "password=********");
}

TEST_CASE("redact_secrets removes URI passwords in userinfo and query", "[redact]") {
  CHECK(redact_secrets("postgresql://alice:secret@db.example:5432/shop") ==
        "postgresql://alice:********@db.example:5432/shop");
  CHECK(redact_secrets("postgres://u:p%40ss@h/d?sslmode=require") == "postgres://u:********@h/d?sslmode=require");
  CHECK(redact_secrets("postgresql://h/d?user=u&password=pw&sslmode=disable") ==
        "postgresql://h/d?user=u&password=********&sslmode=disable");
  // no password: untouched
  CHECK(redact_secrets("postgresql://alice@h/db") == "postgresql://alice@h/db");
}

TEST_CASE("redact_secrets keeps text that merely mentions passwords", "[redact]") {
  CHECK(redact_secrets("password authentication failed for user \"x\"") ==
        "password authentication failed for user \"x\"");
  CHECK(redact_secrets("my_password=1") == "my_password=1");  // not the keyword
  std::string msg = "could not connect to host=h password=topsecret: refused";
  CHECK(redact_secrets(msg).find("topsecret") == std::string::npos);
}

TEST_CASE("every log line is redacted before a sink sees it", "[redact][log]") {
  auto sink = std::make_shared<pgr::log::MemorySink>();
  pgr::log::set_sink(sink);
  pgr::log::set_level(pgr::log::Level::debug);
  pgr::log::info("connecting with {}", "host=x password=letmein");
  pgr::log::debug("uri {}", "postgresql://a:b0b@h/d");
  pgr::log::set_sink(nullptr);
  std::string text = sink->text();
  CHECK(text.find("letmein") == std::string::npos);
  CHECK(text.find("b0b") == std::string::npos);
  CHECK(text.find("host=x password=********") != std::string::npos);
}
