// The S3 driver's pure parts and its settings: URLs in both styles (no credentials in them),
// key encoding, the XML answers, and settings errors that name the file and the field.
#include <catch2/catch.hpp>

#include "config/settings.hpp"
#include "storage/s3/s3.hpp"
#include "util/error.hpp"

using namespace pgr;

TEST_CASE("storage s3: path-style and virtual-hosted URLs, keys under the prefix, percent-encoded", "[storage][s3]") {
  storage::Location l;
  l.type = "s3";
  l.endpoint = "https://s3.eu-central-1.amazonaws.com/";
  l.bucket = "db-backups";
  l.prefix = "pgrecover/prod";
  l.access_key = "AKIDSECRETISH";
  l.secret_key = "wJalrXUtnFEMI";
  l.uri_style = "host";
  CHECK(storage::s3::object_url(l, "backups/p/20250101T000000Z/manifest.json") ==
        "https://db-backups.s3.eu-central-1.amazonaws.com/pgrecover/prod/backups/p/20250101T000000Z/manifest.json");
  l.uri_style = "path";
  CHECK(storage::s3::object_url(l, "wal/main/x y", "partNumber=1&uploadId=abc") ==
        "https://s3.eu-central-1.amazonaws.com/db-backups/pgrecover/prod/wal/main/x%20y?partNumber=1&uploadId=abc");
  CHECK(storage::s3::object_url(l, "", "list-type=2").find("AKID") == std::string::npos);
  CHECK(storage::s3::encode_key("a b/c+d~e") == "a%20b/c%2Bd~e");
  CHECK(storage::s3::xml_values("<R><Key>a&amp;b</Key><Size>3</Size><Key>c</Key></R>", "Key") ==
        std::vector<std::string>{"a&b", "c"});
  l.bucket = "Bad_Bucket";
  CHECK_THROWS_AS(storage::open(l, "offsite", false), Error);
  l.bucket = "ok-bucket";
  l.uri_style = "sideways";
  CHECK_THROWS_AS(storage::open(l, "offsite", false), Error);
}

TEST_CASE("settings: s3 repositories are parsed and their mistakes named by file, line and field", "[storage][s3]") {
  auto s = config::parse_settings(R"([repositories.offsite]
type = "s3"
endpoint = "https://s3.eu-central-1.amazonaws.com"
bucket = "db-backups"
prefix = "/pgrecover/prod/"
region = "eu-central-1"
uri_style = "path"
access_key_env = "AWS_ACCESS_KEY_ID"
secret_key_env = "AWS_SECRET_ACCESS_KEY"
)",
                                  "/etc/pgrecover/pgrecover.toml");
  const auto& r = s.repositories.at("offsite");
  CHECK(r.type == "s3");
  CHECK(r.prefix == "pgrecover/prod");
  CHECK(r.uri_style == "path");
  CHECK(r.tls_verify);
  CHECK(r.origin == "/etc/pgrecover/pgrecover.toml [repositories.offsite]");
  auto bad = [](const std::string& toml) {
    try {
      config::parse_settings(toml, "/etc/pgrecover/pgrecover.toml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string missing = bad("[repositories.offsite]\ntype = \"s3\"\nendpoint = \"https://x\"\nbucket = \"b-1\"\nregion = \"r\"\n");
  CHECK(missing.find("pgrecover.toml") != std::string::npos);
  CHECK(missing.find("access_key_env") != std::string::npos);
  std::string style = bad("[repositories.o]\ntype = \"s3\"\nendpoint = \"ftp://x\"\nbucket = \"b-1\"\nregion = \"r\"\n"
                          "access_key_env = \"A\"\nsecret_key_env = \"B\"\nuri_style = \"diagonal\"\n");
  CHECK(style.find("uri_style") != std::string::npos);
  CHECK(style.find("endpoint") != std::string::npos);
  CHECK(bad("[repositories.o]\ntype = \"nfs\"\npath = \"/x\"\n").find("repositories.o.type") != std::string::npos);
  CHECK(bad("[repositories.o]\npath = \"/x\"\nbucket = \"b\"\n").find("repositories.o.bucket") != std::string::npos);
}
