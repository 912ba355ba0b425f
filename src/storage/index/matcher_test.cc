#include "storage/index/matcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace norn::index {
namespace {

using ::testing::ElementsAre;

TEST(MatcherTest, EqualityAndInequality) {
  Matcher eq = Matcher::Eq("a", "x");
  EXPECT_TRUE(eq.Matches("x"));
  EXPECT_FALSE(eq.Matches("xy"));
  EXPECT_FALSE(eq.Matches(""));
  Matcher neq = Matcher::Neq("a", "x");
  EXPECT_FALSE(neq.Matches("x"));
  EXPECT_TRUE(neq.Matches(""));
  EXPECT_TRUE(Matcher::Eq("a", "").Matches(""));
  EXPECT_FALSE(Matcher::Neq("a", "").Matches(""));
}

TEST(MatcherTest, RegexIsFullyAnchored) {
  Matcher re = Matcher::Re("a", "fo+");
  EXPECT_TRUE(re.Matches("foo"));
  EXPECT_FALSE(re.Matches("xfoo"));
  EXPECT_FALSE(re.Matches("foox"));
  EXPECT_EQ(re.literals(), nullptr);
  Matcher alt = Matcher::Re("a", "b|c.*");  // anchoring applies to the whole alternation
  EXPECT_TRUE(alt.Matches("b"));
  EXPECT_TRUE(alt.Matches("cz"));
  EXPECT_FALSE(alt.Matches("bz"));
  Matcher nre = Matcher::Nre("a", "fo+");
  EXPECT_FALSE(nre.Matches("foo"));
  EXPECT_TRUE(nre.Matches(""));
}

TEST(MatcherTest, LiteralAlternationFastPath) {
  Matcher m = Matcher::Re("a", "c|a|b|a");
  ASSERT_NE(m.literals(), nullptr);
  EXPECT_THAT(*m.literals(), ElementsAre("a", "b", "c"));
  EXPECT_TRUE(m.Matches("b"));
  EXPECT_FALSE(m.Matches("ab"));
  EXPECT_FALSE(m.Matches(""));

  Matcher esc = Matcher::Re("a", R"(api\.v1|x\-y)");
  ASSERT_NE(esc.literals(), nullptr);
  EXPECT_THAT(*esc.literals(), ElementsAre("api.v1", "x-y"));
  EXPECT_FALSE(esc.Matches("apixv1"));

  Matcher with_empty = Matcher::Re("a", "x|");
  ASSERT_NE(with_empty.literals(), nullptr);
  EXPECT_TRUE(with_empty.Matches(""));

  EXPECT_EQ(Matcher::Re("a", R"(\d+)").literals(), nullptr);
  EXPECT_EQ(Matcher::Re("a", "(?i)abc").literals(), nullptr);
  EXPECT_EQ(Matcher::Re("a", "a.c").literals(), nullptr);
}

TEST(MatcherTest, DotStarShortcutsAgreeWithRe2) {
  Matcher any = Matcher::Re("a", ".*");
  EXPECT_TRUE(any.Matches(""));
  EXPECT_TRUE(any.Matches("abc"));
  EXPECT_FALSE(any.Matches("a\nb"));  // `.` does not match newline, as in Go
  Matcher some = Matcher::Re("a", ".+");
  EXPECT_FALSE(some.Matches(""));
  EXPECT_TRUE(some.Matches("x"));
  EXPECT_TRUE(Matcher::Nre("a", ".+").Matches(""));
  EXPECT_FALSE(Matcher::Nre("a", ".*").Matches("anything"));
}

TEST(MatcherTest, InvalidRegexIsInvalidArgument) {
  auto m = Matcher::Create(Matcher::Type::kRe, "a", "(unclosed");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(m.status().message()), ::testing::StartsWith("error parsing regexp"));
}

TEST(MatcherTest, ToString) {
  EXPECT_EQ(Matcher::Nre("app", "a\"b").ToString(), R"(app!~"a\"b")");
  EXPECT_EQ(Matcher::Eq("app", "x").ToString(), R"(app="x")");
}

}  // namespace
}  // namespace norn::index
