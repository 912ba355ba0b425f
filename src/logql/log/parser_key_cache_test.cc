#include "logql/log/parser_key_cache.h"

#include <string>

#include <gtest/gtest.h>

namespace norn::logql_log {
namespace {

TEST(ParserKeyCacheTest, SanitisesAndAsksTheHints) {
  ParserKeyCache cache;
  const ParserHints hints = ParserHints::Only({"status", "a_b_extracted"});
  const auto& status = cache.Get("status", 0, hints);
  EXPECT_EQ(status.name, "status");
  EXPECT_EQ(status.name_ext, "status_extracted");
  EXPECT_TRUE(status.want);
  const auto& ab = cache.Get("a.b", 1, hints);
  EXPECT_EQ(ab.name, "a_b");
  EXPECT_FALSE(ab.want);
  EXPECT_TRUE(ab.want_ext);
  EXPECT_TRUE(ab.wanted());
  const auto& other = cache.Get("level", 2, hints);
  EXPECT_FALSE(other.wanted());
  EXPECT_TRUE(cache.Get("", 3, hints).name.empty());
  EXPECT_EQ(cache.Get("1x", 4, hints).name, "_1x");
}

TEST(ParserKeyCacheTest, KeysInAnotherOrderStillResolve) {
  ParserKeyCache cache;
  const ParserHints hints = ParserHints::Only({"b"});
  // First line: a, b, c. Second line: c, b, a (every position mispredicted), then a key that
  // only exists at a position the first line did not have.
  for (const char* k : {"a", "b", "c"}) cache.Get(k, k[0] - 'a', hints);
  EXPECT_FALSE(cache.Get("c", 0, hints).want);
  EXPECT_TRUE(cache.Get("b", 1, hints).want);
  EXPECT_EQ(cache.Get("a", 2, hints).name, "a");
  EXPECT_EQ(cache.Get("b", 200, hints).name, "b");  // past kMaxPositions: hash only
  EXPECT_TRUE(cache.Get("b", 0, hints).want);
  EXPECT_EQ(cache.Get("c", 0, hints).name, "c");
}

TEST(ParserKeyCacheTest, OtherHintsStartAfresh) {
  ParserKeyCache cache;
  const ParserHints only_a = ParserHints::Only({"a"});
  const ParserHints only_b = ParserHints::Only({"b"});
  EXPECT_TRUE(cache.Get("a", 0, only_a).want);
  EXPECT_FALSE(cache.Get("a", 0, only_b).want);
  EXPECT_TRUE(cache.Get("b", 1, only_b).want);
}

TEST(ParserKeyCacheTest, StaysCorrectWhenFull) {
  ParserKeyCache cache;
  const ParserHints hints = ParserHints::Only({"k7"});
  for (size_t i = 0; i < 3 * ParserKeyCache::kMaxKeys; ++i) {
    const std::string key = "k" + std::to_string(i % (2 * ParserKeyCache::kMaxKeys));
    if (i % 5 == 0) cache.BeginLine();
    const auto& info = cache.Get(key, i % 5, hints);
    ASSERT_EQ(info.name, key);
    ASSERT_EQ(info.want, key == "k7");
  }
}

TEST(ParserKeyCacheTest, NamesStayPutUntilTheNextLine) {
  // Parsers lend the names to the labels builder for the whole entry: inserting more keys
  // (rehashing) must not move them, and only BeginLine may drop them.
  ParserKeyCache cache;
  const ParserHints all;
  cache.BeginLine();
  const std::string* first = &cache.Get("first", 0, all).name;
  const char* first_bytes = first->data();
  for (size_t i = 0; i < 2 * ParserKeyCache::kMaxKeys; ++i) {
    cache.Get("key" + std::to_string(i), i + 1, all);
  }
  EXPECT_EQ(&cache.Get("first", 0, all).name, first);
  EXPECT_EQ(first->data(), first_bytes);
  EXPECT_EQ(*first, "first");
  cache.BeginLine();  // over the bound: cleared now
  EXPECT_EQ(cache.Get("first", 0, all).name, "first");
}

}  // namespace
}  // namespace norn::logql_log
