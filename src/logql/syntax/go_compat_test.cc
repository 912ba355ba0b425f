#include "logql/syntax/go_compat.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "re2/re2.h"

namespace norn::logql::syntax {
namespace {

TEST(GoQuoteTest, MatchesStrconvQuote) {
  EXPECT_EQ(GoQuote("abc"), "\"abc\"");
  EXPECT_EQ(GoQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(GoQuote("\n\t\r\a\b\f\v"), "\"\\n\\t\\r\\a\\b\\f\\v\"");
  EXPECT_EQ(GoQuote(std::string("\x01\x7f", 2)), "\"\\x01\\x7f\"");
  EXPECT_EQ(GoQuote("für 🚀"), "\"für 🚀\"");
  EXPECT_EQ(GoQuote("\xff"), "\"\\xff\"");            // invalid UTF-8 byte
  EXPECT_EQ(GoQuote("\xc2\x85"), "\"\\u0085\"");      // C1 control
  EXPECT_EQ(GoQuote("\xe2\x80\x8b"), "\"\\u200b\"");  // zero-width space
}

TEST(GoUnquoteTest, DoubleQuoted) {
  EXPECT_EQ(*GoUnquote("\"a\\\"b\""), "a\"b");
  EXPECT_EQ(*GoUnquote("\"\\x1b[1;31m\""), "\x1b[1;31m");
  EXPECT_EQ(*GoUnquote("\"\\101\\u00e9\\U0001F680\""), "Aé🚀");
  EXPECT_EQ(*GoUnquote("\"\\\\d+\""), "\\d+");
  EXPECT_EQ(GoUnquote("\"\\d\"").status().message(), "invalid char escape");
  EXPECT_EQ(GoUnquote("\"\\'\"").status().message(), "invalid char escape");
  EXPECT_EQ(GoUnquote("\"\\400\"").status().message(), "invalid syntax");
  EXPECT_EQ(GoUnquote("\"\\ud800\"").status().message(), "invalid syntax");
  EXPECT_FALSE(GoUnquote("\"a\nb\"").ok());
}

TEST(GoUnquoteTest, Raw) {
  EXPECT_EQ(*GoUnquote("`status=5\\d\\d`"), "status=5\\d\\d");
  EXPECT_EQ(*GoUnquote("`a\r\nb`"), "a\nb");
}

TEST(GoQuoteTest, RoundTrips) {
  for (std::string s : {std::string("plain"), std::string("\x00\x01\xfe\xff", 4),
                        std::string("tab\tquote\"back\\"), std::string("ünï ☃ \xc2\xa0")}) {
    absl::StatusOr<std::string> back = GoUnquote(GoQuote(s));
    ASSERT_TRUE(back.ok()) << s;
    EXPECT_EQ(*back, s);
  }
}

TEST(FormatGoFloatTest, MatchesFmtSprint) {
  EXPECT_EQ(FormatGoFloat(0), "0");
  EXPECT_EQ(FormatGoFloat(2), "2");
  EXPECT_EQ(FormatGoFloat(-1), "-1");
  EXPECT_EQ(FormatGoFloat(0.1), "0.1");
  EXPECT_EQ(FormatGoFloat(100000), "100000");
  EXPECT_EQ(FormatGoFloat(1e6), "1e+06");
  EXPECT_EQ(FormatGoFloat(123456789), "1.23456789e+08");
  EXPECT_EQ(FormatGoFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatGoFloat(0.00001), "1e-05");
  EXPECT_EQ(FormatGoFloat(1.5e-7), "1.5e-07");
  EXPECT_EQ(FormatGoFloat(1e100), "1e+100");
  EXPECT_EQ(FormatGoFloat(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatGoFloat(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(FormatFloatPlainTest, NeverUsesExponent) {
  EXPECT_EQ(FormatFloatPlain(0.99), "0.99");
  EXPECT_EQ(FormatFloatPlain(1e6), "1000000");
  EXPECT_EQ(FormatFloatPlain(1.5e-7), "0.00000015");
  EXPECT_EQ(FormatFloatPlain(-495.5), "-495.5");
}

TEST(ParseGoFloatTest, Decimal) {
  EXPECT_EQ(*ParseGoFloat("12"), 12);
  EXPECT_EQ(*ParseGoFloat("-1.5e3"), -1500);
  EXPECT_EQ(*ParseGoFloat(".5"), 0.5);
  EXPECT_EQ(*ParseGoFloat("1."), 1);
  EXPECT_TRUE(std::isinf(*ParseGoFloat("+Inf")));
  EXPECT_TRUE(std::isnan(*ParseGoFloat("nan")));
  EXPECT_EQ(*ParseGoFloat("1e-400"), 0);
  EXPECT_EQ(ParseGoFloat("1e400").status().message(),
            "strconv.ParseFloat: parsing \"1e400\": value out of range");
  EXPECT_EQ(ParseGoFloat("0x1F").status().message(),
            "strconv.ParseFloat: parsing \"0x1F\": invalid syntax");
  EXPECT_FALSE(ParseGoFloat("").ok());
  EXPECT_FALSE(ParseGoFloat("1e").ok());
}

constexpr int64_t kSec = 1000000000;

TEST(DurationTest, Prometheus) {
  EXPECT_EQ(*ParsePromDuration("5m"), 300 * kSec);
  EXPECT_EQ(*ParsePromDuration("1h30m"), 5400 * kSec);
  EXPECT_EQ(*ParsePromDuration("1d"), 86400 * kSec);
  EXPECT_EQ(*ParsePromDuration("1w2d"), 9 * 86400 * kSec);
  EXPECT_EQ(*ParsePromDuration("1s500ms"), 1500000000);
  EXPECT_EQ(*ParsePromDuration("0"), 0);
  EXPECT_FALSE(ParsePromDuration("").ok());
  EXPECT_FALSE(ParsePromDuration("30m1h").ok());  // wrong order
  EXPECT_FALSE(ParsePromDuration("1.5h").ok());
  EXPECT_FALSE(ParsePromDuration("5").ok());
  EXPECT_EQ(ParsePromDuration("abc").status().message(), "not a valid duration string: \"abc\"");
}

TEST(DurationTest, Go) {
  EXPECT_EQ(*ParseGoDuration("1.5h"), 5400 * kSec);
  EXPECT_EQ(*ParseGoDuration("-2m3s"), -123 * kSec);
  EXPECT_EQ(*ParseGoDuration("500us"), 500000);
  EXPECT_EQ(*ParseGoDuration("300\xc2\xb5s"), 300000);
  EXPECT_EQ(*ParseGoDuration("1h1h"), 7200 * kSec);
  EXPECT_EQ(*ParseGoDuration("0"), 0);
  EXPECT_EQ(*ParseGoDuration(".5s"), kSec / 2);
  EXPECT_FALSE(ParseGoDuration("1d").ok());
  EXPECT_FALSE(ParseGoDuration("1").ok());
  EXPECT_FALSE(ParseGoDuration("-").ok());
  EXPECT_FALSE(ParseGoDuration("s").ok());
}

TEST(DurationTest, Format) {
  EXPECT_EQ(FormatPromDuration(300 * kSec), "5m");
  EXPECT_EQ(FormatPromDuration(5400 * kSec), "1h30m");
  EXPECT_EQ(FormatPromDuration(86400 * kSec), "1d");
  EXPECT_EQ(FormatPromDuration(7 * 86400 * kSec), "1w");
  EXPECT_EQ(FormatPromDuration(0), "0s");
  EXPECT_EQ(FormatGoDuration(3600 * kSec), "1h0m0s");
  EXPECT_EQ(FormatGoDuration(90 * kSec), "1m30s");
  EXPECT_EQ(FormatGoDuration(1500000000), "1.5s");
  EXPECT_EQ(FormatGoDuration(500000000), "500ms");
  EXPECT_EQ(FormatGoDuration(300000), "300\xc2\xb5s");
  EXPECT_EQ(FormatGoDuration(42), "42ns");
  EXPECT_EQ(FormatGoDuration(0), "0s");
  EXPECT_EQ(FormatGoDuration(-300 * kSec), "-5m0s");
  for (int64_t d : {int64_t{1}, int64_t{999}, int64_t{1000}, int64_t{1234567}, 59 * kSec + 1,
                    100 * 3600 * kSec + 7, -42 * kSec}) {
    EXPECT_EQ(*ParseGoDuration(FormatGoDuration(d)), d) << d;
  }
}

TEST(BytesTest, ParseLikeHumanize) {
  EXPECT_EQ(*ParseHumanBytes("15MB"), 15000000u);
  EXPECT_EQ(*ParseHumanBytes("1MiB"), 1048576u);
  EXPECT_EQ(*ParseHumanBytes("990KB"), 990000u);
  EXPECT_EQ(*ParseHumanBytes("990kB"), 990000u);
  EXPECT_EQ(*ParseHumanBytes("1.5GB"), 1500000000u);
  EXPECT_EQ(*ParseHumanBytes("5 b"), 5u);
  EXPECT_EQ(*ParseHumanBytes("42"), 42u);
  EXPECT_EQ(*ParseHumanBytes("1,000kB"), 1000000u);
  EXPECT_FALSE(ParseHumanBytes("1XB").ok());
  EXPECT_FALSE(ParseHumanBytes("MB").ok());
}

TEST(BytesTest, LiteralRoundTrips) {
  EXPECT_EQ(FormatBytesLiteral(15000000), "15MB");
  EXPECT_EQ(FormatBytesLiteral(1500), "1.5kB");
  EXPECT_EQ(FormatBytesLiteral(5), "5B");
  EXPECT_EQ(FormatBytesLiteral(0), "0kB");
  EXPECT_EQ(FormatBytesLiteral(1048576), "1048576B");
  for (uint64_t v : {uint64_t{0}, uint64_t{9}, uint64_t{10}, uint64_t{999}, uint64_t{1024},
                     uint64_t{123456789}, uint64_t{1} << 60}) {
    EXPECT_EQ(*ParseHumanBytes(FormatBytesLiteral(v)), v) << v;
  }
}

TEST(RegexTest, GoSyntaxAndErrors) {
  auto re = CompileGoRegex("(?P<a>\\d+)-(?<b>\\w+)");
  ASSERT_TRUE(re.ok()) << re.status();
  EXPECT_EQ((*re)->NamedCapturingGroups().size(), 2u);
  EXPECT_EQ(CompileGoRegex("(").status().message(), "error parsing regexp: missing closing ): `(`");
  EXPECT_EQ(CompileGoRegex("a)|(b", true).status().message(),
            "error parsing regexp: unexpected ): `a)|(b`");
  EXPECT_EQ(CompileGoRegex("[a").status().message(),
            "error parsing regexp: missing closing ]: `[a`");
  auto dot = CompileGoRegex("a.b", true);
  ASSERT_TRUE(dot.ok());
  EXPECT_TRUE(re2::RE2::FullMatch("a\nb", **dot));
  // A `(?<` inside a character class is left alone.
  EXPECT_TRUE(CompileGoRegex("[(?<]x").ok());
}

}  // namespace
}  // namespace norn::logql::syntax
