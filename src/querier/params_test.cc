#include "querier/params.h"

#include <gtest/gtest.h>

namespace norn::querier {
namespace {

constexpr int64_t kT0 = 1704067200LL * 1'000'000'000;

TEST(ParseTimestampTest, EveryFormatLokiAccepts) {
  EXPECT_EQ(*ParseTimestamp("1704067200"), kT0);
  EXPECT_EQ(*ParseTimestamp("1704067200000000000"), kT0);
  EXPECT_EQ(*ParseTimestamp("1704067200.5"), kT0 + 500'000'000);
  EXPECT_EQ(*ParseTimestamp("1704067200.1234"), kT0 + 123'000'000);  // millisecond precision
  EXPECT_EQ(*ParseTimestamp("2024-01-01T00:00:00Z"), kT0);
  EXPECT_EQ(*ParseTimestamp("2024-01-01T01:00:00.25+01:00"), kT0 + 250'000'000);
  EXPECT_FALSE(ParseTimestamp("yesterday").ok());
  EXPECT_FALSE(ParseTimestamp("").ok());
}

TEST(ParseRangeTest, DefaultsAndErrors) {
  http::HttpRequest req;
  auto r = ParseRange(req, kT0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->end_ns, kT0);
  EXPECT_EQ(r->start_ns, kT0 - 6LL * 3600 * 1'000'000'000);
  req.params = {{"since", "1h"}};
  EXPECT_EQ(ParseRange(req, kT0)->start_ns, kT0 - 3600LL * 1'000'000'000);
  req.params = {{"start", "1704067200"}, {"end", "2024-01-01T02:00:00Z"}};
  r = ParseRange(req, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->start_ns, kT0);
  EXPECT_EQ(r->end_ns, kT0 + 7200LL * 1'000'000'000);
  req.params = {{"start", "bogus"}};
  EXPECT_FALSE(ParseRange(req, kT0).ok());
  req.params = {{"start", "2024-01-02T00:00:00Z"}, {"end", "2024-01-01T00:00:00Z"}};
  EXPECT_FALSE(ParseRange(req, kT0).ok());
}

}  // namespace
}  // namespace norn::querier
