// Engine throughput on synthetic data (not a ctest test): entries per second through whole
// queries over a MemorySource (20 streams x 50k logfmt lines, one hour).
//   logql_engine_bench --benchmark_filter=CountBy
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"
#include "logql/engine/engine.h"
#include "logql/engine/json_writer.h"

namespace norn::logql_engine {
namespace {

constexpr int64_t kStart = 1704067200LL * 1000000000LL;
constexpr int kStreams = 20;
constexpr int kPerStream = 50000;

MemorySource& Source() {
  static MemorySource* src = [] {
    std::vector<MemorySource::StreamData> streams;
    const char* levels[] = {"info", "warn", "error", "debug"};
    uint64_t x = 42;
    for (int s = 0; s < kStreams; ++s) {
      MemorySource::StreamData sd;
      sd.labels =
          Labels({{"app", "bench"}, {"pod", absl::StrCat("pod-", s)}, {"level", levels[s % 4]}});
      int64_t step = 3600LL * 1000000000LL / kPerStream;
      for (int i = 0; i < kPerStream; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        Entry e;
        e.timestamp_ns = kStart + i * step + s;
        e.line = absl::StrCat("ts=2024-01-01T00:00:00Z level=", levels[(x >> 33) % 4],
                              " method=GET path=/api/v1/items/", (x >> 40) % 1000,
                              " status=", 200 + (x >> 50) % 4 * 100, " duration=", (x >> 20) % 900,
                              "ms msg=\"request done\"");
        sd.entries.push_back(std::move(e));
      }
      streams.push_back(std::move(sd));
    }
    return new MemorySource(std::move(streams));
  }();
  return *src;
}

void RunQuery(benchmark::State& state, const std::string& query, bool log_query) {
  Engine engine;
  LogQuery q;
  q.query = query;
  q.start_ns = kStart;
  q.end_ns = kStart + 3600LL * 1000000000LL;
  q.step_ns = 60LL * 1000000000LL;
  q.limit = 100;
  (void)log_query;
  MemorySource& src = Source();
  int64_t lines = 0;
  for (auto _ : state) {
    auto r = engine.Query(q, src);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      return;
    }
    lines += r->stats.total_lines_processed;
    benchmark::DoNotOptimize(r);
  }
  state.counters["entries/s"] =
      benchmark::Counter(static_cast<double>(lines), benchmark::Counter::kIsRate);
}

void BM_CountByStreamLabel(benchmark::State& state) {
  RunQuery(state, "sum by (level) (count_over_time({app=\"bench\"}[1m]))", false);
}
BENCHMARK(BM_CountByStreamLabel)->Unit(benchmark::kMillisecond);

void BM_CountByPodLineFilter(benchmark::State& state) {
  RunQuery(state, "sum by (pod) (count_over_time({app=\"bench\"} |= \"GET\" [1m]))", false);
}
BENCHMARK(BM_CountByPodLineFilter)->Unit(benchmark::kMillisecond);

void BM_CountByParsedLabel(benchmark::State& state) {
  RunQuery(state, "sum by (status) (count_over_time({app=\"bench\"} | logfmt [1m]))", false);
}
BENCHMARK(BM_CountByParsedLabel)->Unit(benchmark::kMillisecond);

void BM_RateFiltered(benchmark::State& state) {
  RunQuery(state, "sum(rate({app=\"bench\"} |= \"status=500\" [5m]))", false);
}
BENCHMARK(BM_RateFiltered)->Unit(benchmark::kMillisecond);

void BM_UnwrapAvg(benchmark::State& state) {
  RunQuery(state,
           "avg_over_time({app=\"bench\"} | logfmt | unwrap duration(duration) [5m]) by (level)",
           false);
}
BENCHMARK(BM_UnwrapAvg)->Unit(benchmark::kMillisecond);

// Encoding a log query's answer: 1000 JSON lines (a quote every few bytes) in 4 streams.
void BM_RenderJsonLines(benchmark::State& state) {
  QueryResult r;
  r.type = ResultType::kStreams;
  for (int s = 0; s < 4; ++s) {
    Stream st{Labels({{"app", "checkout"}, {"pod", absl::StrCat("pod-", s)}}), {}};
    for (int i = 0; i < 250; ++i) {
      st.entries.push_back(StreamEntry{
          kStart + i,
          absl::StrCat("{\"ts\":\"2024-01-01T00:00:00.", i,
                       "Z\",\"level\":\"info\",\"service\":\"checkout\",\"msg\":\"order placed\","
                       "\"status\":200,\"latency_ms\":",
                       i % 97, ",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"user\":\"u-",
                       i, "\",\"path\":\"/api/v1/orders/", i * 7, "\"}")});
    }
    r.streams.push_back(std::move(st));
  }
  int64_t bytes = 0;
  for (auto _ : state) {
    std::string out = RenderQueryResponse(r);
    bytes += static_cast<int64_t>(out.size());
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_RenderJsonLines)->Unit(benchmark::kMicrosecond);

void BM_LogQueryLimit(benchmark::State& state) {
  RunQuery(state, "{app=\"bench\"} |= \"status=500\"", true);
}
BENCHMARK(BM_LogQueryLimit)->Unit(benchmark::kMillisecond);

void BM_LogQueryLogfmtFilter(benchmark::State& state) {
  RunQuery(state, "{app=\"bench\"} | logfmt | status >= 500 and path=\"/api/v1/items/7\"", true);
}
BENCHMARK(BM_LogQueryLogfmtFilter)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace norn::logql_engine

BENCHMARK_MAIN();
