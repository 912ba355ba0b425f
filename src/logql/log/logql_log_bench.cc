// Micro-benchmarks of the log pipeline's hot paths: literal and regex line filters, json and
// logfmt parsing. Run: build-*/src/logql/log/logql_log_bench
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "logql/log/json_parser.h"
#include "logql/log/labels_builder.h"
#include "logql/log/line_filter.h"
#include "logql/log/logfmt_parser.h"
#include "logql/log/pipeline.h"

namespace norn::logql_log {
namespace {

// ~200-byte nginx-style access lines.
std::vector<std::string> NginxLines(size_t n) {
  std::mt19937 rng(42);
  auto r = [&rng] { return static_cast<unsigned>(rng()); };
  const char* methods[] = {"GET", "PUT", "DELETE"};
  const char* paths[] = {"/api/v1/products/42", "/api/v1/cart", "/static/app.js", "/healthz"};
  const char* uas[] = {"curl/8.4.0", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Firefox/121.0",
                       "python-requests/2.31.0"};
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    char buf[512];
    snprintf(buf, sizeof(buf),
             "%u.%u.%u.%u - - [01/Jan/2024:00:%02u:%02u +0000] \"%s %s HTTP/1.1\" %u %u \"-\" "
             "\"%s\" 0.%03u upstream=10.0.%u.%u:8080 req_id=%08x",
             r() % 256, r() % 256, r() % 256, r() % 256, r() % 60, r() % 60,
             methods[r() % 3], paths[r() % 4], 200 + r() % 5, r() % 5000,
             uas[r() % 3], r() % 1000, r() % 256, r() % 256, r());
    out.emplace_back(buf);
  }
  return out;
}

std::vector<std::string> JsonLines(size_t n) {
  std::mt19937 rng(7);
  auto r = [&rng] { return static_cast<unsigned>(rng()); };
  const char* levels[] = {"info", "warn", "error", "debug"};
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"ts\":\"2024-01-01T01:59:%02u.%03uZ\",\"level\":\"%s\",\"msg\":\"refund issued\","
             "\"latency_ms\":%u,\"status\":%u,\"user\":\"heidi\",\"method\":\"POST\","
             "\"path\":\"/v1/payments/authorize\",\"success\":true,\"amount\":%u.%02u,"
             "\"currency\":\"GBP\",\"http.route\":\"/v1/payments/{id}\",\"trace-id\":\"%08x\","
             "\"request\":{\"id\":\"req-%08x\",\"client\":{\"ip\":\"10.3.%u.%u\",\"version\":"
             "\"1.5.0\"},\"headers\":{\"User-Agent\":\"Go-http-client/1.1\",\"Accept\":"
             "\"application/json\"}},\"response\":{\"status\":201,\"size\":\"322B\","
             "\"duration\":\"86ms\"},\"tags\":[\"card\",\"3ds\"],\"retry\":null,\"attempt\":3}",
             r() % 60, r() % 1000, levels[r() % 4], r() % 2000, 200 + r() % 300,
             r() % 500, r() % 100, r(), r(), r() % 256, r() % 256);
    out.emplace_back(buf);
  }
  return out;
}

std::vector<std::string> LogfmtLines(size_t n) {
  std::mt19937 rng(9);
  auto r = [&rng] { return static_cast<unsigned>(rng()); };
  const char* levels[] = {"info", "warn", "error", "debug"};
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "ts=2024-01-01T01:57:%02u.%06uZ level=%s caller=session.go:201 "
             "msg=\"token refreshed for user\" user=erin method=DELETE path=/login status=%u "
             "duration=%u.%ums bytes=%u.%uMB client_ip=198.51.100.%u mfa=false",
             r() % 60, r() % 1000000, levels[r() % 4], 200 + r() % 300, r() % 1000,
             r() % 10, r() % 20, r() % 10, r() % 256);
    out.emplace_back(buf);
  }
  return out;
}

size_t TotalBytes(const std::vector<std::string>& lines) {
  size_t n = 0;
  for (const auto& l : lines) n += l.size();
  return n;
}

void RunFilter(benchmark::State& state, const LineFilter& f,
               const std::vector<std::string>& lines) {
  size_t matched = 0;
  for (auto _ : state) {
    for (const auto& l : lines) matched += f.Matches(l);
  }
  benchmark::DoNotOptimize(matched);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * TotalBytes(lines)));
}

void BM_LiteralFilter(benchmark::State& state) {
  static const auto lines = NginxLines(4096);
  auto f = NewLineFilter(LineMatchType::kContains, "POST /checkout");
  RunFilter(state, **f, lines);
}
BENCHMARK(BM_LiteralFilter);

void BM_LiteralFilterShortNeedle(benchmark::State& state) {
  static const auto lines = NginxLines(4096);
  auto f = NewLineFilter(LineMatchType::kContains, "POST");
  RunFilter(state, **f, lines);
}
BENCHMARK(BM_LiteralFilterShortNeedle);

void BM_CaseInsensitiveLiteralRegex(benchmark::State& state) {
  static const auto lines = NginxLines(4096);
  auto f = NewLineFilter(LineMatchType::kRegex, "(?i)error");
  RunFilter(state, **f, lines);
}
BENCHMARK(BM_CaseInsensitiveLiteralRegex);

void BM_RegexWithLiteral(benchmark::State& state) {
  static const auto lines = NginxLines(4096);
  auto f = NewLineFilter(LineMatchType::kRegex, "HTTP/1\\.1\" 5\\d\\d .*timeout");
  RunFilter(state, **f, lines);
}
BENCHMARK(BM_RegexWithLiteral);

void BM_RegexNoLiteral(benchmark::State& state) {
  static const auto lines = NginxLines(4096);
  auto f = NewLineFilter(LineMatchType::kRegex, "\\d+\\.\\d+\\.\\d+\\.\\d+:9\\d\\d\\d");
  RunFilter(state, **f, lines);
}
BENCHMARK(BM_RegexNoLiteral);

void RunParser(benchmark::State& state, Stage& stage, const std::vector<std::string>& lines,
               const ParserHints* hints) {
  LabelsBuilder b(Labels({{"job", "payments/api"}, {"pod", "api-1"}, {"cluster", "eu"}}));
  b.set_hints(hints);
  size_t n = 0;
  for (auto _ : state) {
    for (const auto& l : lines) {
      b.Reset();
      std::string_view line = l;
      stage.Process(0, &line, &b);
      n += b.num_adds();
    }
  }
  benchmark::DoNotOptimize(n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * TotalBytes(lines)));
}

void BM_JsonTwoFields(benchmark::State& state) {
  static const auto lines = JsonLines(2048);
  JsonParser p;
  ParserHints h = ParserHints::Only({"level", "status"});
  RunParser(state, p, lines, &h);
}
BENCHMARK(BM_JsonTwoFields);

void BM_JsonAllFields(benchmark::State& state) {
  static const auto lines = JsonLines(2048);
  JsonParser p;
  RunParser(state, p, lines, nullptr);
}
BENCHMARK(BM_JsonAllFields);

void BM_JsonExpressionTwoFields(benchmark::State& state) {
  static const auto lines = JsonLines(2048);
  auto p = JsonExpressionParser::Create({{"level", "level"}, {"ip", "request.client.ip"}});
  RunParser(state, **p, lines, nullptr);
}
BENCHMARK(BM_JsonExpressionTwoFields);

void BM_LogfmtAllFields(benchmark::State& state) {
  static const auto lines = LogfmtLines(2048);
  LogfmtParser p;
  RunParser(state, p, lines, nullptr);
}
BENCHMARK(BM_LogfmtAllFields);

void BM_LogfmtDecodeOnly(benchmark::State& state) {
  // The decoder alone (no labels), to separate scanning from label building.
  static const auto lines = LogfmtLines(2048);
  LogfmtDecoder dec;
  size_t n = 0;
  for (auto _ : state) {
    for (const auto& l : lines) {
      dec.Reset(l);
      while (dec.ScanKeyval()) n += dec.value().size();
    }
  }
  benchmark::DoNotOptimize(n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * TotalBytes(lines)));
}
BENCHMARK(BM_LogfmtDecodeOnly);

void BM_LogfmtTwoFields(benchmark::State& state) {
  static const auto lines = LogfmtLines(2048);
  LogfmtParser p;
  ParserHints h = ParserHints::Only({"level", "status"});
  RunParser(state, p, lines, &h);
}
BENCHMARK(BM_LogfmtTwoFields);

void BM_PipelineLogfmtHash(benchmark::State& state) {
  // logfmt + hash of the resulting label set (grouping into output streams).
  static const auto lines = LogfmtLines(2048);
  std::vector<std::unique_ptr<Stage>> st;
  st.push_back(std::make_unique<LogfmtParser>());
  Pipeline p(std::move(st), ParserHints::Only({"level", "status"}));
  auto* sp = p.ForStream(Labels({{"job", "auth"}, {"pod", "auth-1"}}));
  uint64_t h = 0;
  for (auto _ : state) {
    for (const auto& l : lines) {
      std::string_view out;
      if (sp->Process(0, l, {}, &out)) h ^= sp->builder().Hash();
    }
  }
  benchmark::DoNotOptimize(h);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * TotalBytes(lines)));
}
BENCHMARK(BM_PipelineLogfmtHash);

}  // namespace
}  // namespace norn::logql_log

BENCHMARK_MAIN();
