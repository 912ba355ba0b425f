#include "logql/log/label_filter.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "logql/log/go_conv.h"
#include "logql/log/labels_builder.h"

namespace norn::logql_log {
namespace {

struct Outcome {
  bool keep;
  std::string err;
  std::string details;
};

Outcome Apply(LabelFilter& f, std::initializer_list<std::pair<std::string_view, std::string_view>>
                                  parsed,
              std::string_view pre_err = "") {
  LabelsBuilder b(Labels({{"app", "httpd"}, {"job", "web"}}));
  for (const auto& [n, v] : parsed) b.Set(n, v);
  if (!pre_err.empty()) b.SetErr(pre_err);
  bool keep = f.Test(&b);
  return {keep, std::string(b.GetErr()), std::string(b.GetErrorDetails())};
}

TEST(LabelFilterTest, StringMatchers) {
  auto eq = *NewStringLabelFilter("level", StringMatchType::kEqual, "warn");
  EXPECT_TRUE(Apply(*eq, {{"level", "warn"}}).keep);
  EXPECT_FALSE(Apply(*eq, {{"level", "warning"}}).keep);
  auto empty = *NewStringLabelFilter("user", StringMatchType::kEqual, "");
  EXPECT_TRUE(Apply(*empty, {}).keep);  // absent == ""
  auto re = *NewStringLabelFilter("path", StringMatchType::kRegex, "/(token|session)");
  EXPECT_TRUE(Apply(*re, {{"path", "/token"}}).keep);
  EXPECT_FALSE(Apply(*re, {{"path", "/token/x"}}).keep);  // anchored
  auto nre = *NewStringLabelFilter("path", StringMatchType::kNotRegex, "/tok.*");
  EXPECT_FALSE(Apply(*nre, {{"path", "/token"}}).keep);
  auto stream = *NewStringLabelFilter("app", StringMatchType::kEqual, "httpd");
  EXPECT_TRUE(Apply(*stream, {}).keep);
  auto noerr = *NewStringLabelFilter("__error__", StringMatchType::kEqual, "");
  EXPECT_TRUE(Apply(*noerr, {}).keep);
  EXPECT_FALSE(Apply(*noerr, {}, "JSONParserErr").keep);
  auto num_str = *NewStringLabelFilter("value", StringMatchType::kEqual, "49");
  EXPECT_TRUE(Apply(*num_str, {{"value", "49"}}).keep);
  EXPECT_FALSE(Apply(*num_str, {{"value", "49.0"}}).keep);
  EXPECT_FALSE(NewStringLabelFilter("a", StringMatchType::kRegex, "(").ok());
}

TEST(LabelFilterTest, Numeric) {
  struct Case {
    CompareOp op;
    double v;
    std::string label;
    bool keep;
  } cases[] = {
      {CompareOp::kGreaterEqual, 500, "503", true}, {CompareOp::kGreaterEqual, 500, "499", false},
      {CompareOp::kNotEqual, 200, "200", false},    {CompareOp::kNotEqual, 200, "201", true},
      {CompareOp::kLess, 3, "2.99", true},          {CompareOp::kLessEqual, 19, "19.0", true},
      {CompareOp::kEqual, 1000, "1e3", true},       {CompareOp::kGreater, 495.5, "495.51", true},
      {CompareOp::kGreater, 0, "+Inf", true},       {CompareOp::kGreater, 0, "0x1p-2", true},
  };
  for (const auto& c : cases) {
    auto f = NewNumericLabelFilter("x", c.op, c.v);
    auto o = Apply(*f, {{"x", c.label}});
    EXPECT_EQ(o.keep, c.keep) << c.label;
    EXPECT_EQ(o.err, "");
  }
  auto f = NewNumericLabelFilter("user", CompareOp::kGreater, 5);
  auto o = Apply(*f, {{"user", "bob"}});
  EXPECT_TRUE(o.keep);
  EXPECT_EQ(o.err, "LabelFilterErr");
  EXPECT_EQ(o.details, "strconv.ParseFloat: parsing \"bob\": invalid syntax");
  // Absent label: dropped. Existing error: passes untouched.
  EXPECT_FALSE(Apply(*f, {}).keep);
  o = Apply(*f, {{"user", "1"}}, "JSONParserErr");
  EXPECT_TRUE(o.keep);
  EXPECT_EQ(o.err, "JSONParserErr");
  o = Apply(*f, {{"user", ""}});
  EXPECT_EQ(o.details, "strconv.ParseFloat: parsing \"\": invalid syntax");
}

TEST(LabelFilterTest, DurationAndBytes) {
  auto d = NewDurationLabelFilter("duration", CompareOp::kLessEqual, 500000);  // 500us
  EXPECT_TRUE(Apply(*d, {{"duration", "0.45ms"}}).keep);
  EXPECT_FALSE(Apply(*d, {{"duration", "1.5s"}}).keep);
  EXPECT_TRUE(Apply(*d, {{"duration", "500µs"}}).keep);
  auto o = Apply(*d, {{"duration", "fast"}});
  EXPECT_EQ(o.details, "time: invalid duration \"fast\"");
  auto d2 = NewDurationLabelFilter("duration", CompareOp::kGreaterEqual, 90'000'000'000);
  EXPECT_TRUE(Apply(*d2, {{"duration", "1m30s"}}).keep);
  EXPECT_FALSE(Apply(*d2, {{"duration", "89.9s"}}).keep);

  auto b = NewBytesLabelFilter("bytes", CompareOp::kGreater, 15'000'000);
  EXPECT_TRUE(Apply(*b, {{"bytes", "15.9MB"}}).keep);
  EXPECT_FALSE(Apply(*b, {{"bytes", "14MiB"}}).keep);  // 14680064
  EXPECT_TRUE(Apply(*b, {{"bytes", "15MiB"}}).keep);   // 15728640
  o = Apply(*b, {{"bytes", "12XB"}});
  EXPECT_EQ(o.details, "unhandled size name: xb");
}

TEST(LabelFilterTest, IpAndBinary) {
  auto ip = *NewIpLabelFilter("client_ip", false, "10.0.0.0/8");
  EXPECT_TRUE(Apply(*ip, {{"client_ip", "10.2.3.4"}}).keep);
  EXPECT_FALSE(Apply(*ip, {{"client_ip", "11.2.3.4"}}).keep);
  EXPECT_FALSE(Apply(*ip, {}).keep);
  EXPECT_FALSE(NewIpLabelFilter("x", false, "bad").ok());

  // level="error" or level="warn" and user="dave": left to right, (a or b) and c.
  auto mk = [](std::string n, std::string v) {
    return *NewStringLabelFilter(std::move(n), StringMatchType::kEqual, std::move(v));
  };
  auto f = NewAndLabelFilter(NewOrLabelFilter(mk("level", "error"), mk("level", "warn")),
                             mk("user", "dave"));
  EXPECT_TRUE(Apply(*f, {{"level", "warn"}, {"user", "dave"}}).keep);
  EXPECT_FALSE(Apply(*f, {{"level", "error"}, {"user", "bob"}}).keep);
  EXPECT_FALSE(Apply(*f, {{"level", "info"}, {"user", "dave"}}).keep);
}

TEST(GoConvTest, ParseFloatDecimalsAgreeWithStrtod) {
  // Plain decimals take a fast path (integer / power of ten); it must give strtod's double,
  // bit for bit, at every length around the 15-digit limit of the fast path.
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    if (rng() % 4 == 0)
      s.push_back(rng() % 2 ? '-' : '+');
    const int int_digits = 1 + static_cast<int>(rng() % 17);
    for (int k = 0; k < int_digits; ++k)
      s.push_back(static_cast<char>('0' + rng() % 10));
    if (rng() % 2) {
      s.push_back('.');
      const int frac_digits = 1 + static_cast<int>(rng() % 17);
      for (int k = 0; k < frac_digits; ++k)
        s.push_back(static_cast<char>('0' + rng() % 10));
    }
    double got = 0;
    std::string err;
    ASSERT_TRUE(GoParseFloat(s, &got, &err)) << s;
    const double want = std::strtod(s.c_str(), nullptr);
    ASSERT_EQ(std::memcmp(&got, &want, sizeof(double)), 0) << s << " " << got << " " << want;
  }
  double d = 1;
  std::string err;
  ASSERT_TRUE(GoParseFloat("-0", &d, &err));
  EXPECT_TRUE(std::signbit(d));
  ASSERT_TRUE(GoParseFloat("0.000000000000001", &d, &err));
  EXPECT_EQ(d, 1e-15);
}

TEST(GoConvTest, ParseFloat) {
  double d;
  std::string err;
  EXPECT_TRUE(GoParseFloat("1.5", &d, &err));
  EXPECT_EQ(d, 1.5);
  EXPECT_TRUE(GoParseFloat("-Inf", &d, &err));
  EXPECT_TRUE(GoParseFloat("NaN", &d, &err));
  EXPECT_FALSE(GoParseFloat("+NaN", &d, &err));
  EXPECT_FALSE(GoParseFloat(" 1", &d, &err));
  EXPECT_FALSE(GoParseFloat("1_000", &d, &err));
  EXPECT_FALSE(GoParseFloat("0x10", &d, &err));
  EXPECT_TRUE(GoParseFloat(".5", &d, &err));
  EXPECT_TRUE(GoParseFloat("5.", &d, &err));
  EXPECT_FALSE(GoParseFloat(".", &d, &err));
  EXPECT_FALSE(GoParseFloat("1e400", &d, &err));
  EXPECT_EQ(err, "strconv.ParseFloat: parsing \"1e400\": value out of range");
  EXPECT_TRUE(GoParseFloat("1e-400", &d, &err));
  EXPECT_EQ(d, 0);
}

TEST(GoConvTest, ParseDuration) {
  int64_t ns;
  std::string err;
  EXPECT_TRUE(GoParseDuration("1h2m3.5s", &ns, &err));
  EXPECT_EQ(ns, 3723500000000);
  EXPECT_TRUE(GoParseDuration("-1.5ms", &ns, &err));
  EXPECT_EQ(ns, -1500000);
  EXPECT_TRUE(GoParseDuration("0", &ns, &err));
  EXPECT_TRUE(GoParseDuration("250μs", &ns, &err));
  EXPECT_EQ(ns, 250000);
  EXPECT_FALSE(GoParseDuration("1", &ns, &err));
  EXPECT_EQ(err, "time: missing unit in duration \"1\"");
  EXPECT_FALSE(GoParseDuration("1d", &ns, &err));
  EXPECT_EQ(err, "time: unknown unit \"d\" in duration \"1d\"");
  EXPECT_FALSE(GoParseDuration("", &ns, &err));
  EXPECT_EQ(err, "time: invalid duration \"\"");
}

// The fast path for `<digits>[.<digits>]<unit>` must agree with the general parser, value and
// error, on that form, at its digit limits and on everything else.
TEST(GoConvTest, ParseDurationFastPathAgreesWithGeneralParser) {
  auto same = [](const std::string& s) {
    int64_t fast = 0, general = 0;
    std::string fast_err, general_err;
    const bool fast_ok = GoParseDuration(s, &fast, &fast_err);
    const bool general_ok = internal::GoParseDurationGeneral(s, &general, &general_err);
    EXPECT_EQ(fast_ok, general_ok) << s;
    if (fast_ok && general_ok) {
      EXPECT_EQ(fast, general) << s;
    }
    if (!fast_ok && !general_ok) {
      EXPECT_EQ(fast_err, general_err) << s;
    }
  };
  for (const char* s : {"1.234567s",
                        "0.5ms",
                        "12ms",
                        ".5s",
                        "1.s",
                        ".s",
                        "s",
                        "1",
                        "0",
                        "00",
                        "1h",
                        "2m",
                        "3us",
                        "3\xC2\xB5s",
                        "3\xCE\xBCs",
                        "7ns",
                        "1.5h30m",
                        " 1s",
                        "1s ",
                        "+1s",
                        "-1s",
                        "999999999999999999ns",
                        "9999999999999999999ns",
                        "1.999999999999999999s",
                        "1.9999999999999999999s",
                        "2562047h",
                        "2562048h",
                        "2562047h47m16.854775807s",
                        "9223372036.854775807s",
                        "9223372036.854775808s",
                        "0.000000000000000001h"}) {
    same(s);
  }
  std::mt19937 rng(11);
  const std::vector<std::string> units = {"ns", "us", "\xC2\xB5s", "ms", "s",
                                          "m",  "h",  "",          "d",  "sec"};
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    if (rng() % 10 == 0)
      s += "+-"[rng() % 2];
    const int parts = 1 + (rng() % 6 == 0);
    for (int p = 0; p < parts; ++p) {
      for (int d = rng() % 21; d > 0; --d)
        s += static_cast<char>('0' + rng() % 10);
      if (rng() % 2) {
        s += '.';
        for (int d = rng() % 21; d > 0; --d)
          s += static_cast<char>('0' + rng() % 10);
      }
      s += units[rng() % units.size()];
    }
    same(s);
  }
}

TEST(GoConvTest, ParseBytes) {
  uint64_t b;
  std::string err;
  EXPECT_TRUE(GoParseBytes("10KB", &b, &err));
  EXPECT_EQ(b, 10000u);
  EXPECT_TRUE(GoParseBytes("1MiB", &b, &err));
  EXPECT_EQ(b, 1048576u);
  EXPECT_TRUE(GoParseBytes("990kB", &b, &err));
  EXPECT_EQ(b, 990000u);
  EXPECT_TRUE(GoParseBytes("1,024 b", &b, &err));
  EXPECT_EQ(b, 1024u);
  EXPECT_TRUE(GoParseBytes("42", &b, &err));
  EXPECT_EQ(b, 42u);
  EXPECT_TRUE(GoParseBytes("1.5Ki", &b, &err));
  EXPECT_EQ(b, 1536u);
  EXPECT_FALSE(GoParseBytes("MB", &b, &err));
  EXPECT_EQ(err, "strconv.ParseFloat: parsing \"\": invalid syntax");
}

}  // namespace
}  // namespace norn::logql_log
