#include "storage/objstore/http_client.h"

#include <algorithm>
#include <mutex>

#include <curl/curl.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace norn::objstore {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t WriteBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  static_cast<std::string*>(userdata)->append(ptr, size * nmemb);
  return size * nmemb;
}

size_t WriteHeader(char* ptr, size_t size, size_t nitems, void* userdata) {
  auto* resp = static_cast<HttpResponse*>(userdata);
  std::string_view line(ptr, size * nitems);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or 100 Continue): forget the previous one's headers.
    resp->headers.clear();
    return size * nitems;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name = absl::AsciiStrToLower(AV(line.substr(0, colon)));
    std::string value(absl::StripAsciiWhitespace(AV(line.substr(colon + 1))));
    resp->headers.emplace_back(std::move(name), std::move(value));
  }
  return size * nitems;
}

long Millis(absl::Duration d) {
  return static_cast<long>(absl::ToInt64Milliseconds(d));
}

}  // namespace

std::string_view HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name)
      return v;
  }
  return {};
}

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {
  GlobalInit();
}

HttpClient::~HttpClient() {
  absl::MutexLock lock(&mu_);
  for (void* h : idle_)
    curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::AcquireHandle() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::ReleaseHandle(void* handle) {
  {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < options_.max_idle_handles) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

absl::StatusOr<HttpResponse> HttpClient::Do(const HttpRequest& request) {
  CURL* curl = static_cast<CURL*>(AcquireHandle());
  if (curl == nullptr)
    return absl::InternalError("curl_easy_init failed");
  // Reset clears options but keeps the handle's connection cache, so keep-alive survives.
  curl_easy_reset(curl);

  HttpResponse resp;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, Millis(options_.connect_timeout));
  absl::Duration timeout =
      request.timeout > absl::ZeroDuration() ? request.timeout : options_.request_timeout;
  if (timeout > absl::ZeroDuration())
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, Millis(timeout));
  if (options_.response_header_timeout > absl::ZeroDuration()) {
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(
        curl, CURLOPT_LOW_SPEED_TIME,
        std::max<long>(1,
                       static_cast<long>(absl::ToInt64Seconds(options_.response_header_timeout))));
  }
  if (options_.idle_conn_timeout > absl::ZeroDuration()) {
    curl_easy_setopt(
        curl, CURLOPT_MAXAGE_CONN,
        std::max<long>(1, static_cast<long>(absl::ToInt64Seconds(options_.idle_conn_timeout))));
  }
  if (options_.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!options_.ca_file.empty())
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_slist* connect_to = nullptr;
  if (!options_.connect_to.empty()) {
    connect_to = curl_slist_append(nullptr, options_.connect_to.c_str());
    curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to);
  }
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);

  const std::string& m = request.method;
  if (m == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (m == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    // POSTFIELDS sends the body for any method; CUSTOMREQUEST names the real one.
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    if (m != "POST")
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, m.c_str());
  }

  curl_slist* headers = nullptr;
  bool has_content_type = false;
  for (const auto& [k, v] : request.headers) {
    if (absl::EqualsIgnoreCase(AV(k), "content-type"))
      has_content_type = true;
    headers = curl_slist_append(headers, absl::StrCat(k, ": ", v).c_str());
  }
  // No "Expect: 100-continue" round trip, and no curl-invented form content type on bodies.
  headers = curl_slist_append(headers, "Expect:");
  if (!has_content_type && m != "GET" && m != "HEAD") {
    headers = curl_slist_append(headers, "Content-Type:");
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &resp);

  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  if (rc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_slist_free_all(connect_to);
  // Unset pointers into this frame before the handle goes back to the pool.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  ReleaseHandle(curl);

  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(request.method, " ", request.url, ": ",
                                               errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  resp.status = static_cast<int>(status);
  return resp;
}

absl::StatusOr<ParsedUrl> ParseHttpUrl(std::string_view url) {
  ParsedUrl out;
  size_t p = url.find("://");
  if (p == std::string_view::npos)
    return absl::InvalidArgumentError(absl::StrCat("not a URL: ", AV(url)));
  out.scheme = absl::AsciiStrToLower(AV(url.substr(0, p)));
  if (out.scheme != "http" && out.scheme != "https") {
    return absl::InvalidArgumentError(absl::StrCat("unsupported URL scheme: ", AV(url)));
  }
  std::string_view rest = url.substr(p + 3);
  size_t slash = rest.find_first_of("/?");
  std::string_view hostport = rest.substr(0, slash);
  out.path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  if (hostport.empty())
    return absl::InvalidArgumentError(absl::StrCat("URL has no host: ", AV(url)));
  std::string_view portstr;
  if (hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos)
      return absl::InvalidArgumentError(absl::StrCat("bad URL: ", AV(url)));
    out.host = std::string(hostport.substr(1, close - 1));
    if (close + 1 < hostport.size() && hostport[close + 1] == ':')
      portstr = hostport.substr(close + 2);
  } else {
    size_t colon = hostport.rfind(':');
    out.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos)
      portstr = hostport.substr(colon + 1);
  }
  if (!portstr.empty() &&
      (!absl::SimpleAtoi(AV(portstr), &out.port) || out.port <= 0 || out.port > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in URL: ", AV(url)));
  }
  return out;
}

std::string UrlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

}  // namespace norn::objstore
