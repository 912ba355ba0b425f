#include "distributor/distributor.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"

namespace norn::distributor {
namespace {

using ::testing::HasSubstr;

// Records what the distributor hands over.
class RecordingIngesters : public ingester::IngesterClient {
 public:
  struct Seen {
    bool with_labels;
    std::string text;
    Fingerprint fingerprint;
    size_t entries;
  };
  absl::Status Push(std::string_view, std::span<const ingester::StreamBatch> streams) override {
    for (const auto& b : streams) {
      seen.push_back(
          Seen{b.labels != nullptr, std::string(b.labels_text), b.fingerprint, b.entries.size()});
    }
    return absl::OkStatus();
  }
  std::vector<Seen> seen;
};

class DistributorTest : public ::testing::Test {
 protected:
  DistributorTest()
      : limits_(std::make_shared<config::TenantLimits>()),
        distributor_(
            false, [this](std::string_view) { return limits_; }, &ingesters_) {}

  // A push of one line to each stream named by its label string (as protobuf pushes send it).
  absl::Status Push(const std::vector<std::string_view>& label_texts) {
    loghttp::PushRequest req;
    for (std::string_view text : label_texts) {
      loghttp::PushStream s;
      s.labels_text = text;
      s.entries.push_back(loghttp::PushEntry{absl::GetCurrentTimeNanos(), "a line", {}});
      req.streams.push_back(std::move(s));
    }
    return distributor_.Push("t", req);
  }

  std::shared_ptr<config::TenantLimits> limits_;
  RecordingIngesters ingesters_;
  Distributor distributor_;
};

TEST_F(DistributorTest, KnownLabelStringsSkipParsingButKeepTheirFingerprint) {
  ASSERT_TRUE(Push({R"({pod="p-0123456789", app="a"})", R"({app="a", pod="p-0123456789"})"}).ok());
  ASSERT_TRUE(Push({R"({pod="p-0123456789", app="a"})"}).ok());
  ASSERT_EQ(ingesters_.seen.size(), 3u);
  const Fingerprint fp = Labels({{"app", "a"}, {"pod", "p-0123456789"}}).Hash();
  // First sight of each spelling: parsed; the same spelling again: known by its string.
  EXPECT_TRUE(ingesters_.seen[0].with_labels);
  EXPECT_TRUE(ingesters_.seen[1].with_labels);
  EXPECT_FALSE(ingesters_.seen[2].with_labels);
  for (const auto& s : ingesters_.seen)
    EXPECT_EQ(s.fingerprint, fp) << s.text;
  EXPECT_EQ(ingesters_.seen[2].text, R"({pod="p-0123456789", app="a"})");
}

TEST_F(DistributorTest, KnownLabelStringsAreCheckedAgainstTheCurrentLimits) {
  constexpr std::string_view kStream = R"({app="checkout", pod="checkout-7d9f8b6c5-x2k4p"})";
  ASSERT_TRUE(Push({kStream}).ok());
  ASSERT_TRUE(Push({kStream}).ok());  // known now
  // Limits lowered at runtime: the known string is rejected with Loki's messages.
  limits_->max_label_names_per_series = 1;
  absl::Status st = Push({kStream});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("has 2 label names; limit 1"));
  limits_->max_label_names_per_series = 0;
  limits_->max_label_value_length = 10;
  st = Push({kStream});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("has label value too long: 'checkout-7d9f8b6c5-x2k4p'"));
  limits_->max_label_value_length = 0;
  limits_->max_label_name_length = 2;
  st = Push({kStream});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("has label name too long: 'app'"));
  limits_->max_label_name_length = 0;
  EXPECT_TRUE(Push({kStream}).ok());
  ASSERT_EQ(ingesters_.seen.size(), 3u);  // the rejected pushes reached no ingester
  EXPECT_FALSE(ingesters_.seen[2].with_labels);
}

TEST_F(DistributorTest, BadLabelStringsAreNeverRemembered) {
  for (int i = 0; i < 2; ++i) {
    absl::Status st = Push({R"({app="a", app="b"})", "{}", R"({1x="a"})"});
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(st.message(), HasSubstr("duplicate label name: 'app'"));
    EXPECT_THAT(st.message(), HasSubstr("at least one label pair is required per stream"));
    EXPECT_THAT(st.message(), HasSubstr("Error parsing labels '{1x=\"a\"}'"));
  }
  EXPECT_TRUE(ingesters_.seen.empty());
}

TEST(LabelsCacheTest, StartsOverWhenFull) {
  LabelsCache cache(2);
  const LabelsCache::Key a = LabelsCache::KeyOf("{a=\"1\"}");
  const LabelsCache::Key b = LabelsCache::KeyOf("{b=\"1\"}");
  const LabelsCache::Key c = LabelsCache::KeyOf("{c=\"1\"}");
  const std::pair<LabelsCache::Key, KnownLabels> first[] = {{a, KnownLabels{1, 1, 1, 1}},
                                                            {b, KnownLabels{2, 1, 1, 1}}};
  cache.InsertAll(first);
  EXPECT_EQ(cache.size(), 2u);
  const std::pair<LabelsCache::Key, KnownLabels> more[] = {{c, KnownLabels{3, 1, 1, 1}}};
  cache.InsertAll(more);
  const LabelsCache::Key keys[] = {a, b, c};
  std::optional<KnownLabels> found[3];
  cache.FindAll(keys, found);
  EXPECT_FALSE(found[0].has_value());
  EXPECT_FALSE(found[1].has_value());
  ASSERT_TRUE(found[2].has_value());
  EXPECT_EQ(found[2]->fingerprint, 3u);
}

}  // namespace
}  // namespace norn::distributor
