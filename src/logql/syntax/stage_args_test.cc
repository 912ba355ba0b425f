#include "logql/syntax/stage_args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace norn::logql::syntax {
namespace {

IpAddr V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddr x;
  x.v4 = true;
  x.bytes[0] = a, x.bytes[1] = b, x.bytes[2] = c, x.bytes[3] = d;
  return x;
}

TEST(IpTest, ParseAddr) {
  EXPECT_EQ(ParseIpAddr("192.168.0.1"), V4(192, 168, 0, 1));
  EXPECT_FALSE(ParseIpAddr("192.168.00.1"));  // leading zero
  EXPECT_FALSE(ParseIpAddr("256.1.1.1"));
  EXPECT_FALSE(ParseIpAddr("1.2.3"));
  EXPECT_FALSE(ParseIpAddr("1.2.3.4.5"));
  auto v6 = ParseIpAddr("2001:db8::1");
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->v4);
  EXPECT_EQ(v6->bytes[0], 0x20);
  EXPECT_EQ(v6->bytes[15], 1);
  EXPECT_TRUE(ParseIpAddr("::ffff:10.0.0.1"));
  EXPECT_FALSE(ParseIpAddr("not-an-ip"));
}

TEST(IpTest, Patterns) {
  auto cidr = ParseIpPattern("10.0.0.0/8");
  ASSERT_TRUE(cidr.ok());
  EXPECT_EQ(cidr->kind, IpPattern::Kind::kCidr);
  EXPECT_TRUE(cidr->Contains(V4(10, 255, 1, 2)));
  EXPECT_FALSE(cidr->Contains(V4(11, 0, 0, 0)));
  EXPECT_FALSE(cidr->Contains(*ParseIpAddr("::ffff:10.0.0.1")));  // other family

  auto unmasked = ParseIpPattern("192.168.1.7/16");
  ASSERT_TRUE(unmasked.ok());
  EXPECT_TRUE(unmasked->Contains(V4(192, 168, 200, 1)));

  auto range = ParseIpPattern("203.0.113.0-203.0.113.100");
  ASSERT_TRUE(range.ok());
  EXPECT_TRUE(range->Contains(V4(203, 0, 113, 100)));
  EXPECT_FALSE(range->Contains(V4(203, 0, 113, 101)));

  auto v6 = ParseIpPattern("2001:db8::/32");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->Contains(*ParseIpAddr("2001:db8:ffff::1")));
  EXPECT_FALSE(v6->Contains(*ParseIpAddr("2001:db9::1")));

  auto single = ParseIpPattern("::1");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->kind, IpPattern::Kind::kAddr);

  EXPECT_EQ(ParseIpPattern("not-an-ip").status().message(), "ip: invalid pattern: \"not-an-ip\"");
  EXPECT_FALSE(ParseIpPattern("10.0.0.0/33").ok());
  EXPECT_FALSE(ParseIpPattern("10.0.0.9-10.0.0.1").ok());  // reversed range
  EXPECT_FALSE(ParseIpPattern("10.0.0.1-::1").ok());       // mixed families
}

TEST(PatternTest, Parses) {
  auto nodes = ParsePattern("<ip> - <_> \"<method> <path>\"");
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  std::vector<PatternNode> want = {{true, "ip"},     {false, " - "}, {true, "_"},    {false, " \""},
                                   {true, "method"}, {false, " "},   {true, "path"}, {false, "\""}};
  EXPECT_EQ(*nodes, want);
  // `<1a>` and `<a-b>` are not captures.
  auto lit = ParsePattern("<1a> <a-b> <x>");
  ASSERT_TRUE(lit.ok());
  EXPECT_EQ(lit->size(), 2u);
  EXPECT_EQ((*lit)[0].text, "<1a> <a-b> ");
}

TEST(PatternTest, Errors) {
  EXPECT_EQ(ParsePattern("<a><b>").status().message(),
            "found consecutive capture '<a><b>': invalid expression");
  EXPECT_EQ(ParsePattern("plain text").status().message(), "at least one capture is required");
  EXPECT_EQ(ParsePattern("<_> x <_>").status().message(), "at least one capture is required");
  EXPECT_EQ(ParsePattern("<a> <a>").status().message(),
            "duplicate capture name (a): invalid expression");
  EXPECT_FALSE(ParsePattern("").ok());
}

TEST(JsonPathTest, Parses) {
  using E = JsonPathElem;
  EXPECT_EQ(*ParseJsonPath("a.b"), (std::vector<E>{{false, "a", 0}, {false, "b", 0}}));
  EXPECT_EQ(*ParseJsonPath("tags[0]"), (std::vector<E>{{false, "tags", 0}, {true, "", 0}}));
  EXPECT_EQ(
      *ParseJsonPath("request.headers[\"User-Agent\"]"),
      (std::vector<E>{{false, "request", 0}, {false, "headers", 0}, {false, "User-Agent", 0}}));
  EXPECT_EQ(*ParseJsonPath("[\"a b\"][2]"), (std::vector<E>{{false, "a b", 0}, {true, "", 2}}));
  EXPECT_FALSE(ParseJsonPath("").ok());
  EXPECT_FALSE(ParseJsonPath("a..b").ok());
  EXPECT_FALSE(ParseJsonPath("a[1.5]").ok());
  EXPECT_FALSE(ParseJsonPath("a.").ok());
  EXPECT_FALSE(ParseJsonPath("a-b").ok());
}

}  // namespace
}  // namespace norn::logql::syntax
