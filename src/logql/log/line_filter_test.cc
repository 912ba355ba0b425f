#include "logql/log/line_filter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include <re2/re2.h>

#include "logql/log/ip.h"
#include "logql/log/pattern.h"
#include "logql/log/regex_literals.h"
#include "logql/log/substring.h"

namespace norn::logql_log {
namespace {

bool Match(LineMatchType t, std::string_view m, std::string_view line) {
  auto f = NewLineFilter(t, m);
  EXPECT_TRUE(f.ok()) << f.status();
  return (*f)->Matches(line);
}

TEST(SubstringTest, AgreesWithStdFindOnRandomInput) {
  std::mt19937 rng(7);
  const std::string alphabet = "abcAB \xc3\xa9xyz";
  for (int iter = 0; iter < 3000; ++iter) {
    std::string hay, needle;
    int hl = rng() % 300, nl = 1 + rng() % 12;
    for (int i = 0; i < hl; ++i) hay.push_back(alphabet[rng() % alphabet.size()]);
    for (int i = 0; i < nl; ++i) needle.push_back(alphabet[rng() % alphabet.size()]);
    Substring s(needle);
    EXPECT_EQ(s.Find(hay), hay.find(needle)) << hay << " / " << needle;
    // Case-insensitive: compare with lower-cased std::find.
    std::string lh = hay, ln = needle;
    for (char& c : lh) c = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    for (char& c : ln) c = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    Substring ci(needle, true);
    EXPECT_EQ(ci.Find(hay), lh.find(ln)) << hay << " / " << needle;
  }
}

TEST(SubstringTest, EdgeCases) {
  EXPECT_EQ(Substring("").Find("abc"), 0u);
  EXPECT_EQ(Substring("abc").Find(""), std::string_view::npos);
  std::string big(1000, 'x');
  big += "needle";
  EXPECT_EQ(Substring("needle").Find(big), 1000u);
  EXPECT_EQ(Substring("x").Find(big), 0u);
  EXPECT_EQ(Substring("needlex").Find(big), std::string_view::npos);
}

TEST(LineFilterTest, ContainsTable) {
  struct Case {
    LineMatchType t;
    std::string m, line;
    bool want;
  } cases[] = {
      {LineMatchType::kContains, "POST", "GET /a POST", true},
      {LineMatchType::kContains, "post", "GET /a POST", false},
      {LineMatchType::kContains, "", "anything", true},
      {LineMatchType::kContains, "", "", true},
      {LineMatchType::kNotContains, "", "anything", false},  // Loki: != "" drops all
      {LineMatchType::kNotContains, "x", "abc", true},
      {LineMatchType::kContains, "für Kunde", "Bestellung für Kunde 42", true},
      {LineMatchType::kContains, "🚀", "launch 🚀 now", true},
      {LineMatchType::kContains, "\tat com.example", "Exception\n\tat com.example.A", true},
      {LineMatchType::kContains, "\x1b[1;31mERROR", "\x1b[1;31mERROR\x1b[0m boom", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Match(c.t, c.m, c.line), c.want) << c.m << " on " << c.line;
  }
}

TEST(LineFilterTest, RegexTable) {
  struct Case {
    std::string re, line;
    bool want;
  } cases[] = {
      {"HTTP/1.1\" 5\\d\\d", "\"GET / HTTP/1.1\" 503 12", true},
      {"HTTP/1.1\" 5\\d\\d", "\"GET / HTTP/1.1\" 200 12", false},
      {"(?i)error", "an ERROR happened", true},
      {"(?i)error", "eerror", true},  // regex semantics, not Loki 3's containsLower bug
      {"(?i)error", "all good", false},
      {"(?i)kelvin", "\xe2\x84\xaa" "elvin", true},  // K (Kelvin sign) folds to k
      {"(?m)^java\\.lang\\.IllegalStateException", "x\njava.lang.IllegalStateException: y",
       true},
      {"^java\\.lang", "x\njava.lang.X", false},
      {"unhandled exception.*queue closed", "unhandled exception\nqueue closed", false},
      {"unhandled exception.*queue closed", "unhandled exception: queue closed", true},
      {"\\x1b\\[33m", "\x1b[33mWARN", true},
      {"task=(restore|compact) status=failed", "task=compact status=failed", true},
      {"task=(restore|compact) status=failed", "task=backup status=failed", false},
      {"foo|bar", "xxbarxx", true},
      {"foo|bar", "xxbaxx", false},
      {"a+b", "caab", true},
      {"ab?c", "ac", true},
      {"ab*c", "ac", true},
      {"ab{0,2}c", "ac", true},
      {"a{2}b", "aab", true},
      {"a\\.b", "a.b", true},
      {"a\\.b", "axb", false},
      {".*", "", true},
      {".+", "", false},
      {".+", "\n", true},  // Loki's ExistsFilter simplification
      {"\\Qa.b\\E", "a.b", true},
      {"\\Qa.b\\E", "axb", false},
      {"status=5\\d\\d", "level=error status=503", true},
      {"[a-c]x", "bx", true},
      {"(?i)DÉJÀ", "déjà vu", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Match(LineMatchType::kRegex, c.re, c.line), c.want) << c.re << " on " << c.line;
    EXPECT_EQ(Match(LineMatchType::kNotRegex, c.re, c.line), !c.want) << c.re;
  }
  EXPECT_FALSE(NewLineFilter(LineMatchType::kRegex, "(unclosed").ok());
}

TEST(LineFilterTest, OrChains) {
  auto f = NewLineFilterOr(LineMatchType::kContains, {"a1", "b2"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE((*f)->Matches("xx b2"));
  EXPECT_FALSE((*f)->Matches("xx"));
  auto nf = NewLineFilterOr(LineMatchType::kNotContains, {"a1", "b2"});
  ASSERT_TRUE(nf.ok());
  EXPECT_FALSE((*nf)->Matches("xx b2"));
  EXPECT_TRUE((*nf)->Matches("xx"));
  auto rf = NewLineFilterOr(LineMatchType::kRegex, {"^a", "z$"});
  ASSERT_TRUE(rf.ok());
  EXPECT_TRUE((*rf)->Matches("abc"));
  EXPECT_TRUE((*rf)->Matches("xyz"));
  EXPECT_FALSE((*rf)->Matches("xyza"));
}

TEST(LineFilterTest, PatternFilter) {
  struct Case {
    std::string p, line;
    bool want;
  } cases[] = {
      {"<_> bar", "foo bar baz", false},
      {"<_> baz", "foo bar baz", true},
      {"foo <_>", "foo bar baz", true},
      {"<_> bar <_>", " bar ", false},
      {"<_>bar<_>", " bar ", true},
      {"<_> \"POST <_>", "1.2.3.4 \"POST /x HTTP/1.1\"", true},
      {"<_> \"POST <_>", "1.2.3.4 \"GET /x HTTP/1.1\"", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Match(LineMatchType::kPattern, c.p, c.line), c.want) << c.p << " on " << c.line;
    EXPECT_EQ(Match(LineMatchType::kNotPattern, c.p, c.line), !c.want);
  }
}

TEST(LineFilterTest, IpFilter) {
  struct Case {
    std::string pattern, line;
    bool want;
  } cases[] = {
      {"10.0.0.0/8", "SRC=10.1.2.3 DST=192.168.0.1", true},
      {"10.0.0.0/8", "SRC=11.1.2.3 DST=192.168.0.1", false},
      {"192.168.0.1", "from 192.168.0.1:443", true},
      {"192.168.0.1", "from 192.168.0.10", false},
      {"203.0.113.0-203.0.113.100", "203.0.113.5 - - [x]", true},
      {"203.0.113.0-203.0.113.100", "203.0.113.200 - - [x]", false},
      {"2001:db8::/32", "SRC=2001:db8:0:1::5 DST=::1", true},
      {"2001:db8::/32", "SRC=2001:db9::5 DST=::1", false},
      {"::1", "addr ::1 end", true},
      {"1.2.3.4", "1.2.3.4", true},
      {"1.2.3.4", "01.2.3.4", false},  // leading zero is not an address
      {"1.2.3.4", "", false},
  };
  for (const auto& c : cases) {
    auto f = NewIpLineFilter(false, c.pattern);
    ASSERT_TRUE(f.ok()) << c.pattern;
    EXPECT_EQ((*f)->Matches(c.line), c.want) << c.pattern << " on " << c.line;
    auto nf = NewIpLineFilter(true, c.pattern);
    EXPECT_EQ((*nf)->Matches(c.line), !c.want);
  }
  auto bad = NewIpLineFilter(false, "not-an-ip");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "ip: invalid pattern: \"not-an-ip\"");
}

TEST(RegexLiteralsTest, Analysis) {
  auto i1 = AnalyzeRegex("HTTP/1.1\" 5\\d\\d");
  ASSERT_EQ(i1.branches.size(), 1u);
  EXPECT_EQ(i1.branches[0].literal, "HTTP/1");  // '.' breaks the run
  EXPECT_FALSE(i1.all_pure());
  auto i2 = AnalyzeRegex("(?i)error");
  EXPECT_TRUE(i2.all_pure());
  EXPECT_TRUE(i2.branches[0].case_insensitive);
  auto i3 = AnalyzeRegex("(?i)status");  // 's' folds to non-ASCII: not usable
  EXPECT_FALSE(i3.all_pure());
  EXPECT_EQ(i3.branches[0].literal, "tatu");
  auto i4 = AnalyzeRegex("foo|bar");
  EXPECT_TRUE(i4.all_pure());
  EXPECT_EQ(i4.branches.size(), 2u);
  auto i5 = AnalyzeRegex("abc?d");
  EXPECT_EQ(i5.branches[0].literal, "ab");
  auto i6 = AnalyzeRegex("foo(?i)bar");
  EXPECT_EQ(i6.branches[0].literal, "foo");
  auto i7 = AnalyzeRegex("x(a|b)y");
  EXPECT_FALSE(i7.all_pure());
  // Groups of literal alternatives extend the run into a set.
  using ::testing::UnorderedElementsAre;
  auto i8 = AnalyzeRegex("/api/v1/(orders|cart)/[0-9]+");
  EXPECT_EQ(i8.branches[0].literal, "/api/v1/");
  EXPECT_THAT(i8.branches[0].alternatives,
              UnorderedElementsAre("/api/v1/orders/", "/api/v1/cart/"));
  EXPECT_THAT(AnalyzeRegex("task=(?:restore|compact) status=(ok|failed)").branches[0].alternatives,
              UnorderedElementsAre("task=restore status=ok", "task=restore status=failed",
                                   "task=compact status=ok", "task=compact status=failed"));
  EXPECT_THAT(AnalyzeRegex("ab(c|d)e?").branches[0].alternatives,
              UnorderedElementsAre("abc", "abd"));
  EXPECT_TRUE(AnalyzeRegex("x(a|b)*y").branches[0].alternatives.empty());   // quantified
  EXPECT_TRUE(AnalyzeRegex("x(a|b.)y").branches[0].alternatives.empty());   // not literal
  EXPECT_TRUE(AnalyzeRegex("x(a|(b))y").branches[0].alternatives.empty());  // nested
  EXPECT_TRUE(AnalyzeRegex("(?i)x(a|b)y").branches[0].alternatives.empty());
  EXPECT_TRUE(AnalyzeRegex("x(?P<n>a|b)y").branches[0].alternatives.empty());
  // A set is used only when its shortest literal is longer than the single run.
  EXPECT_FALSE(AnalyzeRegex("abcdefgh(x|y)").branches[0].alternatives.empty());
  EXPECT_TRUE(AnalyzeRegex("abcdefgh.(x|y)").branches[0].alternatives.empty());
}

// Regexes with alternation groups keep RE2's answers while the prefilter skips lines.
TEST(LineFilterTest, AlternativeSetPrefilterAgreesWithRe2) {
  const char* const kRegexes[] = {
      "/api/v1/(orders|cart)/[0-9]+", "a(b|c)d", "x(?:ab|)y", "(a|b)(c|d)e", "q(r|s)?t",
      "z(a\\.b|c)",
  };
  const char kAlphabet[] = "abcdqrstxyz/.01 ";
  std::mt19937 rng(11);
  std::vector<std::string> lines = {"GET /api/v1/cart/17 200", "GET /api/v1/users/1",
                                    "/api/v1/orders/x /api/v1/orders/9", "xy", "xaby", "za.b"};
  for (int i = 0; i < 4000; ++i) {
    std::string l(rng() % 24, ' ');
    for (char& c : l) c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
    lines.push_back(std::move(l));
  }
  for (const char* re : kRegexes) {
    auto f = NewLineFilter(LineMatchType::kRegex, re);
    ASSERT_TRUE(f.ok()) << f.status();
    RE2 plain(re);
    for (const auto& l : lines) {
      ASSERT_EQ((*f)->Matches(l), RE2::PartialMatch(l, plain)) << re << " on \"" << l << "\"";
    }
  }
  // The block-skipping needle stays the common literal.
  auto f = NewLineFilter(LineMatchType::kRegex, "/api/v1/(orders|cart)/[0-9]+");
  std::vector<std::string> required;
  (*f)->CollectRequired(&required);
  EXPECT_EQ(required, std::vector<std::string>{"/api/v1/"});
}

TEST(RequiredSubstringsTest, Chain) {
  std::vector<std::unique_ptr<LineFilter>> fs;
  fs.push_back(*NewLineFilter(LineMatchType::kContains, "POST"));
  fs.push_back(*NewLineFilter(LineMatchType::kNotContains, "health"));
  fs.push_back(*NewLineFilter(LineMatchType::kRegex, "status=5\\d\\d"));
  fs.push_back(*NewLineFilter(LineMatchType::kRegex, "(?i)error"));
  fs.push_back(*NewLineFilterOr(LineMatchType::kContains, {"a", "b"}));
  fs.push_back(*NewLineFilter(LineMatchType::kContains, "POST"));
  auto req = RequiredSubstrings(fs);
  EXPECT_EQ(req, (std::vector<std::string>{"POST", "status=5"}));
}

TEST(IpTest, ParseAddr) {
  EXPECT_TRUE(ParseIpAddr("255.255.255.255").has_value());
  EXPECT_FALSE(ParseIpAddr("256.1.1.1").has_value());
  EXPECT_FALSE(ParseIpAddr("1.2.3").has_value());
  EXPECT_TRUE(ParseIpAddr("::ffff:1.2.3.4").has_value());
  EXPECT_FALSE(ParseIpAddr("::ffff:1.2.3.4").value().is4);
  EXPECT_TRUE(ParseIpAddr("fe80::1").has_value());
  EXPECT_FALSE(ParseIpAddr("1::2::3").has_value());
  EXPECT_FALSE(ParseIpAddr("1:2:3:4:5:6:7:8:9").has_value());
}

}  // namespace
}  // namespace norn::logql_log
