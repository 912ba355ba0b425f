#include "common/metrics.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/process_metrics.h"

namespace norn::metrics {
namespace {

using ::testing::HasSubstr;

// The value of the sample line starting with `prefix` (name plus labels), or NaN if absent.
double SampleValue(const std::string& text, std::string_view prefix) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, absl::string_view(prefix.data(), prefix.size())) &&
        line.size() > prefix.size() && line[prefix.size()] == ' ') {
      double v;
      if (absl::SimpleAtod(line.substr(prefix.size() + 1), &v))
        return v;
    }
  }
  return std::nan("");
}

TEST(FormatValueTest, MatchesPrometheus) {
  struct Case {
    double in;
    std::string_view want;
  };
  const Case cases[] = {
      {0, "0"},
      {1, "1"},
      {-1, "-1"},
      {1e6, "1000000"},
      {1234567890123.0, "1234567890123"},
      {0.5, "0.5"},
      {0.1, "0.1"},
      {0.005, "0.005"},
      {2.5, "2.5"},
      {1.0 / 3, "0.3333333333333333"},
      {1e20, "1e+20"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::nan(""), "NaN"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(FormatValue(c.in), c.want) << c.in;
}

TEST(BucketsTest, Helpers) {
  EXPECT_THAT(DefBuckets(),
              ::testing::ElementsAre(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10));
  EXPECT_THAT(ExponentialBuckets(1, 2, 4), ::testing::ElementsAre(1, 2, 4, 8));
  EXPECT_THAT(LinearBuckets(0, 5, 3), ::testing::ElementsAre(0, 5, 10));
}

TEST(CounterTest, IncAndValue) {
  Counter c;
  EXPECT_EQ(c.Value(), 0);
  c.Inc();
  c.Inc(2);
  c.Inc(0.5);
  c.Inc(-3);  // Ignored.
  c.Inc(std::nan(""));
  EXPECT_DOUBLE_EQ(c.Value(), 3.5);
}

TEST(GaugeTest, Operations) {
  Gauge g;
  g.Set(10);
  g.Inc();
  g.Dec(3);
  g.Add(0.25);
  g.Sub(1);
  EXPECT_DOUBLE_EQ(g.Value(), 7.25);
  g.SetToCurrentTime();
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(g.Value(), now, 5);
}

TEST(HistogramTest, CumulativeBuckets) {
  Histogram h({1, 2, 5});
  for (double v : {0.5, 1.0, 1.5, 2.0, 3.0, 100.0})
    h.Observe(v);
  const Histogram::Snapshot s = h.Collect();
  EXPECT_THAT(s.cumulative_counts, ::testing::ElementsAre(2, 4, 5, 6));
  EXPECT_EQ(s.count, 6u);
  EXPECT_DOUBLE_EQ(s.sum, 108);
  EXPECT_EQ(h.Count(), 6u);
}

TEST(HistogramTest, TrailingInfIsDropped) {
  Histogram h({1, std::numeric_limits<double>::infinity()});
  EXPECT_THAT(h.bounds(), ::testing::ElementsAre(1));
}

TEST(RegistryTest, IdempotentRegistration) {
  Registry r;
  CounterFamily& a = r.Counter("x_total", "X.", {"a"});
  CounterFamily& b = r.Counter("x_total", "Other help.", {"a"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.WithLabels({"1"}), &b.WithLabels({"1"}));
  HistogramFamily& h1 = r.Histogram("h_seconds", "H.", {}, {1, 2});
  HistogramFamily& h2 = r.Histogram("h_seconds", "H.", {}, {1, 2});
  EXPECT_EQ(&h1, &h2);
  GaugeFamily& g = r.Gauge("g", "G.");
  EXPECT_EQ(&g.Get(), &r.Gauge("g", "G.").Get());
}

TEST(RegistryDeathTest, ConflictingRegistrationAborts) {
  Registry r;
  r.Counter("x_total", "X.", {"a"});
  EXPECT_DEATH(r.Gauge("x_total", "X."), "conflicting registration");
  EXPECT_DEATH(r.Counter("x_total", "X.", {"b"}), "conflicting registration");
  r.Histogram("h", "H.", {}, {1, 2});
  EXPECT_DEATH(r.Histogram("h", "H.", {}, {1, 3}), "conflicting registration");
  EXPECT_DEATH(r.Counter("bad-name", "X."), "invalid metric name");
  EXPECT_DEATH(r.Counter("y_total", "Y.", {"__x"}), "invalid label name");
  EXPECT_DEATH(r.Histogram("z", "Z.", {"le"}), "reserved");
  EXPECT_DEATH(r.Histogram("z", "Z.", {}, {2, 1}), "strictly increasing");
  EXPECT_DEATH(r.Counter("x_total", "X.", {"a"}).WithLabels({"1", "2"}), "label values");
  EXPECT_DEATH(r.Counter("x_total", "X.", {"a"}).Get(), "Get\\(\\) on a family with labels");
}

TEST(RegistryTest, WithLabelsOverloads) {
  Registry r;
  CounterFamily& f = r.Counter("req_total", "Requests.", {"method", "route"});
  Counter& c1 = f.WithLabels({"GET", "/ready"});
  const std::vector<std::string> owned = {"GET", "/ready"};
  Counter& c2 = f.WithLabels(std::span<const std::string>(owned));
  const std::string_view views[] = {"GET", "/ready"};
  Counter& c3 = f.WithLabels(std::span<const std::string_view>(views));
  EXPECT_EQ(&c1, &c2);
  EXPECT_EQ(&c1, &c3);
  EXPECT_NE(&c1, &f.WithLabels({"POST", "/ready"}));
}

TEST(RegistryTest, RenderGolden) {
  Registry r;
  auto& req = r.Counter("loki_request_total", "Total requests.", {"method", "status_code"});
  req.WithLabels({"POST", "204"}).Inc(3);
  req.WithLabels({"GET", "200"}).Inc();
  r.Gauge("loki_inflight", "In flight\nrequests \\ now.").Get().Set(2.5);
  r.Gauge("unused_gauge", "Never touched, labelled.", {"x"});  // No children: omitted.
  auto& h = r.Histogram("loki_latency_seconds", "Latency.", {"route"}, {0.1, 1});
  h.WithLabels({"push"}).Observe(0.05);
  h.WithLabels({"push"}).Observe(0.5);
  h.WithLabels({"push"}).Observe(3);
  r.AddCollector([](Exposition& e) {
    e.AddGauge("aaa_collected", "Collected.", 7, {{"k", "b"}});
    e.AddGauge("aaa_collected", "Collected.", 6, {{"k", "a"}});
    e.AddCounter("loki_inflight", "Shadowed by the registered family.", 99);
  });
  const std::string want = R"(# HELP aaa_collected Collected.
# TYPE aaa_collected gauge
aaa_collected{k="a"} 6
aaa_collected{k="b"} 7
# HELP loki_inflight In flight\nrequests \\ now.
# TYPE loki_inflight gauge
loki_inflight 2.5
# HELP loki_latency_seconds Latency.
# TYPE loki_latency_seconds histogram
loki_latency_seconds_bucket{route="push",le="0.1"} 1
loki_latency_seconds_bucket{route="push",le="1"} 2
loki_latency_seconds_bucket{route="push",le="+Inf"} 3
loki_latency_seconds_sum{route="push"} 3.55
loki_latency_seconds_count{route="push"} 3
# HELP loki_request_total Total requests.
# TYPE loki_request_total counter
loki_request_total{method="GET",status_code="200"} 1
loki_request_total{method="POST",status_code="204"} 3
)";
  EXPECT_EQ(r.Render(), want);
}

TEST(RegistryTest, LabelValueEscaping) {
  Registry r;
  r.Gauge("esc", "Escaping.", {"v"}).WithLabels({"a\\b\"c\nd"}).Set(1);
  EXPECT_THAT(r.Render(), HasSubstr("esc{v=\"a\\\\b\\\"c\\nd\"} 1\n"));
}

TEST(RegistryTest, ConcurrentUpdatesAreExact) {
  Registry r;
  constexpr int kThreads = 8;
  constexpr int kIters = 100000;
  auto& counters = r.Counter("c_total", "C.", {"t"});
  auto& hist = r.Histogram("h_seconds", "H.", {}, {0.5, 1.5});
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kIters; ++i) {
          // Looked up every time to exercise the family map concurrently too.
          counters.WithLabels({"shared"}).Inc();
          if (i % 1000 == 0)
            counters.WithLabels({absl::StrCat("t", t)}).Inc(0.5);
          hist.Get().Observe(i % 2 == 0 ? 1.0 : 0.25);
        }
      });
    }
  }
  EXPECT_EQ(counters.WithLabels({"shared"}).Value(), kThreads * kIters);
  EXPECT_EQ(counters.WithLabels({"t3"}).Value(), kIters / 1000 * 0.5);
  const Histogram::Snapshot s = hist.Get().Collect();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kThreads * kIters));
  EXPECT_THAT(s.cumulative_counts,
              ::testing::ElementsAre(kThreads * kIters / 2, kThreads * kIters, kThreads * kIters));
  EXPECT_DOUBLE_EQ(s.sum, kThreads * (kIters / 2) * 1.25);
}

TEST(ProcessMetricsTest, PresentAndPlausible) {
  Registry r;
  RegisterProcessMetrics(r);
  RegisterBuildInfo(r, "2.7.7", "abc123", "main", "GNU-12.2.0");
  const std::string text = r.Render();
  EXPECT_GT(SampleValue(text, "process_resident_memory_bytes"), 0);
  EXPECT_GT(SampleValue(text, "process_virtual_memory_bytes"), 0);
  EXPECT_GT(SampleValue(text, "process_open_fds"), 0);
  EXPECT_GT(SampleValue(text, "process_max_fds"), 0);
  EXPECT_GE(SampleValue(text, "process_cpu_seconds_total"), 0);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double start = SampleValue(text, "process_start_time_seconds");
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 86400);
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_EQ(SampleValue(text,
                        "loki_build_info{branch=\"main\",goversion=\"GNU-12.2.0\","
                        "revision=\"abc123\",version=\"2.7.7\"}"),
            1);
  EXPECT_EQ(SampleValue(text,
                        "norn_build_info{branch=\"main\",goversion=\"GNU-12.2.0\","
                        "revision=\"abc123\",version=\"2.7.7\"}"),
            1);
}

// Runs `promtool check metrics` on `text`; returns its exit status and output.
std::pair<int, std::string> RunPromtool(const std::string& text) {
  char path[] = "/tmp/norn_metrics_test_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0)
    return {-1, "mkstemp failed"};
  ::close(fd);
  std::ofstream(path) << text;
  const std::string cmd = absl::StrCat("/usr/bin/promtool check metrics < ", path, " 2>&1");
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
    out.append(buf, n);
  const int status = pclose(p);
  std::remove(path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(PromtoolTest, CheckMetricsPasses) {
  if (::access("/usr/bin/promtool", X_OK) != 0)
    GTEST_SKIP() << "promtool not installed";
  Registry r;
  RegisterProcessMetrics(r);
  RegisterBuildInfo(r, "0.1.0", "deadbeef", "main", "GNU-12.2.0");
  auto& req = r.Counter("loki_request_total", "Total requests.", {"method", "route"});
  req.WithLabels({"GET", "/ready"}).Inc();
  req.WithLabels({"POST", "weird \"quoted\"\nvalue\\"}).Inc(2.5);
  r.Gauge("loki_ingester_memory_streams", "In-memory streams.", {"tenant"})
      .WithLabels({"fake"})
      .Set(12);
  auto& h = r.Histogram("loki_request_duration_seconds", "Request latency.", {"route"},
                        ExponentialBuckets(0.001, 4, 8));
  h.WithLabels({"push"}).Observe(0.02);
  h.WithLabels({"query"}).Observe(std::nan(""));
  r.Gauge("loki_nan_value", "A NaN-valued gauge.").Get().Set(std::nan(""));
  r.Gauge("loki_inf_value", "An infinite gauge.")
      .Get()
      .Set(-std::numeric_limits<double>::infinity());
  const std::string text = r.Render();
  const auto [status, out] = RunPromtool(text);
  EXPECT_EQ(status, 0) << out << "\n--- input ---\n" << text;
  EXPECT_EQ(out, "") << text;
}

}  // namespace
}  // namespace norn::metrics
