#include "logql/engine/http_params.h"

#include <map>
#include <string>

#include <gtest/gtest.h>

namespace norn::logql_engine {
namespace {

constexpr int64_t kSec = 1000000000;
constexpr int64_t kT0 = 1704067200 * kSec;  // 2024-01-01T00:00:00Z

using Params = std::map<std::string, std::string, std::less<>>;

absl::StatusOr<LogQuery> Range(const Params& p, int64_t now = kT0) {
  return ParseRangeQueryParams(
      [&](std::string_view k) -> std::optional<std::string_view> {
        auto it = p.find(k);
        if (it == p.end())
          return std::nullopt;
        return std::string_view(it->second);
      },
      now);
}
absl::StatusOr<LogQuery> Instant(const Params& p, int64_t now = kT0) {
  return ParseInstantQueryParams(
      [&](std::string_view k) -> std::optional<std::string_view> {
        auto it = p.find(k);
        if (it == p.end())
          return std::nullopt;
        return std::string_view(it->second);
      },
      now);
}

TEST(HttpParamsTest, Timestamps) {
  EXPECT_EQ(*ParseLokiTimestamp("2024-01-01T00:00:00Z", 0), kT0);
  EXPECT_EQ(*ParseLokiTimestamp("2024-01-01T01:00:05.000000001+01:00", 0), kT0 + 5 * kSec + 1);
  EXPECT_EQ(*ParseLokiTimestamp("2023-12-31T23:00:00-01:00", 0), kT0);
  EXPECT_EQ(*ParseLokiTimestamp("2024-01-01T00:00:00.5Z", 0), kT0 + kSec / 2);
  EXPECT_EQ(*ParseLokiTimestamp("1704067200", 0), kT0);
  EXPECT_EQ(*ParseLokiTimestamp("1704067200000000000", 0), kT0);
  EXPECT_EQ(*ParseLokiTimestamp("1704067214.5", 0), kT0 + 14 * kSec + kSec / 2);
  EXPECT_EQ(*ParseLokiTimestamp("1704067214.0004", 0), kT0 + 14 * kSec);  // ms rounding
  EXPECT_EQ(*ParseLokiTimestamp("", 42), 42);
  EXPECT_FALSE(ParseLokiTimestamp("yesterday", 0).ok());
  EXPECT_FALSE(ParseLokiTimestamp("2024-13-01T00:00:00Z", 0).ok());
  EXPECT_EQ(*ParseRfc3339Nano("2000-02-29T12:34:56Z"), 951827696 * kSec);
}

TEST(HttpParamsTest, Steps) {
  EXPECT_EQ(*ParseSecondsOrDuration("300"), 300 * kSec);
  EXPECT_EQ(*ParseSecondsOrDuration("90.5"), 90 * kSec + kSec / 2);
  EXPECT_EQ(*ParseSecondsOrDuration("1m30s"), 90 * kSec);
  EXPECT_EQ(*ParseSecondsOrDuration("2500ms"), 2500 * 1000000LL);
  auto bad = ParseSecondsOrDuration("abc");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "cannot parse \"abc\" to a valid duration");
}

TEST(HttpParamsTest, RangeDefaults) {
  auto q = Range(
      {{"query", "{a=\"b\"}"}, {"start", "2024-01-01T00:00:00Z"}, {"end", "2024-01-01T00:10:00Z"}});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->limit, 100u);
  EXPECT_EQ(q->direction, Direction::kBackward);
  EXPECT_EQ(q->step_ns, 2 * kSec);  // floor(600 / 250)
  EXPECT_FALSE(q->instant);
  auto small = Range({{"start", "2024-01-01T00:00:00Z"}, {"end", "2024-01-01T00:01:00Z"}});
  EXPECT_EQ(small->step_ns, kSec);  // at least 1s
  auto since = Range({{"since", "5m"}, {"end", "2024-01-01T00:10:00Z"}}, kT0 + 3600 * kSec);
  EXPECT_EQ(since->start_ns, kT0 + 300 * kSec);
}

TEST(HttpParamsTest, RangeErrors) {
  Params base{{"start", "2024-01-01T00:00:00Z"}, {"end", "2024-01-01T02:00:00Z"}};
  auto with = [&](std::string k, std::string v) {
    Params p = base;
    p[k] = v;
    return Range(p);
  };
  EXPECT_EQ(with("step", "0.5").status().message(),
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
            "query resolution (?step=XX)");
  EXPECT_TRUE(with("step", "1").ok());
  EXPECT_EQ(with("limit", "0").status().message(), "limit must be a positive value");
  EXPECT_EQ(with("direction", "sideways").status().message(), "invalid direction 'sideways'");
  EXPECT_EQ(with("direction", "FORWARD")->direction, Direction::kForward);
  EXPECT_FALSE(with("start", "2024-01-01T03:00:00Z").ok());
  EXPECT_FALSE(with("step", "-5").ok());
}

TEST(HttpParamsTest, Instant) {
  auto q = Instant({{"query", "vector(1)"},
                    {"time", "1704069030000000000"},
                    {"limit", "7"},
                    {"direction", "forward"}});
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->instant);
  EXPECT_EQ(q->end_ns, kT0 + 1830 * kSec);
  EXPECT_EQ(q->start_ns, q->end_ns);
  EXPECT_EQ(q->limit, 7u);
  EXPECT_EQ(Instant({})->end_ns, kT0);
  EXPECT_FALSE(Instant({{"time", "noon"}}).ok());
}

}  // namespace
}  // namespace norn::logql_engine
