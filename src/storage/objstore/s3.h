// S3ObjectClient: the ObjectClient backend for Amazon S3 and S3-compatible stores (MinIO, Ceph
// RGW, moto, ...), configured like Loki's storage_config.aws block.
//
// Requests are SigV4-signed (aws_sigv4.h) with credentials from the default AWS chain
// (aws_credentials.h) and sent over a pooled libcurl transport (http_client.h). Objects larger
// than `part_size` are written with a multipart upload (aborted on failure), so Put stays
// atomic: readers see the old object or the whole new one.
//
// Errors follow object_client.h: 404/NoSuchKey -> kNotFound; 5xx, 429, SlowDown, RequestTimeout,
// connection failures and timeouts -> retried with exponential backoff and full jitter, then
// kUnavailable; 403 -> kPermissionDenied, 401 -> kUnauthenticated (message carries S3's Code and
// Message); other 4xx -> kInvalidArgument; anything else -> kInternal.
//
// Every HTTP attempt is timed into loki_s3_request_duration_seconds{operation,status_code}
// (operation "S3.GetObject", "S3.PutObject", "S3.List", ...; status_code the HTTP status or
// "error" when no response arrived).
//
// Thread-safety: all methods may be called concurrently. Calls block; run them on a pool.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "storage/objstore/aws_credentials.h"
#include "storage/objstore/http_client.h"
#include "storage/objstore/object_client.h"

namespace norn::objstore {

// Loki's aws.http_config.
struct S3HttpConfig {
  absl::Duration idle_conn_timeout = absl::Seconds(90);
  absl::Duration response_header_timeout = absl::ZeroDuration();  // 0: none
  bool insecure_skip_verify = false;
  std::string ca_file;
  // Not in Loki's config (Go's defaults): connect timeout and whole-request timeout (0: none).
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration request_timeout = absl::ZeroDuration();
};

// Loki's aws.backoff_config. max_retries counts attempts, as Loki's backoff does: 5 means at
// most 5 requests (the first and 4 retries).
struct S3BackoffConfig {
  absl::Duration min_period = absl::Milliseconds(100);
  absl::Duration max_period = absl::Seconds(3);
  int max_retries = 5;
};

// Loki's aws.sse: type "SSE-S3" (AES256) or "SSE-KMS" (kms_key_id required; the optional
// kms_encryption_context is a JSON object sent base64-encoded). Empty type: no SSE headers.
struct S3SseConfig {
  std::string type;
  std::string kms_key_id;
  std::string kms_encryption_context;
};

struct S3Options {
  // Loki's bucketnames (comma-separated there; see ParseBucketNames). Only the first bucket is
  // used: Loki spreads chunks over several buckets by hash, Norn does not (yet).
  std::vector<std::string> bucket_names;
  // "host[:port]" or "http(s)://host[:port]". Empty: s3.<region>.amazonaws.com. A scheme given
  // here wins over `insecure`.
  std::string endpoint;
  // Signing region. Empty: "us-east-1".
  std::string region;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  // Path style (endpoint/bucket/key) instead of virtual-hosted style (bucket.endpoint/key).
  // Path style is also used when the bucket name is not DNS-compatible, when it has dots over
  // https, and when the endpoint host is an IP address or "localhost".
  bool s3forcepathstyle = false;
  // http:// instead of https:// when the endpoint has no scheme.
  bool insecure = false;
  S3HttpConfig http_config;
  S3BackoffConfig backoff_config;
  S3SseConfig sse;
  // x-amz-storage-class on writes; empty sends none.
  std::string storage_class = "STANDARD";
  // Objects larger than this go up as multipart uploads in parts of this size. Raised to S3's
  // 5 MiB minimum if smaller.
  uint64_t part_size = 16ull << 20;
  // ListObjectsV2 page size (S3's maximum is 1000).
  int list_max_keys = 1000;
  // STS endpoint for web-identity credentials (empty: AWS_ENDPOINT_URL_STS, then regional).
  std::string sts_endpoint;
  // Sign request bodies (SHA-256 payload hash). Default: only over plain http, where TLS does
  // not protect the body; over https UNSIGNED-PAYLOAD saves hashing every chunk.
  bool sign_payload_over_https = false;
  // Test hook passed to HttpClientOptions::connect_to (e.g. "::127.0.0.1:").
  std::string connect_to;
};

// "a, b,c" -> {"a", "b", "c"} (Loki's bucketnames).
std::vector<std::string> ParseBucketNames(std::string_view names);

// Applies Loki's `s3:` URL to `options`:
//   s3://ACCESS:SECRET@REGION/BUCKET  -> static keys, region, bucket
//   s3://REGION/BUCKET                -> region, bucket (credentials from the chain)
//   s3://ACCESS:SECRET@HOST.WITH.DOTS[:PORT]/BUCKET -> endpoint http://HOST[:PORT] (insecure,
//       path style), region from AWS_REGION or "dummy", as Loki does for S3-compatible stores.
// User and password are percent-decoded. kInvalidArgument for other schemes or no bucket.
[[nodiscard]] absl::Status ApplyS3Url(std::string_view url, S3Options& options);

class S3ObjectClient : public ObjectClient {
 public:
  // Credentials: options' static keys first, then the default chain (aws_credentials.h).
  static absl::StatusOr<std::unique_ptr<S3ObjectClient>> Create(S3Options options);
  // With an explicit credentials provider (tests, or callers sharing one chain).
  static absl::StatusOr<std::unique_ptr<S3ObjectClient>> Create(
      S3Options options, std::shared_ptr<CredentialsProvider> credentials);

  ~S3ObjectClient() override;

  absl::Status Put(std::string_view key, std::string_view data) override;
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset,
                                       uint64_t length) override;
  absl::StatusOr<ObjectAttributes> Head(std::string_view key) override;
  absl::StatusOr<ListResult> List(std::string_view prefix, std::string_view delimiter) override;
  absl::Status Delete(std::string_view key) override;
  std::string_view Name() const override { return "s3"; }

  // HeadBucket: OK when the bucket exists and the credentials may use it (for /ready and
  // startup checks). kNotFound, kPermissionDenied or kUnavailable otherwise.
  [[nodiscard]] absl::Status CheckBucket();
  // CreateBucket (with a LocationConstraint outside us-east-1). An already-owned bucket is OK.
  // For tests and development setups; production buckets are provisioned outside Norn.
  [[nodiscard]] absl::Status CreateBucket();

  const std::string& bucket() const { return bucket_; }
  bool virtual_hosted() const { return virtual_hosted_; }
  // The request URL of `key` ("" for the bucket itself), already URI-encoded.
  std::string ObjectUrl(std::string_view key) const;
  CredentialsProvider& credentials() { return *credentials_; }

 private:
  struct Call;
  S3ObjectClient(S3Options options, std::shared_ptr<CredentialsProvider> credentials,
                 std::string scheme, std::string host, bool virtual_hosted);

  // Sends `call` with signing, retries and metrics. Returns the response when its status is 2xx
  // or listed in call.accept; otherwise the mapped error.
  absl::StatusOr<HttpResponse> Execute(const Call& call);
  absl::Status PutMultipart(std::string_view key, std::string_view data);
  void AddWriteHeaders(KeyValues& headers) const;

  const S3Options options_;
  const std::shared_ptr<CredentialsProvider> credentials_;
  const std::string scheme_;  // "http" / "https"
  const std::string host_;    // endpoint host[:port] (without the bucket)
  const bool virtual_hosted_;
  const std::string bucket_;
  const std::string region_;
  HttpClient http_;
  metrics::HistogramFamily& durations_;
};

}  // namespace norn::objstore
