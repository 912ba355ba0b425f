// AWS Signature Version 4 request signing (the `AWS4-HMAC-SHA256` scheme S3, STS and every other
// AWS API accept), plus the hashing and URI-encoding primitives it is built from.
//
// The caller builds the request (method, already-encoded path, decoded query parameters, headers
// including `host`) and SignRequest() adds `x-amz-date`, `x-amz-content-sha256` (S3 only),
// `x-amz-security-token` (session credentials) and `Authorization`. Pure functions: no state, no
// I/O, thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace norn::objstore {

// One set of AWS credentials. `session_token` is set for temporary (STS) credentials;
// `expiration` is InfiniteFuture() for long-term keys.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  absl::Time expiration = absl::InfiniteFuture();

  bool empty() const { return access_key_id.empty() || secret_access_key.empty(); }
};

// Name/value pairs in order; names compare case-insensitively where HTTP says so.
using KeyValues = std::vector<std::pair<std::string, std::string>>;

// The payload hash S3 accepts instead of a body digest (the body is then covered by TLS only).
inline constexpr char kUnsignedPayload[] = "UNSIGNED-PAYLOAD";
// SHA-256 of the empty string, hex: the payload hash of every body-less request.
inline constexpr char kEmptyPayloadSha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string HexEncode(std::string_view bytes);
// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Raw (32-byte) HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - _ . ~) kept,
// everything else as %XX with uppercase hex. With `keep_slash`, '/' is kept (object key paths);
// S3 paths are encoded exactly once (no double encoding, unlike other services).
std::string UriEncode(std::string_view s, bool keep_slash);
// "/" + each segment of `key` URI-encoded, slashes kept.
std::string S3CanonicalPath(std::string_view key);

// `x-amz-date` format: 20130524T000000Z.
std::string AmzDate(absl::Time t);

struct SigV4Request {
  std::string_view method;           // "GET"
  std::string_view canonical_uri;    // URI-encoded path exactly as sent, e.g. "/bucket/a%20b"
  const KeyValues* query = nullptr;  // decoded names and values; may be null
  std::string payload_hash;          // hex SHA-256 of the body, or kUnsignedPayload (owned)
  std::string_view region;           // "us-east-1"
  std::string_view service;          // "s3", "sts"
  absl::Time now;
};

// The intermediate strings, exposed for tests and debugging (S3 returns the canonical request it
// computed in SignatureDoesNotMatch errors).
struct SigV4Debug {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;
  std::string signature;
};

// Signs `req`: appends x-amz-date, x-amz-content-sha256 (service "s3"), x-amz-security-token
// (when creds.session_token is set) and Authorization to `headers`, which must already hold
// `host` and every other header to be signed (all present headers are signed). Returns the
// intermediate strings.
SigV4Debug SignRequest(const SigV4Request& req, const AwsCredentials& creds, KeyValues& headers);

// The canonical query string: names and values URI-encoded, sorted by name then value, joined
// with '&' (a name without value appears as "name=").
std::string CanonicalQueryString(const KeyValues& query);

}  // namespace norn::objstore
