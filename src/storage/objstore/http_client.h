// HttpClient: a small blocking HTTP/1.1 client over libcurl for the S3 backend and the AWS
// credential providers. It keeps a pool of curl easy handles so connections (and TLS sessions)
// are reused across requests (keep-alive).
//
// Thread-safety: Do() may be called from any number of threads at once; each call takes a handle
// from the pool (under a mutex) or makes a new one, and returns it when done. Requests block the
// calling thread (STYLE.md: blocking SDK calls run on their own pool).
//
// Errors: transport failures (connect refused, DNS, reset, TLS, timeouts) are kUnavailable with
// curl's message; any HTTP status, including 4xx/5xx, is a successful HttpResponse.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/objstore/aws_sigv4.h"

namespace norn::objstore {

struct HttpClientOptions {
  // Time to establish the TCP (and TLS) connection.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Whole-request limit; ZeroDuration() means none.
  absl::Duration request_timeout = absl::ZeroDuration();
  // Loki's http_config.response_header_timeout. curl has no direct equivalent, so this aborts a
  // transfer that moves no bytes at all for this long (also while waiting for the first response
  // byte). ZeroDuration() disables it.
  absl::Duration response_header_timeout = absl::ZeroDuration();
  // Loki's http_config.idle_conn_timeout: a pooled connection idle longer is not reused.
  absl::Duration idle_conn_timeout = absl::Seconds(90);
  // Loki's http_config.insecure_skip_verify: no TLS peer/host verification.
  bool insecure_skip_verify = false;
  // Optional CA bundle path (Loki's http_config.ca_file).
  std::string ca_file;
  // Test hook: a curl CURLOPT_CONNECT_TO entry ("HOST:PORT:CONNECT-HOST:CONNECT-PORT", empty
  // parts match anything / keep the original), e.g. "::127.0.0.1:" sends every request to
  // 127.0.0.1 on the URL's port while keeping the URL's Host (virtual-hosted style tests).
  std::string connect_to;
  // Idle easy handles kept for reuse.
  size_t max_idle_handles = 64;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  KeyValues headers;
  std::string_view body;  // Borrowed; must outlive Do().
  // Per-request override of the client's request_timeout (ZeroDuration: use the client's).
  absl::Duration timeout = absl::ZeroDuration();
};

struct HttpResponse {
  int status = 0;
  KeyValues headers;  // Names lowercased.
  std::string body;

  // First value of header `name` (lowercase), or "".
  std::string_view Header(std::string_view name) const;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  absl::StatusOr<HttpResponse> Do(const HttpRequest& request);

  const HttpClientOptions& options() const { return options_; }

 private:
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  const HttpClientOptions options_;
  absl::Mutex mu_;
  std::vector<void*> idle_ ABSL_GUARDED_BY(mu_);  // CURL* handles.
};

// Splits "http(s)://host[:port]/path?query" into its parts (no user-info support); used to
// validate endpoints.
struct ParsedUrl {
  std::string scheme;  // "http" / "https"
  std::string host;    // without brackets
  int port = 0;        // 0: scheme default
  std::string path;    // "/..." or ""
};
absl::StatusOr<ParsedUrl> ParseHttpUrl(std::string_view url);

// Percent-decoding ("%41" -> "A"; with `plus_is_space`, '+' -> ' ').
std::string UrlDecode(std::string_view s, bool plus_is_space = false);

}  // namespace norn::objstore
