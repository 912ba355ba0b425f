#include "pattern/drain.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pattern/tokenizer.h"

namespace norn::pattern {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr int64_t kSec = 1000000000;

std::vector<std::string> Tokens(const internal::TokenizedLine& t) {
  return {t.tokens.begin(), t.tokens.end()};
}

std::vector<std::string> Patterns(const Drain& d) {
  std::vector<std::string> out;
  for (const LogCluster* c : d.Clusters()) out.push_back(c->Pattern());
  return out;
}

TEST(TokenizerTest, PunctuationSplitsOnSpacesEqualsAndPunctuation) {
  internal::TokenizedLine t;
  ASSERT_EQ(internal::TokenizePunctuation("GET /api/v1/users?id=42 took 1.5ms, ok", 3000, &t),
            SkipReason::kNone);
  EXPECT_THAT(Tokens(t), ElementsAre("GET", "/api/v1/users", "?", "id", "=", "42", "took",
                                     "1.5ms", ",", "ok"));
  // Spaces follow tokens 0 ("GET"), 5 ("42"), 6 ("took") and 8 (",").
  EXPECT_THAT(t.spaces_after, ElementsAre(0, 5, 6, 8));
  std::vector<std::string> owned = Tokens(t);
  std::string joined;
  internal::JoinPunctuation(owned, t.spaces_after, &joined);
  EXPECT_EQ(joined, "GET /api/v1/users?id=42 took 1.5ms, ok");
}

TEST(TokenizerTest, PunctuationKeepsPathsAndTimesTogether) {
  internal::TokenizedLine t;
  ASSERT_EQ(internal::TokenizePunctuation("[2024-01-02 10:11:12] worker_3 done (a+b)", 0, &t),
            SkipReason::kNone);
  EXPECT_THAT(Tokens(t), ElementsAre("[", "2024-01-02", "10:11:12", "]", "worker_3", "done", "(",
                                     "a+b", ")"));
}

TEST(TokenizerTest, PunctuationRejectsLongLinesAndCapsTokens) {
  internal::TokenizedLine t;
  EXPECT_EQ(internal::TokenizePunctuation(std::string(3001, 'a'), 3000, &t),
            SkipReason::kLineTooLong);
  std::string many;
  for (int i = 0; i < 300; ++i) many += "a,";
  ASSERT_EQ(internal::TokenizePunctuation(many, 0, &t), SkipReason::kNone);
  // Splitting stops once 127 tokens exist (a split can add two at once: word + punctuation);
  // the unsplit rest of the line becomes one more token.
  EXPECT_EQ(t.tokens.size(), 129u);
  EXPECT_EQ(t.tokens.back().size(), many.size() - 128);
}

TEST(TokenizerTest, LogfmtPairsMaskTimestampsAndUnquote) {
  internal::TokenizedLine t;
  ASSERT_EQ(internal::TokenizeLogfmt(
                R"(ts=2024-01-01T00:00:00Z level=info msg="hello \"big\" world" empty= flag)",
                3000, "<_>", &t),
            SkipReason::kNone);
  EXPECT_THAT(Tokens(t), ElementsAre("ts", "<_>", "level", "info", "msg",
                                     "hello \"big\" world", "empty", "", "flag", ""));
  std::vector<std::string> owned = Tokens(t);
  std::string joined;
  internal::JoinLogfmt(owned, &joined);
  EXPECT_EQ(joined, R"(ts=<_> level=info msg="hello \"big\" world" empty= flag=)");
}

TEST(TokenizerTest, LogfmtSyntaxErrorsSkipTheLine) {
  internal::TokenizedLine t;
  EXPECT_EQ(internal::TokenizeLogfmt(R"(a=1 b="unterminated)", 0, "<_>", &t),
            SkipReason::kParseError);
  EXPECT_EQ(internal::TokenizeLogfmt("a=1 =2", 0, "<_>", &t), SkipReason::kParseError);
  EXPECT_EQ(internal::TokenizeLogfmt("a=b=c d=1", 0, "<_>", &t), SkipReason::kParseError);
}

TEST(TokenizerTest, JsonMessageFieldPriority) {
  const std::vector<std::string> fields = {"log", "message", "msg"};
  std::string_view v;
  ASSERT_TRUE(internal::FindJsonMessage(
      R"({"msg":"low", "nested":{"log":"no"}, "arr":[1,"x",{}], "message":"high \"q\""})",
      fields, &v));
  EXPECT_EQ(v, R"(high \"q\")");
  EXPECT_FALSE(internal::FindJsonMessage(R"({"level":"info","n":1})", fields, &v));
  EXPECT_FALSE(internal::FindJsonMessage(R"({"msg":42})", fields, &v));
  EXPECT_FALSE(internal::FindJsonMessage("not json", fields, &v));
}

TEST(TokenizerTest, DedupPlaceholders) {
  EXPECT_EQ(internal::DedupPlaceholders("<_><_><_> a <_><_>", "<_>"), "<_> a <_>");
  EXPECT_EQ(internal::DedupPlaceholders("a <_> b", "<_>"), "a <_> b");
  EXPECT_EQ(internal::DedupPlaceholders("", "<_>"), "");
}

TEST(DetectLogFormatTest, Heuristics) {
  EXPECT_EQ(DetectLogFormat(R"({"a":1})"), LogFormat::kJson);
  EXPECT_EQ(DetectLogFormat("level=info msg=hello"), LogFormat::kLogfmt);
  EXPECT_EQ(DetectLogFormat(R"(level=info msg="hello world" n=3)"), LogFormat::kLogfmt);
  EXPECT_EQ(DetectLogFormat("GET /index.html 200"), LogFormat::kUnknown);
  EXPECT_EQ(DetectLogFormat("prefix level=info"), LogFormat::kUnknown);
  EXPECT_EQ(DetectLogFormat("x"), LogFormat::kUnknown);
  EXPECT_EQ(LogFormatName(LogFormat::kLogfmt), "logfmt");
}

TEST(DrainTest, SimilarPlainLinesShareOnePattern) {
  Drain d(DrainConfig{});
  int id1 = d.Train("user 123 logged in from 10.0.0.1", 1 * kSec);
  int id2 = d.Train("user 456 logged in from 10.0.0.2", 2 * kSec);
  int id3 = d.Train("user 789 logged in from 10.0.0.9", 3 * kSec);
  EXPECT_GT(id1, 0);
  EXPECT_EQ(id1, id2);
  EXPECT_EQ(id1, id3);
  ASSERT_EQ(d.num_clusters(), 1u);
  EXPECT_EQ(d.Cluster(id1)->Pattern(), "user <_> logged in from <_>");
  EXPECT_EQ(d.Cluster(id1)->size(), 3);
}

TEST(DrainTest, DifferentShapesStaySeparate) {
  Drain d(DrainConfig{});
  int a = d.Train("connection opened to db-1 port 5432", 0);
  int b = d.Train("connection opened to db-2 port 5432", 0);
  int c = d.Train("cache miss for key users/42 in region eu", 0);  // other length
  int e = d.Train("request failed with status 500 after retry", 0);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(c, e);
  EXPECT_THAT(Patterns(d), UnorderedElementsAre("connection opened to <_> port 5432",
                                                "cache miss for key users/42 in region eu",
                                                "request failed with status 500 after retry"));
}

TEST(DrainTest, SimilarityThresholdSeparatesMostlyDifferentLines) {
  DrainConfig cfg;
  cfg.sim_th = 0.9;
  Drain d(cfg);
  int a = d.Train("alpha beta gamma delta epsilon", 0);
  int b = d.Train("alpha beta gamma delta zeta", 0);  // 4/5 = 0.8 < 0.9
  EXPECT_NE(a, b);
  EXPECT_EQ(d.num_clusters(), 2u);
}

TEST(DrainTest, LogfmtLinesGiveLokiDocsPattern) {
  Drain d(DrainConfig{}, LogFormat::kLogfmt);
  d.Train("ts=2024-03-30T23:03:40 caller=grpc_logging.go:66 level=info "
          "method=/cortex.Ingester/Push duration=200ms msg=gRPC",
          0);
  d.Train("ts=2024-03-30T23:03:41 caller=grpc_logging.go:66 level=info "
          "method=/cortex.Ingester/Push duration=500ms msg=gRPC",
          kSec);
  EXPECT_THAT(Patterns(d), ElementsAre("ts=<_> caller=grpc_logging.go:66 level=info "
                                       "method=/cortex.Ingester/Push duration=<_> msg=gRPC"));
}

TEST(DrainTest, JsonLinesUseMessageField) {
  Drain d(DrainConfig{}, LogFormat::kJson);
  EXPECT_GT(d.Train(R"({"level":"info","msg":"request done in 12ms status ok","id":1})", 0), 0);
  EXPECT_GT(d.Train(R"({"level":"info","msg":"request done in 48ms status ok","id":2})", 0), 0);
  EXPECT_EQ(d.Train(R"({"level":"info","id":3})", 0), 0);
  EXPECT_EQ(d.last_skip_reason(), SkipReason::kNoMessage);
  EXPECT_THAT(Patterns(d), ElementsAre("<_>request done in <_> status ok<_>"));
}

TEST(DrainTest, SkipsShortAndLongLines) {
  Drain d(DrainConfig{});
  EXPECT_EQ(d.Train("too short", 0), 0);
  EXPECT_EQ(d.last_skip_reason(), SkipReason::kTooFewTokens);
  std::string many;
  for (int i = 0; i < 90; ++i) many += "w ";
  EXPECT_EQ(d.Train(many, 0), 0);
  EXPECT_EQ(d.last_skip_reason(), SkipReason::kTooManyTokens);
  EXPECT_EQ(d.Train(std::string(4000, 'x'), 0), 0);
  EXPECT_EQ(d.last_skip_reason(), SkipReason::kLineTooLong);
  EXPECT_EQ(d.stats().lines_skipped, 3);
  EXPECT_EQ(d.num_clusters(), 0u);
}

TEST(DrainTest, LeadingSpaceSuppressesSpacesLikeLoki) {
  Drain d(DrainConfig{});
  int id = d.Train(" at com.example.Foo.bar line 42", 0);
  ASSERT_GT(id, 0);
  EXPECT_EQ(d.Cluster(id)->Pattern(), "atcom.example.Foo.barline42");
}

TEST(DrainTest, SamplesAreCountedInTenSecondBuckets) {
  Drain d(DrainConfig{});
  int id = 0;
  for (int s : {0, 3, 9, 10, 25, 29}) {
    id = d.Train("job " + std::to_string(s) + " finished in time", 1700000000 * kSec + s * kSec);
  }
  const int64_t base = 1700000000 * kSec;
  EXPECT_THAT(d.Cluster(id)->Samples(),
              ElementsAre(PatternSample{base, 3}, PatternSample{base + 10 * kSec, 1},
                          PatternSample{base + 20 * kSec, 2}));
}

TEST(DrainTest, OutOfOrderSampleIsNotCounted) {
  Drain d(DrainConfig{});
  int id = d.Train("worker 1 picked up task 9", 100 * kSec);
  d.Train("worker 2 picked up task 8", 50 * kSec);
  EXPECT_THAT(d.Cluster(id)->Samples(), ElementsAre(PatternSample{100 * kSec, 1}));
}

TEST(DrainTest, ChunksSplitAfterMaxAgeAndRangeRebuckets) {
  Drain d(DrainConfig{});
  int id = 0;
  for (int64_t s : {0, 60, 200, 3700}) {
    id = d.Train("tick number " + std::to_string(s) + " processed fine", s * kSec);
  }
  const LogCluster* c = d.Cluster(id);
  std::vector<PatternSample> out;
  c->AppendRange(0, 4000 * kSec, 120 * kSec, &out);
  // Chunk 1 (0..200s) fills the empty 120s step with 0; chunk 2 starts at 3700s.
  EXPECT_THAT(out, ElementsAre(PatternSample{0, 2}, PatternSample{120 * kSec, 1},
                               PatternSample{3600 * kSec, 1}));
  out.clear();
  c->AppendRange(0, 4000 * kSec, 60 * kSec, &out);
  EXPECT_THAT(out, ElementsAre(PatternSample{0, 1}, PatternSample{60 * kSec, 1},
                               PatternSample{120 * kSec, 0}, PatternSample{180 * kSec, 1},
                               PatternSample{3660 * kSec, 1}));
  out.clear();
  c->AppendRange(60 * kSec, 200 * kSec, 10 * kSec, &out);
  // Like Loki's chunk range, a sample exactly at `end` survives when it is the chunk's last;
  // PatternMerger applies the exclusive end.
  EXPECT_THAT(out, ElementsAre(PatternSample{60 * kSec, 1}, PatternSample{200 * kSec, 1}));
  out.clear();
  c->AppendRange(60 * kSec, 190 * kSec, 10 * kSec, &out);
  EXPECT_THAT(out, ElementsAre(PatternSample{60 * kSec, 1}));
}

TEST(DrainTest, LruEvictsLeastRecentlyUsedCluster) {
  DrainConfig cfg;
  cfg.max_clusters = 2;
  cfg.max_eviction_ratio = 0;
  Drain d(cfg);
  int a = d.Train("alpha shape one two three", 0);
  int b = d.Train("beta shape one two three four", 0);
  d.Train("alpha shape one two three", 0);  // touch a
  int c = d.Train("gamma shape one two three four five", 0);
  EXPECT_NE(d.Cluster(a), nullptr);
  EXPECT_EQ(d.Cluster(b), nullptr);
  EXPECT_NE(d.Cluster(c), nullptr);
  EXPECT_EQ(d.stats().clusters_evicted, 1);
  // The evicted shape comes back as a new cluster.
  int b2 = d.Train("beta shape one two three four", 0);
  EXPECT_NE(b2, b);
}

TEST(DrainTest, EvictionLimiterBlocksTraining) {
  DrainConfig cfg;
  cfg.max_clusters = 1;
  Drain d(cfg);
  // Every new shape evicts the previous one; after the ratio passes 0.25 training stops.
  int trained = 0;
  for (int i = 0; i < 20; ++i) {
    std::string line = "shape";
    for (int k = 0; k < 4 + i; ++k) line += " w";
    if (d.Train(line, i * kSec) > 0) ++trained;
  }
  EXPECT_LT(trained, 20);
  EXPECT_GT(d.stats().skipped_rate_limited, 0);
  // After the block window (in entry time) training resumes.
  EXPECT_GT(d.Train("a brand new shape here now", 3600 * kSec), 0);
}

TEST(DrainTest, PruneDropsOldClustersAndBranches) {
  Drain d(DrainConfig{});
  int old_id = d.Train("old event number 1 happened", 0);
  int new_id = d.Train("fresh thing happened at noon today", 7200 * kSec);
  EXPECT_FALSE(d.Prune(3600 * kSec));
  EXPECT_EQ(d.Cluster(old_id), nullptr);
  EXPECT_NE(d.Cluster(new_id), nullptr);
  EXPECT_EQ(d.stats().clusters_pruned, 1);
  EXPECT_TRUE(d.Prune(10000 * kSec));
  EXPECT_EQ(d.num_clusters(), 0u);
  // The tree still works after pruning.
  EXPECT_GT(d.Train("old event number 2 happened", 20000 * kSec), 0);
}

TEST(DrainTest, WildcardBranchForTokensWithDigits) {
  Drain d(DrainConfig{});
  // The leading token varies and carries digits: both go down the <_> branch and merge.
  int a = d.Train("42 requests served by node today", 0);
  int b = d.Train("57 requests served by node today", 0);
  EXPECT_EQ(a, b);
  EXPECT_EQ(d.Cluster(a)->Pattern(), "<_> requests served by node today");
  // A digit-free token in the tree prefix is a branch key: lines differing there do not meet,
  // however similar the rest is (Drain's "leading tokens are constants" assumption).
  int c = d.Train("42 requests served by alpha today", 0);
  int e = d.Train("42 requests served by beta today", 0);
  EXPECT_NE(c, e);
}

}  // namespace
}  // namespace norn::pattern
