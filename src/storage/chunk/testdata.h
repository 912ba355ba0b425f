// Deterministic generators of realistic log lines (nginx access, JSON application, logfmt) for
// chunk tests and benchmarks. Test-only; header-only; not thread-safe (each generator owns its
// RNG).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace norn::chunk::testdata {

class LogGenerator {
 public:
  explicit LogGenerator(uint64_t seed) : rng_(seed) {}

  std::string Hex(int n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s(n, '0');
    for (int i = 0; i < n; ++i)
      s[i] = kHex[rng_() & 15];
    return s;
  }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  template <size_t N>
  const char* Pick(const char* const (&a)[N]) {
    return a[Uniform(0, static_cast<int>(N) - 1)];
  }

  std::string Nginx(int64_t ts_ns) {
    static const char* const kMethods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};
    static const char* const kPaths[] = {"/api/v1/users", "/api/v1/orders", "/static/app.js",
                                         "/index.html",   "/healthz",       "/api/v1/cart",
                                         "/login",        "/api/v2/search", "/favicon.ico"};
    static const char* const kAgents[] = {
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 "
        "Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.1 "
        "Safari/605.1.15",
        "curl/7.88.1", "Go-http-client/1.1", "kube-probe/1.27"};
    static const int kStatus[] = {200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500, 503};
    const int64_t sec = ts_ns / 1000000000;
    return absl::StrFormat(
        "%d.%d.%d.%d - - [%s] \"%s %s?id=%d HTTP/1.1\" %d %d \"-\" \"%s\" rt=%.3f uri=%s",
        Uniform(1, 223), Uniform(0, 255), Uniform(0, 255), Uniform(1, 254),
        absl::StrFormat("27/Nov/2023:%02d:%02d:%02d +0000", (sec / 3600) % 24, (sec / 60) % 60,
                        sec % 60),
        Pick(kMethods), Pick(kPaths), Uniform(1, 99999), kStatus[Uniform(0, 11)], Uniform(0, 50000),
        Pick(kAgents), Uniform(1, 3000) / 1000.0, Pick(kPaths));
  }

  std::string Json(int64_t ts_ns) {
    static const char* const kLevels[] = {"info", "info", "info", "debug", "warn", "error"};
    static const char* const kMsgs[] = {"request completed",      "cache miss",
                                        "user logged in",         "payment authorized",
                                        "retrying upstream call", "connection reset by peer",
                                        "order created"};
    static const char* const kServices[] = {"checkout", "cart", "frontend", "payments"};
    return absl::StrFormat(
        "{\"ts\":\"2023-11-27T10:%02d:%02d.%09dZ\",\"level\":\"%s\",\"service\":\"%s\","
        "\"msg\":\"%s\",\"trace_id\":\"%s\",\"span_id\":\"%s\",\"user_id\":%d,"
        "\"duration_ms\":%d,\"path\":\"/api/v1/orders/%d\"}",
        (ts_ns / 60000000000) % 60, (ts_ns / 1000000000) % 60, ts_ns % 1000000000, Pick(kLevels),
        Pick(kServices), Pick(kMsgs), Hex(32), Hex(16), Uniform(1, 100000), Uniform(0, 2000),
        Uniform(1, 1000000));
  }

  std::string Logfmt(int64_t ts_ns) {
    static const char* const kLevels[] = {"info", "info", "debug", "warn", "error"};
    static const char* const kCallers[] = {"ingester.go:412", "flush.go:88", "http.go:201",
                                           "retry.go:55"};
    static const char* const kMsgs[] = {"\"flushing chunk\"", "\"request done\"", "\"slow query\"",
                                        "\"GET /api/v1/query_range (200)\""};
    return absl::StrFormat(
        "level=%s ts=2023-11-27T10:%02d:%02d.%06dZ caller=%s msg=%s org_id=tenant-%d "
        "traceID=%s duration=%dms bytes=%d",
        Pick(kLevels), (ts_ns / 60000000000) % 60, (ts_ns / 1000000000) % 60,
        (ts_ns / 1000) % 1000000, Pick(kCallers), Pick(kMsgs), Uniform(1, 20), Hex(16),
        Uniform(1, 5000), Uniform(100, 10000000));
  }

  // kind: 0 nginx, 1 json, 2 logfmt, 3 a mix of all three.
  std::string Line(int kind, int64_t ts_ns) {
    if (kind == 3)
      kind = Uniform(0, 2);
    switch (kind) {
      case 0:
        return Nginx(ts_ns);
      case 1:
        return Json(ts_ns);
      default:
        return Logfmt(ts_ns);
    }
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

}  // namespace norn::chunk::testdata
