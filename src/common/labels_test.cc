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
