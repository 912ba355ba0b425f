// HttpRequest / HttpResponse: the transport-neutral view of one HTTP exchange that route handlers
// see. The server fills a request (body already decoded from gzip/deflate, query and form
// parameters parsed, path parameters bound by the router) and writes the response back.
// Neither type is thread-safe; one request is handled by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/strings.h"

namespace norn::http {

enum class Method : uint8_t { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

std::string_view MethodName(Method m);
Method ParseMethod(std::string_view name);

// Percent-decodes `s` ('+' becomes a space when `plus_is_space`); false on a malformed escape.
bool UrlDecode(std::string_view s, std::string* out, bool plus_is_space);
// Parses `a=1&b=2&b=3` (application/x-www-form-urlencoded). Keeps repeats in order.
absl::Status ParseQueryString(std::string_view qs,
                              std::vector<std::pair<std::string, std::string>>* out);

class HttpRequest {
 public:
  Method method = Method::kGet;
  std::string method_name;  // As sent, for logs and metrics.
  std::string target;       // Raw request target: path plus query.
  std::string path;         // Decoded path, without the query.
  std::string remote_address;
  std::string body;
  // Header names are stored lower-cased.
  StringMap<std::string> headers;
  // Parameters from the URL query and, for form-encoded POST bodies, from the body.
  std::vector<std::pair<std::string, std::string>> params;
  // Bound by the router from `{name}` segments.
  StringMap<std::string> path_params;

  // Header value or "" (name matched case-insensitively).
  std::string_view Header(std::string_view name) const;
  bool HasParam(std::string_view name) const;
  // First value of a query/form parameter, or `fallback`.
  std::string_view Param(std::string_view name, std::string_view fallback = "") const;
  // Every value of a repeated parameter (`match[]=a&match[]=b`).
  std::vector<std::string_view> ParamValues(std::string_view name) const;
  std::string_view PathParam(std::string_view name) const;
};

class HttpResponse {
 public:
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  void SetHeader(std::string name, std::string value);
  void Text(int code, std::string text);
  void Json(int code, std::string json);
  // Loki's error shape for API errors: plain text body with the message, as Loki's
  // server.WriteError does for query endpoints.
  void Error(int code, std::string_view message);
};

// Maps an absl::Status code to the HTTP status Loki uses for it (STYLE.md section 4):
// cancelled 499, deadline 504, invalid argument / failed precondition / out of range 400,
// resource exhausted 429, not found 404, unauthenticated 401, permission denied 403,
// unavailable 503, anything else 500.
int HttpStatusFromStatus(const absl::Status& status);

}  // namespace norn::http
