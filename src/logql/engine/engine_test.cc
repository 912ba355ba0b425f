// Engine semantics on a small hand-made data set: log queries (direction, limit, grouping,
// instant lookback), range aggregations, vector aggregations, binary operators, label_replace,
// limits and errors. Conformance with Loki's recorded answers is conformance_test.cc's job.
#include "logql/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace norn::logql_engine {
namespace {

constexpr int64_t kSec = 1000000000;
constexpr int64_t kT0 = 1704067200 * kSec;  // 2024-01-01T00:00:00Z

// Two apps; "a" logs every 10s (value = i), "b" every 20s; 10 minutes.
std::unique_ptr<MemorySource> Data() {
  std::vector<MemorySource::StreamData> s;
  MemorySource::StreamData a{Labels({{"app", "a"}, {"env", "prod"}}), {}};
  for (int i = 0; i < 60; ++i) {
    a.entries.push_back(
        Entry{kT0 + i * 10 * kSec + 1,
              "level=" + std::string(i % 3 == 0 ? "error" : "info") + " v=" + std::to_string(i),
              {}});
  }
  MemorySource::StreamData b{Labels({{"app", "b"}, {"env", "prod"}}), {}};
  for (int i = 0; i < 30; ++i) {
    b.entries.push_back(
        Entry{kT0 + i * 20 * kSec + 2, "level=info v=" + std::to_string(i * 2), {}});
  }
  MemorySource::StreamData c{Labels({{"app", "c"}, {"env", "dev"}}), {}};
  for (int i = 0; i < 10; ++i) {
    c.entries.push_back(Entry{kT0 + i * 60 * kSec + 3, "not logfmt \"", {}});
  }
  s.push_back(std::move(a));
  s.push_back(std::move(b));
  s.push_back(std::move(c));
  return std::make_unique<MemorySource>(std::move(s), /*batch_size=*/7);
}

class EngineTest : public ::testing::Test {
 protected:
  absl::StatusOr<QueryResult> Range(std::string query, int64_t start_s, int64_t end_s,
                                    int64_t step_s) {
    LogQuery q;
    q.query = std::move(query);
    q.start_ns = kT0 + start_s * kSec;
    q.end_ns = kT0 + end_s * kSec;
    q.step_ns = step_s * kSec;
    return engine_.Query(q, *src_);
  }
  absl::StatusOr<QueryResult> Instant(std::string query, int64_t t_s) {
    LogQuery q;
    q.query = std::move(query);
    q.instant = true;
    q.start_ns = q.end_ns = kT0 + t_s * kSec;
    return engine_.Query(q, *src_);
  }
  absl::StatusOr<QueryResult> Logs(std::string query, int64_t start_s, int64_t end_s, Direction d,
                                   uint32_t limit) {
    LogQuery q;
    q.query = std::move(query);
    q.start_ns = kT0 + start_s * kSec;
    q.end_ns = kT0 + end_s * kSec;
    q.direction = d;
    q.limit = limit;
    return engine_.Query(q, *src_);
  }
  // Value of the series with `labels` at `t_s` (NaN when absent).
  static double At(const QueryResult& r, std::string_view labels, int64_t t_s) {
    for (const auto& s : r.matrix) {
      if (s.metric.ToString() != labels)
        continue;
      for (const auto& p : s.points) {
        if (p.t_ms == (kT0 / 1000000) + t_s * 1000)
          return p.v;
      }
    }
    return std::nan("");
  }

  Engine engine_;
  std::unique_ptr<MemorySource> src_ = Data();
};

TEST_F(EngineTest, LogQueryBackwardLimitAcrossStreams) {
  auto r = Logs("{env=\"prod\"}", 0, 600, Direction::kBackward, 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->type, ResultType::kStreams);
  size_t total = 0;
  for (const auto& s : r->streams) {
    total += s.entries.size();
    for (size_t i = 1; i < s.entries.size(); ++i) {
      EXPECT_GT(s.entries[i - 1].ts_ns, s.entries[i].ts_ns);
    }
  }
  EXPECT_EQ(total, 5u);
  // Newest five: a@590, b@580 (+2ns), a@580 (+1ns), a@570, b@560 -> a has 3, b has 2.
  ASSERT_EQ(r->streams.size(), 2u);
  for (const auto& s : r->streams) {
    EXPECT_EQ(s.entries.size(), s.labels.Get("app") == "a" ? 3u : 2u);
  }
}

// A source that says it applies SelectParams::line_filter, over MemorySource; with `drop`
// false it breaks that promise, which shows whether the engine still filtered.
class LineFilteringSource : public EntrySource {
 public:
  LineFilteringSource(MemorySource* inner, bool drop) : inner_(inner), drop_(drop) {}
  absl::Status SelectLogs(const SelectParams& p, EntrySink& sink) override {
    struct Filtering : EntrySink {
      EntrySink* next;
      const logql_log::LineFilter* filter;
      bool Push(const Labels& stream, std::span<const EntryRef> entries) override {
        std::vector<EntryRef> kept;
        for (const EntryRef& e : entries)
          if (filter == nullptr || filter->Matches(e.line))
            kept.push_back(e);
        return kept.empty() || next->Push(stream, kept);
      }
    } filtering;
    filtering.next = &sink;
    filtering.filter = drop_ ? p.line_filter.get() : nullptr;
    return inner_->SelectLogs(p, filtering);
  }
  bool AppliesLineFilter() const override { return true; }

 private:
  MemorySource* inner_;
  bool drop_;
};

TEST_F(EngineTest, SourceThatAppliesTheLineFilterGetsAPipelineWithoutIt) {
  const std::string metric = "sum(count_over_time({env=\"prod\"} |= \"error\" [10m]))";
  const std::string logs = "{env=\"prod\"} |~ \"err.r\" | logfmt";
  auto run = [&](EntrySource& src, const std::string& query, bool log) {
    LogQuery q;
    q.query = query;
    q.start_ns = kT0;
    q.end_ns = kT0 + 600 * kSec;
    if (log) {
      q.limit = 1000;
    } else {
      q.instant = true;
      q.start_ns = q.end_ns;
    }
    auto r = engine_.Query(q, src);
    EXPECT_TRUE(r.ok()) << r.status();
    size_t n = 0;
    double v = 0;
    for (const auto& st : r->streams)
      n += st.entries.size();
    for (const auto& smp : r->vector)
      v += smp.point.v;
    return std::make_pair(n, v);
  };
  LineFilteringSource honest(src_.get(), /*drop=*/true);
  LineFilteringSource lying(src_.get(), /*drop=*/false);
  const auto want_metric = run(*src_, metric, false);
  const auto want_logs = run(*src_, logs, true);
  ASSERT_GT(want_metric.second, 0);
  ASSERT_GT(want_logs.first, 0u);
  EXPECT_EQ(run(honest, metric, false), want_metric);
  EXPECT_EQ(run(honest, logs, true), want_logs);
  // The engine relied on the source: unfiltered entries got through.
  EXPECT_GT(run(lying, metric, false).second, want_metric.second);
  EXPECT_GT(run(lying, logs, true).first, want_logs.first);
}

TEST_F(EngineTest, LogQueryForwardIsStartInclusiveEndExclusive) {
  auto r = Logs("{app=\"a\"}", 0, 30, Direction::kForward, 100);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->streams.size(), 1u);
  ASSERT_EQ(r->streams[0].entries.size(), 3u);  // 0s, 10s, 20s (+1ns)
  EXPECT_EQ(r->streams[0].entries[0].ts_ns, kT0 + 1);
  EXPECT_EQ(r->streams[0].entries[0].line, "level=error v=0");
}

TEST_F(EngineTest, LogQueryGroupsByFinalLabels) {
  auto r = Logs("{env=\"prod\"} | logfmt | line_format \"{{.v}}\"", 0, 60, Direction::kForward, 3);
  ASSERT_TRUE(r.ok()) << r.status();
  // Parsed labels make each entry its own stream.
  ASSERT_EQ(r->streams.size(), 3u);
  for (const auto& s : r->streams) {
    ASSERT_EQ(s.entries.size(), 1u);
    EXPECT_EQ(s.labels.Get("v"), s.entries[0].line);
  }
}

TEST_F(EngineTest, InstantLogQueryLooksBack30s) {
  auto r = Instant("{app=\"a\"}", 45);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->streams.size(), 1u);
  std::vector<int64_t> ts;
  for (const auto& e : r->streams[0].entries)
    ts.push_back((e.ts_ns - kT0) / kSec);
  EXPECT_THAT(ts, ::testing::ElementsAre(40, 30, 20));
}

TEST_F(EngineTest, CountOverTimeWindows) {
  auto r = Range("count_over_time({app=\"a\"}[1m])", 60, 180, 60);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->type, ResultType::kMatrix);
  ASSERT_EQ(r->matrix.size(), 1u);
  // (0,60] holds 0..50 (+1ns) = 6 entries.
  EXPECT_EQ(At(*r, "{app=\"a\", env=\"prod\"}", 60), 6);
  EXPECT_EQ(At(*r, "{app=\"a\", env=\"prod\"}", 180), 6);
}

TEST_F(EngineTest, RangeAggregationsMatchAcrossModes) {
  // range/step large -> stored samples; small -> buckets. Both must agree.
  auto a = Range("sum by (env) (count_over_time({env=\"prod\"}[5m]))", 0, 600, 5);
  auto b = Range("sum by (env) (count_over_time({env=\"prod\"}[5m]))", 0, 600, 300);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(At(*a, "{env=\"prod\"}", 300), At(*b, "{env=\"prod\"}", 300));
  EXPECT_EQ(At(*b, "{env=\"prod\"}", 300), 30 + 15);
}

TEST_F(EngineTest, UnwrapAggregations) {
  auto q = [&](std::string op) {
    auto r = Range(op + "({app=\"a\"} | logfmt v | unwrap v [1m])", 60, 60, 60);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && !r->matrix.empty() ? r->matrix[0].points[0].v : std::nan("");
  };
  // Window (0s, 60s] holds v = 0..5 (timestamps are +1ns).
  EXPECT_EQ(q("sum_over_time"), 15);
  EXPECT_EQ(q("avg_over_time"), 2.5);
  EXPECT_EQ(q("min_over_time"), 0);
  EXPECT_EQ(q("max_over_time"), 5);
  EXPECT_EQ(q("first_over_time"), 0);
  EXPECT_EQ(q("last_over_time"), 5);
  EXPECT_DOUBLE_EQ(q("stdvar_over_time"), 35.0 / 12);
  EXPECT_DOUBLE_EQ(q("stddev_over_time"), std::sqrt(35.0 / 12));
  EXPECT_DOUBLE_EQ(q("rate"), 15.0 / 60);
  auto r = Range("quantile_over_time(0.5, {app=\"a\"} | logfmt v | unwrap v [1m])", 60, 60, 60);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->matrix[0].points[0].v, 2.5);
  // The unwrapped label is removed from the series.
  EXPECT_EQ(r->matrix[0].metric.ToString(), "{app=\"a\", env=\"prod\"}");
}

TEST_F(EngineTest, AbsentOverTime) {
  auto r = Range("absent_over_time({app=\"c\"}[30s])", 0, 120, 30);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->matrix.size(), 1u);
  EXPECT_EQ(r->matrix[0].metric.ToString(), "{app=\"c\"}");
  // c logs at 0, 60, 120 (+3ns): windows (t-30s, t] ending at 0, 60 and 120 are empty.
  std::vector<int64_t> ts;
  for (const auto& p : r->matrix[0].points)
    ts.push_back(p.t_ms / 1000 - kT0 / kSec);
  EXPECT_THAT(ts, ::testing::ElementsAre(0, 60, 120));
}

TEST_F(EngineTest, PipelineErrorInMetricQuery) {
  auto r = Range("sum by (app) (count_over_time({env=\"dev\"} | logfmt [1m]))", 60, 60, 60);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::StartsWith("pipeline error: 'LogfmtParserErr'"));
  auto ok = Range("sum by (app) (count_over_time({env=\"dev\"} | logfmt | __error__=\"\" [1m]))",
                  60, 60, 60);
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST_F(EngineTest, VectorAggregations) {
  auto r = Instant("sum by (env) (count_over_time({app=~\"a|b|c\"}[1m]))", 61);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->type, ResultType::kVector);
  std::map<std::string, double> got;
  for (const auto& s : r->vector)
    got[s.metric.ToString()] = s.point.v;
  EXPECT_EQ(got["{env=\"prod\"}"], 6 + 3);
  EXPECT_EQ(got["{env=\"dev\"}"], 1);  // (1s, 61s] holds c@60s

  auto top = Instant("topk(2, count_over_time({app=~\"a|b|c\"}[1m]))", 61);
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->vector.size(), 2u);
  std::set<std::string> apps;
  for (const auto& s : top->vector)
    apps.insert(std::string(s.metric.Get("app")));
  EXPECT_EQ(apps, (std::set<std::string>{"a", "b"}));

  auto bottom = Instant("bottomk(1, count_over_time({app=~\"a|b|c\"}[1m]))", 61);
  ASSERT_TRUE(bottom.ok());
  ASSERT_EQ(bottom->vector.size(), 1u);
  EXPECT_EQ(bottom->vector[0].metric.Get("app"), "c");

  auto stats = Instant(
      "avg(count_over_time({app=~\"a|b|c\"}[1m])) + count(count_over_time({app=~\"a|b|c\"}[1m]))"
      " + max(count_over_time({app=~\"a|b|c\"}[1m])) - min(count_over_time({app=~\"a|b|c\"}[1m]))",
      61);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->vector.size(), 1u);
  EXPECT_DOUBLE_EQ(stats->vector[0].point.v, 10.0 / 3 + 3 + 6 - 1);
}

TEST_F(EngineTest, BinaryOperators) {
  auto cmp = Instant("count_over_time({env=\"prod\"}[1m]) > 4", 61);
  ASSERT_TRUE(cmp.ok());
  ASSERT_EQ(cmp->vector.size(), 1u);
  EXPECT_EQ(cmp->vector[0].point.v, 6);  // filter keeps the value
  auto cmp_bool = Instant("count_over_time({env=\"prod\"}[1m]) > bool 4", 61);
  ASSERT_TRUE(cmp_bool.ok());
  ASSERT_EQ(cmp_bool->vector.size(), 2u);
  auto scalar_left = Instant("10 - count_over_time({app=\"a\"}[1m])", 61);
  ASSERT_TRUE(scalar_left.ok());
  EXPECT_EQ(scalar_left->vector[0].point.v, 4);
  auto div0 = Instant("count_over_time({app=\"a\"}[1m]) / 0", 61);
  ASSERT_TRUE(div0.ok());
  EXPECT_TRUE(std::isnan(div0->vector[0].point.v));

  auto on = Instant(
      "count_over_time({env=\"prod\"}[1m]) / on (env) group_left sum by (env) "
      "(count_over_time({env=\"prod\"}[1m]))",
      61);
  ASSERT_TRUE(on.ok()) << on.status();
  ASSERT_EQ(on->vector.size(), 2u);
  for (const auto& s : on->vector) {
    EXPECT_TRUE(s.metric.Has("app"));
    EXPECT_DOUBLE_EQ(s.point.v, s.metric.Get("app") == "a" ? 6.0 / 9 : 3.0 / 9);
  }
  // Many-to-many without group modifier is an error.
  auto bad = Instant(
      "count_over_time({env=\"prod\"}[1m]) + on (env) count_over_time({env=\"prod\"}[1m])", 61);
  EXPECT_FALSE(bad.ok());

  auto set_or = Instant("count_over_time({app=\"a\"}[1m]) or count_over_time({app=\"b\"}[1m])", 61);
  ASSERT_TRUE(set_or.ok());
  EXPECT_EQ(set_or->vector.size(), 2u);
  auto unless = Instant(
      "count_over_time({env=\"prod\"}[1m]) unless on (app) count_over_time({app=\"b\"}[1m])", 61);
  ASSERT_TRUE(unless.ok());
  ASSERT_EQ(unless->vector.size(), 1u);
  EXPECT_EQ(unless->vector[0].metric.Get("app"), "a");
}

TEST_F(EngineTest, LabelReplaceAndVector) {
  auto r = Instant(
      "label_replace(count_over_time({app=\"a\"}[1m]), \"x\", \"$1-${1}-$$\", \"app\", \"(.*)\")",
      61);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->vector.size(), 1u);
  EXPECT_EQ(r->vector[0].metric.Get("x"), "a-a-$");
  auto v = Range("vector(3) * 2", 0, 120, 60);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->matrix.size(), 1u);
  EXPECT_EQ(v->matrix[0].points.size(), 3u);
  EXPECT_EQ(v->matrix[0].points[0].v, 6);
}

TEST_F(EngineTest, LiteralResults) {
  auto s = Instant("1 + 2", 61);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->type, ResultType::kScalar);
  EXPECT_EQ(s->scalar.v, 3);
  auto m = Range("2 ^ 3", 0, 120, 60);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->type, ResultType::kMatrix);
  EXPECT_EQ(m->matrix[0].points.size(), 3u);
}

TEST_F(EngineTest, OffsetShiftsWindow) {
  auto r = Range("count_over_time({app=\"a\"}[1m] offset 1m)", 120, 120, 60);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->matrix[0].points[0].v, 6);
  EXPECT_EQ(r->matrix[0].points[0].t_ms, (kT0 + 120 * kSec) / 1000000);
}

TEST_F(EngineTest, SeriesLimit) {
  Engine small(EngineOptions{.max_query_series = 1});
  LogQuery q;
  q.query = "count_over_time({env=\"prod\"}[1m])";
  q.start_ns = q.end_ns = kT0 + 61 * kSec;
  q.instant = true;
  auto r = small.Query(q, *src_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "maximum of series (1) reached for a single query");
}

TEST_F(EngineTest, ParseErrorsAreInvalidArgument) {
  auto r = Range("sum(", 0, 60, 60);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  auto t = Logs("{app=\"a\"} | line_format \"{{.x\"", 0, 60, Direction::kForward, 10);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
}

// A source that records what the engine asked for.
class RecordingSource : public EntrySource {
 public:
  absl::Status SelectLogs(const SelectParams& p, EntrySink&) override {
    params.push_back(p);
    return absl::OkStatus();
  }
  std::vector<SelectParams> params;
};

TEST(EngineSelectTest, SelectParamsCarryRangeAndNeedles) {
  RecordingSource src;
  Engine engine;
  LogQuery q;
  q.query = "sum(count_over_time({app=\"a\"} |= \"needle\" [5m] offset 1m))";
  q.start_ns = 1000 * kSec;
  q.end_ns = 2000 * kSec;
  q.step_ns = 100 * kSec;
  ASSERT_TRUE(engine.Query(q, src).ok());
  ASSERT_EQ(src.params.size(), 1u);
  EXPECT_EQ(src.params[0].start_ns, (1000 - 300 - 60) * kSec + 1);
  EXPECT_EQ(src.params[0].end_ns, (2000 - 60) * kSec);
  EXPECT_THAT(src.params[0].line_filter_needles, ::testing::ElementsAre("needle"));
}

}  // namespace
}  // namespace norn::logql_engine

namespace norn::logql_engine {
namespace {

TEST_F(EngineTest, IntervalKeepsSpacedEntries) {
  LogQuery q;
  q.query = "{env=\"prod\"}";
  q.start_ns = kT0;
  q.end_ns = kT0 + 120 * kSec;
  q.direction = Direction::kForward;
  q.interval_ns = 25 * kSec;
  q.limit = 100;
  auto r = engine_.Query(q, *src_);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<int64_t> ts;
  for (const auto& s : r->streams) {
    for (const auto& e : s.entries)
      ts.push_back(e.ts_ns - kT0);
  }
  std::sort(ts.begin(), ts.end());
  // a@0+1ns, then the first entry >= 25s+1ns later: a@30+1ns, a@60+1ns, a@90+1ns.
  EXPECT_THAT(ts, ::testing::ElementsAre(1, 30 * kSec + 1, 60 * kSec + 1, 90 * kSec + 1));
}

TEST_F(EngineTest, MaxEntriesLimit) {
  auto r = Logs("{app=\"a\"}", 0, 60, Direction::kForward, 5001);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "max entries limit per query exceeded, limit > max_entries_limit (5001 > 5000)");
}

TEST_F(EngineTest, CancelledAndDeadline) {
  std::atomic<bool> cancel{true};
  LogQuery q;
  q.query = "sum(count_over_time({env=\"prod\"}[1m]))";
  q.start_ns = kT0;
  q.end_ns = kT0 + 600 * kSec;
  q.step_ns = 60 * kSec;
  q.cancelled = &cancel;
  auto r = engine_.Query(q, *src_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  q.cancelled = nullptr;
  q.deadline_unix_ns = 1;
  q.query = "{env=\"prod\"}";
  r = engine_.Query(q, *src_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace norn::logql_engine

namespace norn::logql_engine {
namespace {

TEST_F(EngineTest, BucketedWindowsMatchBruteForce) {
  // One series fed by two streams whose batches interleave out of time order; windows overlap
  // (range 25s, step 10s), so samples land in several buckets.
  auto r = Range("sum by (env) (count_over_time({env=\"prod\"}[25s]))", 0, 600, 10);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<int64_t> ts;
  for (int i = 0; i < 60; ++i) ts.push_back(i * 10 * kSec + 1);
  for (int i = 0; i < 30; ++i) ts.push_back(i * 20 * kSec + 2);
  for (int64_t t = 0; t <= 600; t += 10) {
    int n = 0;
    for (int64_t x : ts) n += x > (t - 25) * kSec && x <= t * kSec && x < 600 * kSec;
    double got = At(*r, "{env=\"prod\"}", t);
    if (n == 0) {
      EXPECT_TRUE(std::isnan(got)) << t;
    } else {
      EXPECT_EQ(got, n) << t;
    }
  }
}

TEST_F(EngineTest, HighCardinalityIntermediateSeries) {
  // Every line is its own series before `sum`: buckets are allocated per touched span only.
  auto r = Range("sum(count_over_time({env=\"prod\"} | logfmt [1m]))", 0, 600, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(At(*r, "{}", 60), 6 + 3);
}

TEST_F(EngineTest, TooManySteps) {
  auto r = Range("count_over_time({app=\"a\"}[1m])", 0, 12000, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace norn::logql_engine

namespace norn::logql_engine {
namespace {

// Spreads streams over the sinks (stream i to sink i % n), one thread per sink, and records
// how many sinks the engine asked for.
class SpreadingSource : public EntrySource {
 public:
  explicit SpreadingSource(std::vector<MemorySource::StreamData> streams)
      : streams_(std::move(streams)) {}
  absl::Status SelectLogs(const SelectParams& params, EntrySink& sink) override {
    last_sinks = 1;
    return MemorySource(streams_, 5).SelectLogs(params, sink);
  }
  absl::Status SelectLogsParallel(const SelectParams& params,
                                  std::span<EntrySink* const> sinks) override {
    last_sinks = sinks.size();
    std::vector<std::vector<MemorySource::StreamData>> parts(sinks.size());
    for (size_t i = 0; i < streams_.size(); ++i) parts[i % sinks.size()].push_back(streams_[i]);
    std::vector<absl::Status> status(sinks.size());
    std::vector<std::thread> threads;
    for (size_t k = 0; k < sinks.size(); ++k) {
      threads.emplace_back([&, k] {
        status[k] = MemorySource(parts[k], 5).SelectLogs(params, *sinks[k]);
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& s : status) {
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  size_t Parallelism() const override { return 3; }
  size_t last_sinks = 0;

 private:
  std::vector<MemorySource::StreamData> streams_;
};

// Streams sharing timestamps, values with NaN, metadata: every order-insensitive range
// aggregation must give the serial answer when its streams are spread over threads.
std::vector<MemorySource::StreamData> SpreadData() {
  std::vector<MemorySource::StreamData> out;
  for (int s = 0; s < 7; ++s) {
    MemorySource::StreamData d{
        Labels({{"app", s % 2 ? "odd" : "even"}, {"pod", "p" + std::to_string(s)}}), {}};
    for (int i = 0; i < 200; ++i) {
      std::string v = (i * 7 + s) % 41 == 0 ? "NaN" : std::to_string((i * 37 + s * 11) % 101);
      Entry e{kT0 + (i / 2) * 3 * kSec, "v=" + v + " pad=" + std::string(i % 5, 'x'), {}};
      if (i % 9 == 0) e.structured_metadata.push_back(Label{"trace", "t" + std::to_string(i % 2)});
      d.entries.push_back(std::move(e));
    }
    out.push_back(std::move(d));
  }
  return out;
}

TEST(EngineParallelTest, SpreadStreamsGiveTheSerialAnswer) {
  const char* const kQueries[] = {
      "count_over_time({app=~\".+\"}[1m])",
      "sum by (app) (count_over_time({app=~\".+\"}[1m]))",
      "sum by (app) (rate({app=~\".+\"} |= \"x\" [30s]))",
      "bytes_over_time({app=~\".+\"}[2m])",
      "sum(bytes_rate({app=~\".+\"}[1m]))",
      "quantile_over_time(0.9, {app=~\".+\"} | logfmt | unwrap v [1m]) by (app)",
      "quantile_over_time(0.5, {app=~\".+\"} | logfmt | unwrap v [20m])",
      "absent_over_time({app=\"none\"}[1m])",
      "topk(2, sum by (pod) (count_over_time({app=~\".+\"}[1m])))",
  };
  Engine engine;
  MemorySource serial(SpreadData(), 5);
  SpreadingSource spread(SpreadData());
  for (const char* text : kQueries) {
    SCOPED_TRACE(text);
    LogQuery q;
    q.query = text;
    q.start_ns = kT0;
    q.end_ns = kT0 + 10 * 60 * kSec;
    q.step_ns = 30 * kSec;
    auto want = engine.Query(q, serial);
    auto got = engine.Query(q, spread);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(spread.last_sinks, 3u);
    ASSERT_EQ(got->matrix.size(), want->matrix.size());
    for (size_t i = 0; i < want->matrix.size(); ++i) {
      EXPECT_EQ(got->matrix[i].metric, want->matrix[i].metric);
      ASSERT_EQ(got->matrix[i].points.size(), want->matrix[i].points.size());
      for (size_t j = 0; j < want->matrix[i].points.size(); ++j) {
        const Point& a = got->matrix[i].points[j];
        const Point& b = want->matrix[i].points[j];
        EXPECT_EQ(a.t_ms, b.t_ms);
        EXPECT_TRUE(a.v == b.v || (std::isnan(a.v) && std::isnan(b.v))) << a.v << " vs " << b.v;
      }
    }
    EXPECT_EQ(got->stats.total_lines_processed, want->stats.total_lines_processed);
    EXPECT_EQ(got->stats.total_bytes_processed, want->stats.total_bytes_processed);
  }
  // Sums of unwrapped values depend on the order of additions: read serially.
  LogQuery q;
  q.query = "sum_over_time({app=~\".+\"} | logfmt | unwrap v [1m])";
  q.start_ns = kT0;
  q.end_ns = kT0 + 10 * 60 * kSec;
  q.step_ns = 30 * kSec;
  ASSERT_TRUE(engine.Query(q, spread).ok());
  EXPECT_EQ(spread.last_sinks, 1u);
}

// Log queries read by parallel collectors keep the candidates the serial read keeps, ties at
// the limit included: candidates are ranked by timestamp, labels, then line.
TEST(EngineParallelTest, LogQueriesOverSpreadStreamsGiveTheSerialAnswer) {
  const char* const kQueries[] = {
      "{app=~\".+\"}",
      "{app=~\".+\"} |= \"x\"",
      "{app=~\".+\"} | logfmt | v > 50",
      "{app=~\".+\"} | drop pod",
      "{app=~\".+\"} | line_format \"{{.app}}\" | drop pod",
  };
  Engine engine;
  MemorySource serial(SpreadData(), 5);
  SpreadingSource spread(SpreadData());
  for (const char* text : kQueries) {
    for (uint32_t limit : {1u, 7u, 14u, 15u, 100u, 5000u}) {
      for (Direction dir : {Direction::kForward, Direction::kBackward}) {
        for (int64_t interval : {int64_t{0}, 7 * kSec}) {
          SCOPED_TRACE(absl::StrCat(text, " limit ", limit, " dir ", static_cast<int>(dir),
                                    " interval ", interval));
          LogQuery q;
          q.query = text;
          q.start_ns = kT0;
          q.end_ns = kT0 + 10 * 60 * kSec;
          q.limit = limit;
          q.direction = dir;
          q.interval_ns = interval;
          auto want = engine.Query(q, serial);
          auto got = engine.Query(q, spread);
          ASSERT_TRUE(want.ok()) << want.status();
          ASSERT_TRUE(got.ok()) << got.status();
          EXPECT_EQ(spread.last_sinks, 3u);
          // Both in label-string order, whichever reader delivered a stream first.
          const std::vector<Stream>& g = got->streams;
          const std::vector<Stream>& w = want->streams;
          ASSERT_EQ(g.size(), w.size());
          size_t entries = 0;
          for (size_t i = 0; i < w.size(); ++i) {
            EXPECT_EQ(g[i].labels, w[i].labels);
            ASSERT_EQ(g[i].entries.size(), w[i].entries.size());
            for (size_t j = 0; j < w[i].entries.size(); ++j) {
              EXPECT_EQ(g[i].entries[j].ts_ns, w[i].entries[j].ts_ns);
              EXPECT_EQ(g[i].entries[j].line, w[i].entries[j].line);
            }
            entries += w[i].entries.size();
          }
          EXPECT_LE(entries, limit);
        }
      }
    }
  }
}

// Loki lists a log query's streams in the order of their label strings, which is not the
// order of their label pairs when a value holds a byte below '"' (here a space).
TEST(EngineLogOrderTest, LogQueryStreamsComeInLabelStringOrder) {
  std::vector<MemorySource::StreamData> data;
  for (const char* pod : {"x", "x y", "w", "x!"}) {
    data.push_back(MemorySource::StreamData{Labels({{"app", "a"}, {"pod", pod}}),
                                            {Entry{kT0 + kSec, std::string("line ") + pod, {}}}});
  }
  MemorySource source(std::move(data));
  LogQuery q;
  q.query = "{app=\"a\"}";
  q.start_ns = kT0;
  q.end_ns = kT0 + 60 * kSec;
  q.limit = 100;
  auto r = Engine().Query(q, source);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> order;
  for (const Stream& st : r->streams)
    order.push_back(std::string(st.labels.Get("pod")));
  EXPECT_EQ(order, (std::vector<std::string>{"w", "x y", "x!", "x"}));
}

}  // namespace
}  // namespace norn::logql_engine
