#include "validation/validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/metrics.h"
#include "validation/rate_limiter.h"

namespace norn::validation {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z
constexpr int64_t kSecond = 1'000'000'000;

class ValidatorTest : public ::testing::Test {
 protected:
  config::TenantLimits limits_;
  Labels labels_;
};

TEST_F(ValidatorTest, AcceptsGoodStream) {
  auto r = ValidateLabels(limits_, R"({job="web", app="x"})", &labels_);
  EXPECT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(labels_.ToString(), R"({app="x", job="web"})");
}

TEST_F(ValidatorTest, MissingLabelsIncludingOnlyEmptyValues) {
  for (const char* text : {"{}", R"({conformance_push=""})"}) {
    auto r = ValidateLabels(limits_, text, &labels_);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(r.status.message(), "error at least one label pair is required per stream");
    EXPECT_EQ(r.reason, kMissingLabels);
  }
}

TEST_F(ValidatorTest, InvalidAndDuplicateLabels) {
  auto r = ValidateLabels(limits_, R"({1abc="x"})", &labels_);
  EXPECT_EQ(r.reason, kInvalidLabels);
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("Error parsing labels '{1abc=\"x\"}'"));
  r = ValidateLabels(limits_, R"({a="1", a="2"})", &labels_);
  EXPECT_EQ(r.reason, kDuplicateLabelNames);
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("has duplicate label name: 'a'"));
  r = ValidateParsedLabels(limits_, Labels({{"bad-name", "x"}}), "{bad-name=\"x\"}");
  EXPECT_EQ(r.reason, kInvalidLabels);
}

TEST_F(ValidatorTest, LabelLimits) {
  limits_.max_label_names_per_series = 2;
  auto r = ValidateLabels(limits_, R"({a="1", b="2", c="3"})", &labels_);
  EXPECT_EQ(r.reason, kMaxLabelNamesPerSeries);
  EXPECT_EQ(r.status.message(),
            "entry for stream '{a=\"1\", b=\"2\", c=\"3\"}' has 3 label names; limit 2");
  limits_.max_label_names_per_series = 15;
  limits_.max_label_name_length = 3;
  r = ValidateLabels(limits_, R"({abcd="1"})", &labels_);
  EXPECT_EQ(r.reason, kLabelNameTooLong);
  EXPECT_EQ(r.status.message(), "stream '{abcd=\"1\"}' has label name too long: 'abcd'");
  limits_.max_label_name_length = 1024;
  limits_.max_label_value_length = 3;
  r = ValidateLabels(limits_, R"({a="1234"})", &labels_);
  EXPECT_EQ(r.reason, kLabelValueTooLong);
  EXPECT_EQ(r.status.message(), "stream '{a=\"1234\"}' has label value too long: '1234'");
}

TEST_F(ValidatorTest, Timestamps) {
  size_t truncate = 0;
  const std::string_view s = R"({a="1"})";
  EXPECT_TRUE(ValidateEntry(limits_, s, kNow, 10, {}, kNow, &truncate).ok());
  // Default max age is one week.
  auto r = ValidateEntry(limits_, s, kNow - 8 * 24 * 3600 * kSecond, 10, {}, kNow, &truncate);
  EXPECT_EQ(r.reason, kGreaterThanMaxSampleAge);
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("has timestamp too old: 2023-11-06T22:13:20Z"));
  limits_.reject_old_samples = false;
  EXPECT_TRUE(ValidateEntry(limits_, s, 0, 10, {}, kNow, &truncate).ok());
  // Up to creation_grace_period (10m) in the future is fine.
  EXPECT_TRUE(ValidateEntry(limits_, s, kNow + 9 * 60 * kSecond, 10, {}, kNow, &truncate).ok());
  r = ValidateEntry(limits_, s, 4102444800 * kSecond, 10, {}, kNow, &truncate);
  EXPECT_EQ(r.reason, kTooFarInFuture);
  EXPECT_EQ(r.status.message(),
            "entry for stream '{a=\"1\"}' has timestamp too new: 2100-01-01T00:00:00Z");
}

TEST_F(ValidatorTest, LineSizeAndTruncation) {
  size_t truncate = 0;
  limits_.max_line_size = 100;
  auto r = ValidateEntry(limits_, "{a=\"1\"}", kNow, 101, {}, kNow, &truncate);
  EXPECT_EQ(r.reason, kLineTooLong);
  EXPECT_EQ(r.status.message(),
            "Max entry size '100' bytes exceeded for stream '{a=\"1\"}' while adding an entry "
            "with length '101' bytes");
  limits_.max_line_size_truncate = true;
  r = ValidateEntry(limits_, "{a=\"1\"}", kNow, 101, {}, kNow, &truncate);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(truncate, 100u);
}

TEST_F(ValidatorTest, StructuredMetadata) {
  size_t truncate = 0;
  std::vector<Label> md = {{"trace_id", "abc"}, {"user", "u1"}};
  EXPECT_TRUE(ValidateEntry(limits_, "{a=\"1\"}", kNow, 1, md, kNow, &truncate).ok());
  limits_.max_structured_metadata_entries_count = 1;
  EXPECT_EQ(ValidateEntry(limits_, "{a=\"1\"}", kNow, 1, md, kNow, &truncate).reason,
            kStructuredMetadataTooMany);
  limits_.max_structured_metadata_entries_count = 128;
  limits_.max_structured_metadata_size = 5;
  EXPECT_EQ(ValidateEntry(limits_, "{a=\"1\"}", kNow, 1, md, kNow, &truncate).reason,
            kStructuredMetadataTooLarge);
  limits_.allow_structured_metadata = false;
  EXPECT_EQ(ValidateEntry(limits_, "{a=\"1\"}", kNow, 1, md, kNow, &truncate).reason,
            kDisallowedStructuredMetadata);
}

TEST(RejectionTextTest, RateLimits) {
  auto r = RateLimitedRejection("t1", 4 * 1024 * 1024, 10, 5000000);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status.message()),
              HasSubstr("Ingestion rate limit exceeded for user t1 (limit: 4194304 bytes/sec) "
                        "while attempting to ingest '10' lines totaling '5000000' bytes"));
  r = StreamRateLimitRejection("{a=\"1\"}", 3 << 20, 4000000);
  EXPECT_THAT(std::string(r.status.message()),
              HasSubstr("Per stream rate limit exceeded (limit: 3.1 MB/sec) while attempting to "
                        "ingest for stream '{a=\"1\"}' totaling 4.0 MB"));
  EXPECT_EQ(StreamLimitRejection("t").reason, kStreamLimit);
}

TEST(DiscardedMetricsTest, CountsLinesAndBytesByReason) {
  RecordDiscarded(kLineTooLong, "tenant-x", 3, 300);
  std::string text = metrics::Registry::Default().Render();
  EXPECT_THAT(text, HasSubstr("loki_discarded_samples_total{reason=\"line_too_long\",tenant=\"tenant-x\"} 3"));
  EXPECT_THAT(text, HasSubstr("loki_discarded_bytes_total{reason=\"line_too_long\",tenant=\"tenant-x\"} 300"));
}

TEST(TokenBucketTest, BurstThenRate) {
  TokenBucket b(/*rate=*/100, /*burst=*/1000, /*now=*/0);
  EXPECT_TRUE(b.AllowN(0, 600));
  EXPECT_FALSE(b.AllowN(0, 600));  // All-or-nothing: nothing taken.
  EXPECT_TRUE(b.AllowN(0, 400));
  EXPECT_FALSE(b.AllowN(0, 1));
  EXPECT_TRUE(b.AllowN(kSecond, 100));  // One second refills 100.
  EXPECT_FALSE(b.AllowN(kSecond, 1));
  EXPECT_FALSE(b.AllowN(100 * kSecond, 1001));  // Larger than burst never fits.
  EXPECT_TRUE(b.AllowN(100 * kSecond, 1000));
}

TEST(TenantRateLimitersTest, PerTenantAndLimitChanges) {
  TenantRateLimiters l;
  EXPECT_TRUE(l.AllowN("a", 10, 100, 0, 100));
  EXPECT_FALSE(l.AllowN("a", 10, 100, 0, 1));
  EXPECT_TRUE(l.AllowN("b", 10, 100, 0, 100));  // Separate bucket.
  // A raised limit applies from the call that carries it: time before it refilled at the old
  // rate (10 tokens after 1s), time after it refills at the new one.
  EXPECT_FALSE(l.AllowN("a", 1000, 1000, kSecond, 900));
  EXPECT_TRUE(l.AllowN("a", 1000, 1000, 2 * kSecond, 900));
}

}  // namespace
}  // namespace norn::validation
