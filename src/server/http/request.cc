#include "server/http/request.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace norn::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kGet: return "GET";
    case Method::kHead: return "HEAD";
    case Method::kPost: return "POST";
    case Method::kPut: return "PUT";
    case Method::kDelete: return "DELETE";
    case Method::kPatch: return "PATCH";
    case Method::kOptions: return "OPTIONS";
    case Method::kOther: return "OTHER";
  }
  return "OTHER";
}

Method ParseMethod(std::string_view name) {
  if (name == "GET") return Method::kGet;
  if (name == "HEAD") return Method::kHead;
  if (name == "POST") return Method::kPost;
  if (name == "PUT") return Method::kPut;
  if (name == "DELETE") return Method::kDelete;
  if (name == "PATCH") return Method::kPatch;
  if (name == "OPTIONS") return Method::kOptions;
  return Method::kOther;
}

bool UrlDecode(std::string_view s, std::string* out, bool plus_is_space) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return false;
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

absl::Status ParseQueryString(std::string_view qs,
                              std::vector<std::pair<std::string, std::string>>* out) {
  for (absl::string_view part_av : absl::StrSplit(AV(qs), '&', absl::SkipEmpty())) {
    std::string_view part = SV(part_av);
    size_t eq = part.find('=');
    std::string_view raw_key = part.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
    std::string key, value;
    if (!UrlDecode(raw_key, &key, true) || !UrlDecode(raw_value, &value, true)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid URL escape in query parameter \"", AV(raw_key), "\""));
    }
    out->emplace_back(std::move(key), std::move(value));
  }
  return absl::OkStatus();
}

std::string_view HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(absl::AsciiStrToLower(AV(name)));
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

bool HttpRequest::HasParam(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return true;
  }
  return false;
}

std::string_view HttpRequest::Param(std::string_view name, std::string_view fallback) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return fallback;
}

std::vector<std::string_view> HttpRequest::ParamValues(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const auto& [k, v] : params) {
    if (k == name) values.push_back(v);
  }
  return values;
}

std::string_view HttpRequest::PathParam(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string_view() : std::string_view(it->second);
}

void HttpResponse::SetHeader(std::string name, std::string value) {
  for (auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, AV(name))) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

void HttpResponse::Text(int code, std::string text) {
  status = code;
  content_type = "text/plain; charset=utf-8";
  body = std::move(text);
}

void HttpResponse::Json(int code, std::string json) {
  status = code;
  content_type = "application/json; charset=utf-8";
  body = std::move(json);
}

void HttpResponse::Error(int code, std::string_view message) {
  Text(code, absl::StrCat(AV(message), "\n"));
}

int HttpStatusFromStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kCancelled: return 499;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kAlreadyExists: return 409;
    default: return 500;
  }
}

}  // namespace norn::http
