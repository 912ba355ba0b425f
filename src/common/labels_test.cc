#include "common/labels.h"

#include <gtest/gtest.h>

namespace norn {
namespace {

TEST(LabelsTest, SortedStringFormAndLookup) {
  Labels l({{"job", "web"}, {"cluster", "eu"}, {"app", "a\"b\\c\nd"}});
  EXPECT_EQ(l.ToString(), "{app=\"a\\\"b\\\\c\\nd\", cluster=\"eu\", job=\"web\"}");
  EXPECT_EQ(l.Get("job"), "web");
  EXPECT_EQ(l.Get("nope"), "");
  EXPECT_TRUE(l.Has("cluster"));
  EXPECT_FALSE(l.Has("zzz"));
  EXPECT_EQ(Labels().ToString(), "{}");
}

TEST(LabelsTest, HashIsOrderIndependentAndStable) {
  Labels a({{"a", "1"}, {"b", "2"}});
  Labels b({{"b", "2"}, {"a", "1"}});
  EXPECT_EQ(a.Hash(), b.Hash());
  EXPECT_NE(a.Hash(), Labels({{"a", "12"}}).Hash());
  // Pairs cannot run together: {a="b1"} vs {ab="1"}.
  EXPECT_NE(Labels({{"a", "b1"}}).Hash(), Labels({{"ab", "1"}}).Hash());
  // Pinned: fingerprints name objects on disk, so they must never change.
  EXPECT_EQ(Labels({{"job", "web"}}).Hash(), 14682189125673249479ull);
}

// Names are sorted; of equal names the last given wins, for short sets (sorted in place) and
// long ones alike.
TEST(LabelsTest, SortsAndKeepsTheLastOfEqualNames) {
  Labels l({{"b", "1"}, {"a", "1"}, {"b", "2"}, {"c", "1"}, {"a", "2"}, {"b", "3"}});
  EXPECT_EQ(l.ToString(), R"({a="2", b="3", c="1"})");
  EXPECT_EQ(Labels({{"x", "1"}, {"x", "2"}}).ToString(), R"({x="2"})");

  std::vector<Label> many;
  for (int i = 39; i >= 0; --i)
    many.push_back(Label{"n" + std::to_string(i % 20), std::to_string(i)});
  Labels long_set(std::move(many));
  ASSERT_EQ(long_set.size(), 20u);
  EXPECT_EQ(long_set.items().front().name, "n0");
  EXPECT_EQ(long_set.Get("n0"), "0");  // "n0" was given as 20, then 0
  EXPECT_EQ(long_set.Get("n19"), "19");
  for (size_t i = 1; i < long_set.size(); ++i)
    EXPECT_LT(long_set.items()[i - 1].name, long_set.items()[i].name);
}

TEST(ParseLabelsTest, RoundTripsAndEscapes) {
  auto l = ParseLabels(R"({job="web", app="x\"y\n\u00e9", raw=`a\b`})");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->Get("app"), "x\"y\n\xc3\xa9");
  EXPECT_EQ(l->Get("raw"), "a\\b");
  auto again = ParseLabels(l->ToString());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *l);
  EXPECT_TRUE(ParseLabels("{}").ok());
  EXPECT_TRUE(ParseLabels(" { a = \"1\" } ").ok());
}

TEST(ParseLabelsTest, Errors) {
  EXPECT_FALSE(ParseLabels("").ok());
  EXPECT_FALSE(ParseLabels("job=\"x\"").ok());
  EXPECT_FALSE(ParseLabels("{job=x}").ok());
  EXPECT_FALSE(ParseLabels("{job=\"x\"").ok());
  EXPECT_FALSE(ParseLabels("{1job=\"x\"}").ok());
  EXPECT_FALSE(ParseLabels("{job=\"x\" app=\"y\"}").ok());
  EXPECT_FALSE(ParseLabels("{job=\"x\"} extra").ok());
  EXPECT_FALSE(ParseLabels("{job=\"\\q\"}").ok());
  auto dup = ParseLabels("{a=\"1\", a=\"2\"}");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(std::string(dup.status().message()).find("duplicate label name"), std::string::npos);
}

TEST(LabelNameTest, Grammar) {
  EXPECT_TRUE(IsValidLabelName("job"));
  EXPECT_TRUE(IsValidLabelName("_a1"));
  EXPECT_FALSE(IsValidLabelName("1a"));
  EXPECT_FALSE(IsValidLabelName("a-b"));
  EXPECT_FALSE(IsValidLabelName(""));
}

}  // namespace
}  // namespace norn
