// Push decoding throughput (Google Benchmark). Bytes/s are raw log-line bytes, the unit Loki's
// distributor_bytes_received_total counts and the ingest target is quoted in.
//   build/.../loghttp_push_bench --benchmark_min_time=2
#include <snappy.h>

#include <random>
#include <string>

#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"
#include "loghttp/otlp.h"
#include "loghttp/push_request.h"
#include "proto/otlp_logs.pb.h"
#include "proto/push.pb.h"

namespace norn::loghttp {
namespace {

constexpr size_t kBatchBytes = 1 << 20;
constexpr int kStreams = 10;

// ~200-byte logfmt lines with varying numbers and ids so snappy sees realistic entropy.
std::string Line(std::mt19937_64& rng) {
  static const char* kPaths[] = {"/api/v1/orders", "/api/v1/users/me", "/healthz", "/checkout"};
  std::string line = absl::StrCat(
      "ts=2024-05-01T12:", rng() % 60, ":", rng() % 60, ".", rng() % 1000000,
      "Z level=info caller=server.go:", rng() % 900, " method=GET path=", kPaths[rng() % 4],
      " status=", 200 + rng() % 4 * 100, " duration_ms=", rng() % 5000,
      " trace_id=", absl::Hex(rng(), absl::kZeroPad16), absl::Hex(rng(), absl::kZeroPad16),
      " user_agent=\"Mozilla/5.0 (X11; Linux x86_64)\" msg=\"request served\"");
  line.resize(200, ' ');
  return line;
}

struct Batch {
  std::string raw;     // serialized logproto.PushRequest
  std::string snappy;  // what clients send
  size_t line_bytes = 0;
  std::vector<std::string> lines;
};

const Batch& LokiBatch() {
  static const Batch* batch = [] {
    auto* b = new Batch;
    std::mt19937_64 rng(42);
    logproto::PushRequest req;
    std::vector<logproto::StreamAdapter*> streams;
    for (int i = 0; i < kStreams; ++i) {
      auto* s = req.add_streams();
      s->set_labels(absl::StrCat(R"({app="bench", env="prod", pod="pod-)", i, R"("})"));
      streams.push_back(s);
    }
    int64_t ts = 1714564800000000000;
    for (int i = 0; b->line_bytes < kBatchBytes; ++i) {
      auto* e = streams[i % kStreams]->add_entries();
      e->mutable_timestamp()->set_seconds(ts / 1000000000);
      e->mutable_timestamp()->set_nanos(static_cast<int32_t>(ts % 1000000000));
      ts += 1000;
      e->set_line(Line(rng));
      b->line_bytes += e->line().size();
      b->lines.push_back(e->line());
    }
    b->raw = req.SerializeAsString();
    snappy::Compress(b->raw.data(), b->raw.size(), &b->snappy);
    return b;
  }();
  return *batch;
}

void BM_ProtobufSnappyHandWritten(benchmark::State& state) {
  const Batch& b = LokiBatch();
  for (auto _ : state) {
    auto req = DecodeProtobufPush(b.snappy);
    if (!req.ok())
      state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(req->streams.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.line_bytes));
  state.counters["compressed_ratio"] =
      static_cast<double>(b.raw.size()) / static_cast<double>(b.snappy.size());
}
BENCHMARK(BM_ProtobufSnappyHandWritten);

// The same work with protoc's generated classes, for comparison (copies every line).
void BM_ProtobufSnappyGeneratedClasses(benchmark::State& state) {
  const Batch& b = LokiBatch();
  std::string raw;
  for (auto _ : state) {
    snappy::Uncompress(b.snappy.data(), b.snappy.size(), &raw);
    logproto::PushRequest req;
    if (!req.ParseFromString(raw))
      state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(req.streams_size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.line_bytes));
}
BENCHMARK(BM_ProtobufSnappyGeneratedClasses);

void BM_SnappyOnly(benchmark::State& state) {
  const Batch& b = LokiBatch();
  std::string raw;
  for (auto _ : state) {
    snappy::Uncompress(b.snappy.data(), b.snappy.size(), &raw);
    benchmark::DoNotOptimize(raw.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.line_bytes));
}
BENCHMARK(BM_SnappyOnly);

void BM_ProtobufUncompressed(benchmark::State& state) {
  const Batch& b = LokiBatch();
  for (auto _ : state) {
    auto req = DecodeUncompressedProtobufPush(b.raw);  // includes one copy of the body
    benchmark::DoNotOptimize(req->streams.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.line_bytes));
}
BENCHMARK(BM_ProtobufUncompressed);

void BM_Json(benchmark::State& state) {
  const Batch& b = LokiBatch();
  std::string json = R"({"streams":[)";
  for (int s = 0; s < kStreams; ++s) {
    if (s > 0)
      json += ",";
    absl::StrAppend(&json, R"({"stream":{"app":"bench","pod":"pod-)", s, R"("},"values":[)");
    bool first = true;
    for (size_t i = s; i < b.lines.size(); i += kStreams) {
      if (!first)
        json += ",";
      first = false;
      std::string escaped;
      for (char c : b.lines[i]) {
        if (c == '"' || c == '\\')
          escaped.push_back('\\');
        escaped.push_back(c);
      }
      absl::StrAppend(&json, R"([")", 1714564800000000000 + i, R"(",")", escaped, R"("])");
    }
    json += "]}";
  }
  json += "]}";
  for (auto _ : state) {
    auto req = DecodeJsonPush(json);
    if (!req.ok())
      state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(req->streams.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.line_bytes));
}
BENCHMARK(BM_Json);

void BM_OtlpProtobuf(benchmark::State& state) {
  const Batch& b = LokiBatch();
  norn::otlp::ExportLogsServiceRequest req;
  for (int s = 0; s < kStreams; ++s) {
    auto* rl = req.add_resource_logs();
    auto* kv = rl->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("bench");
    kv = rl->mutable_resource()->add_attributes();
    kv->set_key("k8s.pod.name");
    kv->mutable_value()->set_string_value(absl::StrCat("pod-", s));
    auto* sl = rl->add_scope_logs();
    for (size_t i = s; i < b.lines.size(); i += kStreams) {
      auto* lr = sl->add_log_records();
      lr->set_time_unix_nano(1714564800000000000 + i);
      lr->set_severity_number(norn::otlp::SEVERITY_NUMBER_INFO);
      lr->set_severity_text("INFO");
      lr->mutable_body()->set_string_value(b.lines[i]);
    }
  }
  std::string body = req.SerializeAsString();
  for (auto _ : state) {
    auto decoded = DecodeOtlpProtobuf(body, OtlpConfig::Default(), 0);
    if (!decoded.ok())
      state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(decoded->streams.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.line_bytes));
}
BENCHMARK(BM_OtlpProtobuf);

}  // namespace
}  // namespace norn::loghttp

BENCHMARK_MAIN();
