#include "pattern/patterns.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace norn::pattern {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kSec = 1000000000;
constexpr int64_t kBase = 1711839000 * kSec;  // multiple of 60s

PatternQuery Query(int64_t start, int64_t end, int64_t step, int64_t min_size = 1) {
  PatternQuery q;
  q.start_ns = start;
  q.end_ns = end;
  q.step_ns = step;
  q.min_cluster_size = min_size;
  return q;
}

TEST(PatternStepTest, DefaultsAndValidation) {
  EXPECT_EQ(DefaultPatternStepNs(0, 3600 * kSec), 14 * kSec);  // floor(3600 / 250)
  EXPECT_EQ(DefaultPatternStepNs(0, 100 * kSec), 1 * kSec);
  EXPECT_EQ(EffectivePatternStepNs(Query(0, 3600 * kSec, 0)), 14 * kSec);
  EXPECT_EQ(EffectivePatternStepNs(Query(0, 3600 * kSec, 5 * kSec)), 10 * kSec);  // 10s floor
  EXPECT_EQ(EffectivePatternStepNs(Query(0, 3600 * kSec, 60 * kSec + 123)), 60 * kSec);
  EXPECT_TRUE(ValidatePatternStep(0, 3600 * kSec, kSec).ok());
  EXPECT_FALSE(ValidatePatternStep(0, 3600 * kSec, 0).ok());
  absl::Status too_small = ValidatePatternStep(0, 12000 * kSec, kSec);
  EXPECT_EQ(too_small.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_small.message()), HasSubstr("11,000 points"));
}

TEST(DetectPatternsTest, BucketsCountsPerStep) {
  std::vector<std::string> lines;
  std::vector<std::pair<int64_t, std::string_view>> entries;
  lines.reserve(120);
  for (int i = 0; i < 120; ++i) {
    lines.push_back("GET /api/items/" + std::to_string(i) + " status 200 in " +
                    std::to_string(i % 7) + "ms");
  }
  for (int i = 0; i < 120; ++i) entries.emplace_back(kBase + i * kSec, lines[i]);
  PatternResult r = DetectPatterns(entries, Query(kBase, kBase + 120 * kSec, 60 * kSec));
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0].pattern, "GET <_> status 200 in <_>");
  EXPECT_EQ(r.series[0].level, "unknown");
  EXPECT_EQ(r.series[0].total, 120);
  EXPECT_THAT(r.series[0].samples,
              ElementsAre(PatternSample{kBase, 60}, PatternSample{kBase + 60 * kSec, 60}));

  // The 10s resolution is reported as is; a range cuts samples at its bounds.
  r = DetectPatterns(entries, Query(kBase + 20 * kSec, kBase + 50 * kSec, 10 * kSec));
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_THAT(r.series[0].samples, ElementsAre(PatternSample{kBase + 20 * kSec, 10},
                                               PatternSample{kBase + 30 * kSec, 10},
                                               PatternSample{kBase + 40 * kSec, 10}));
}

TEST(DetectPatternsTest, GapsInsideAChunkAreZeroAndUnalignedStartDropsFirstBucket) {
  std::vector<std::pair<int64_t, std::string_view>> entries = {
      {kBase + 5 * kSec, "backup of volume vol-1 completed ok"},
      {kBase + 45 * kSec, "backup of volume vol-2 completed ok"},
      {kBase + 185 * kSec, "backup of volume vol-3 completed ok"},
  };
  PatternResult r = DetectPatterns(entries, Query(kBase, kBase + 600 * kSec, 60 * kSec));
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_THAT(r.series[0].samples,
              ElementsAre(PatternSample{kBase, 2}, PatternSample{kBase + 60 * kSec, 0},
                          PatternSample{kBase + 120 * kSec, 0},
                          PatternSample{kBase + 180 * kSec, 1}));
  // Start at +30s: the sample at +45s lands in the +0s step bucket, which lies before the
  // start and is left out.
  r = DetectPatterns(entries, Query(kBase + 30 * kSec, kBase + 600 * kSec, 60 * kSec));
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_THAT(r.series[0].samples, ElementsAre(PatternSample{kBase + 60 * kSec, 0},
                                               PatternSample{kBase + 120 * kSec, 0},
                                               PatternSample{kBase + 180 * kSec, 1}));
}

TEST(DetectPatternsTest, PrunesSmallPatternsSortsAndCaps) {
  std::vector<std::string> lines;
  for (int i = 0; i < 40; ++i) lines.push_back("cache hit for user " + std::to_string(i));
  for (int i = 0; i < 35; ++i) {
    lines.push_back("db query took " + std::to_string(i) + "ms rows " + std::to_string(i));
  }
  for (int i = 0; i < 5; ++i) lines.push_back("panic in handler number " + std::to_string(i));
  std::vector<std::pair<int64_t, std::string_view>> entries;
  for (size_t i = 0; i < lines.size(); ++i) entries.emplace_back(kBase + i * kSec / 10, lines[i]);

  PatternQuery q = Query(kBase, kBase + 3600 * kSec, 60 * kSec, /*min_size=*/30);
  PatternResult r = DetectPatterns(entries, q);
  ASSERT_EQ(r.series.size(), 2u);  // the 5-line pattern is below Loki's 30-line floor
  EXPECT_EQ(r.series[0].pattern, "cache hit for user <_>");
  EXPECT_EQ(r.series[0].total, 40);
  EXPECT_EQ(r.series[1].pattern, "db query took <_> rows <_>");
  EXPECT_EQ(r.series[1].total, 35);

  q.min_cluster_size = 1;
  q.max_patterns = 2;
  r = DetectPatterns(entries, q);
  ASSERT_EQ(r.series.size(), 2u);
  EXPECT_EQ(r.series[1].total, 35);
}

TEST(PatternStreamTest, LevelsClusterSeparatelyAndOutOfOrderIsIgnored) {
  PatternStream s;
  s.Push(kBase, "level=info msg=started component=api", "info");
  s.Push(kBase + kSec, "level=info msg=started component=db", "info");
  s.Push(kBase + 2 * kSec, "level=error msg=crashed component=db", "error");
  s.Push(kBase + kSec / 2, "level=info msg=started component=late", "info");  // older: ignored
  EXPECT_EQ(s.format(), LogFormat::kLogfmt);
  EXPECT_EQ(s.num_clusters(), 2u);
  ASSERT_NE(s.drain("info"), nullptr);
  EXPECT_EQ(s.drain("info")->stats().lines_trained, 2);

  PatternMerger m(Query(kBase, kBase + 60 * kSec, 60 * kSec));
  m.AddStream(s);
  PatternResult r = m.Finish();
  ASSERT_EQ(r.series.size(), 2u);
  EXPECT_EQ(r.series[0].pattern, "level=info msg=started component=<_>");
  EXPECT_EQ(r.series[0].level, "info");
  EXPECT_EQ(r.series[0].total, 2);
  EXPECT_EQ(r.series[1].pattern, "level=error msg=crashed component=db");
  EXPECT_EQ(r.series[1].level, "error");
}

TEST(PatternMergerTest, SumsSamePatternAcrossStreams) {
  PatternStream a, b;
  for (int i = 0; i < 3; ++i) {
    a.Push(kBase + i * kSec, "order " + std::to_string(i) + " shipped to customer now");
    b.Push(kBase + 20 * kSec + i * kSec,
           "order " + std::to_string(100 + i) + " shipped to customer now");
  }
  PatternMerger m(Query(kBase, kBase + 60 * kSec, 10 * kSec));
  m.AddStream(a);
  m.AddStream(b);
  // Series from elsewhere (another ingester) merge in by pattern and level.
  std::vector<PatternSample> remote = {{kBase, 4}, {kBase + 90 * kSec, 7}};  // 2nd out of range
  m.AddSeries("order <_> shipped to customer now", "unknown", remote);
  PatternResult r = m.Finish();
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_THAT(r.series[0].samples,
              ElementsAre(PatternSample{kBase, 7}, PatternSample{kBase + 20 * kSec, 3}));
  EXPECT_EQ(r.series[0].total, 10);
}

TEST(PatternStreamTest, PruneForgetsOldPatterns) {
  PatternStream s;
  s.Push(kBase, "old style message number 1 here");
  s.Push(kBase + 7200 * kSec, "newer message with other shape entirely ok");
  EXPECT_FALSE(s.Prune(kBase + 3600 * kSec));
  EXPECT_EQ(s.num_clusters(), 1u);
  EXPECT_TRUE(s.Prune(kBase + 9000 * kSec));
}

TEST(RenderPatternsJsonTest, ExactLokiShape) {
  PatternResult r;
  r.series.push_back(PatternSeries{"<_> caller=x.go:66 level=info msg=\"a&b\"",
                                   "info",
                                   {{1711839260 * kSec, 105}, {1711839270 * kSec, 222}},
                                   327});
  r.series.push_back(PatternSeries{"tab\there \xff end", "unknown", {{1711839260 * kSec, 1}}, 1});
  EXPECT_EQ(RenderPatternsJson(r),
            R"({"status":"success","data":[)"
            R"({"pattern":"\u003c_\u003e caller=x.go:66 level=info msg=\"a\u0026b\"",)"
            R"("level":"info","samples":[[1711839260,105],[1711839270,222]]},)"
            R"({"pattern":"tab\there \ufffd end","level":"unknown",)"
            R"("samples":[[1711839260,1]]}]})"
            "\n");
  EXPECT_EQ(RenderPatternsJson(PatternResult{}), "{\"status\":\"success\",\"data\":[]}\n");
}

TEST(DetectPatternsTest, UnsortedBatchIsOrderedFirst) {
  std::vector<std::pair<int64_t, std::string_view>> entries = {
      {kBase + 30 * kSec, "disk usage at 81 percent on sda"},
      {kBase, "disk usage at 79 percent on sda"},
      {kBase + 10 * kSec, "disk usage at 80 percent on sda"},
  };
  PatternResult r = DetectPatterns(entries, Query(kBase, kBase + 60 * kSec, 10 * kSec));
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0].total, 3);
}

// 100k lines of a realistic mix (plain, logfmt-ish plain, stack traces) through one stream.
TEST(DetectPatternsTest, HundredThousandLinesThroughput) {
  std::mt19937 rng(42);
  const char* kMethods[] = {"GET", "POST", "PUT", "DELETE"};
  const char* kPaths[] = {"/api/users", "/api/orders", "/health", "/api/items/search"};
  std::vector<std::string> lines;
  lines.reserve(100000);
  for (int i = 0; i < 100000; ++i) {
    switch (rng() % 6) {
      case 0:
        lines.push_back(std::string("10.0.") + std::to_string(rng() % 256) + "." +
                        std::to_string(rng() % 256) + " - - \"" + kMethods[rng() % 4] + " " +
                        kPaths[rng() % 4] + "/" + std::to_string(rng() % 10000) +
                        " HTTP/1.1\" " + std::to_string(200 + rng() % 4) + " " +
                        std::to_string(rng() % 100000));
        break;
      case 1:
        lines.push_back("level=info caller=server.go:" + std::to_string(rng() % 300) +
                        " msg=\"request completed\" duration=" + std::to_string(rng() % 900) +
                        "ms status=200 trace_id=" + std::to_string(rng()));
        break;
      case 2:
        lines.push_back("user " + std::to_string(rng() % 100000) + " logged in from " +
                        std::to_string(rng() % 256) + ".1.2.3 using session " +
                        std::to_string(rng()));
        break;
      case 3:
        lines.push_back("Exception in thread \"worker-" + std::to_string(rng() % 64) +
                        "\" java.lang.IllegalStateException: queue " +
                        std::to_string(rng() % 50) + " is full");
        break;
      case 4:
        lines.push_back("compaction of table " + std::to_string(rng() % 40) + " finished in " +
                        std::to_string(rng() % 10000) + "ms, wrote " +
                        std::to_string(rng() % 1000) + " files");
        break;
      default:
        lines.push_back("cache eviction: removed " + std::to_string(rng() % 1000) +
                        " entries, size now " + std::to_string(rng() % 100000) + " bytes");
        break;
    }
  }
  PatternStream stream;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100000; ++i) stream.Push(kBase + int64_t{i} * 10000000, lines[i]);
  PatternMerger merger(Query(kBase, kBase + 1000 * kSec, 0, 30));
  merger.AddStream(stream);
  PatternResult r = merger.Finish();
  const auto t1 = std::chrono::steady_clock::now();
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  std::printf("[ perf ] trained 100000 lines into %zu clusters, %zu patterns in %.3f s "
              "(%.0f lines/s)\n",
              stream.num_clusters(), r.series.size(), secs, 100000 / secs);
  for (const auto& s : r.series) {
    std::printf("[ perf ]   %6lld  %s\n", static_cast<long long>(s.total), s.pattern.c_str());
  }
  EXPECT_GE(r.series.size(), 6u);
  EXPECT_LE(stream.num_clusters(), 300u);
  int64_t total = 0;
  for (const auto& s : r.series) total += s.total;
  EXPECT_GT(total, 90000);
}

}  // namespace
}  // namespace norn::pattern
