// The S3 driver: a repository in a bucket of an S3-compatible object store (AWS S3, MinIO, Ceph
// RGW), spoken to through libcurl, which signs every request itself (CURLOPT_AWS_SIGV4; no
// signing code of ours). Objects larger than one part go up as multipart uploads; reads stream
// (a bounded buffer, never the whole object) and may start at any byte (Range); requests that
// fail with a connection error or a 5xx/429 answer are retried with exponential backoff; URLs
// are virtual-hosted (bucket.endpoint) or path-style (endpoint/bucket); TLS certificates are
// checked unless the settings turn it off. Credentials live in memory only: they are never in a
// URL, a message, a log line or a child's argv.
//
// There is no rename in S3: a write is one PUT (or one completed multipart upload), visible whole
// or not at all. Staging folders are local temporary folders uploaded file by file.
#pragma once

#include <memory>
#include <string>

#include "storage/storage.hpp"

namespace pgr::storage {

// Checks the location (endpoint URL, bucket name, uri_style, credentials present) and returns the
// driver; no request is made yet. Errors name `location.origin` and the field.
std::shared_ptr<Storage> open_s3(const Location& location, const std::string& name);

namespace s3 {
// Exposed for tests: the URL of a key (no credentials in it), and the percent-encoding of a key.
std::string object_url(const Location& l, const std::string& key, const std::string& query = {});
std::string encode_key(const std::string& key);
// Values of <tag>...</tag> in an S3 XML answer, entities decoded, in order.
std::vector<std::string> xml_values(const std::string& xml, const std::string& tag);
}  // namespace s3

}  // namespace pgr::storage
