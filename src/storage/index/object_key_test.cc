#include "storage/index/object_key.h"

#include <gtest/gtest.h>

#include "storage/index/types.h"

namespace norn::index {
namespace {

TEST(ObjectKeyTest, ChunkKeyFormatAndRoundTrip) {
  const int64_t from = 1704067200000000000;  // 2024-01-01T00:00:00Z
  const int64_t through = from + 3600000000000;
  std::string key = ChunkObjectKey("fake", 0x00ab00cd00ef0012, from, through, 0x0000beef);
  EXPECT_EQ(key, "fake/chunks/00ab00cd00ef0012/17a6101701650000-17a6135d321da000-0000beef");
  auto parsed = ParseChunkObjectKey(key);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, (ChunkKey{"fake", 0x00ab00cd00ef0012, from, through, 0x0000beef}));
}

TEST(ObjectKeyTest, ChunkKeyEdgeValuesRoundTrip) {
  for (int64_t t : {int64_t{0}, int64_t{1}, int64_t{-1}, kMaxTime, kMinTime}) {
    std::string key = ChunkObjectKey("t-1", ~uint64_t{0}, t, t, 0xffffffff);
    auto parsed = ParseChunkObjectKey(key);
    ASSERT_TRUE(parsed.ok()) << key;
    EXPECT_EQ(parsed->from_ns, t);
    EXPECT_EQ(parsed->through_ns, t);
    EXPECT_EQ(ChunkObjectKey(parsed->tenant, parsed->fingerprint, parsed->from_ns,
                             parsed->through_ns, parsed->checksum),
              key);
  }
}

TEST(ObjectKeyTest, ChunkKeyRejectsMalformed) {
  for (const char* bad : {
           "",
           "fake/chunks/00ab00cd00ef0012/1-2",             // missing checksum
           "fake/chunks/ab00cd00ef0012/1-2-0000beef",      // short fingerprint
           "fake/chunks/00AB00CD00EF0012/1-2-0000beef",    // uppercase
           "fake/chunks/00ab00cd00ef0012/01-2-0000beef",   // not canonical
           "fake/chunks/00ab00cd00ef0012/1-2-beef",        // short checksum
           "fake/chunk/00ab00cd00ef0012/1-2-0000beef",     // wrong directory
           "/chunks/00ab00cd00ef0012/1-2-0000beef",        // no tenant
           "fake/chunks/00ab00cd00ef0012/1-2-0000beef-1",  // extra part
           "fake/chunks/00ab00cd00ef0012/1-x-0000beef",    // not hex
       }) {
    EXPECT_EQ(ParseChunkObjectKey(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ObjectKeyTest, PeriodsAreFloorOfDays) {
  const int64_t t = 1704067200000000000;  // 2024-01-01T00:00:00Z = day 19723
  EXPECT_EQ(PeriodNumber(t), 19723);
  EXPECT_EQ(PeriodNumber(t - 1), 19722);
  EXPECT_EQ(PeriodNumber(t + kPeriodNs - 1), 19723);
  EXPECT_EQ(PeriodNumber(0), 0);
  EXPECT_EQ(PeriodNumber(-1), -1);
  EXPECT_EQ(PeriodStartNs(19723), t);
}

TEST(ObjectKeyTest, IndexKeyFormatAndRoundTrip) {
  std::string key = IndexObjectKey(19723, "fake", "ingester-1-1704067200.nidx");
  EXPECT_EQ(key, "index/index_19723/fake/ingester-1-1704067200.nidx");
  auto parsed = ParseIndexObjectKey(key);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, (IndexKey{19723, "fake", "ingester-1-1704067200.nidx"}));
  EXPECT_EQ(IndexObjectKey(5, "t", "f", "norn_"), "index/norn_5/t/f");
  EXPECT_TRUE(ParseIndexObjectKey("index/norn_5/t/f", "norn_").ok());
  EXPECT_FALSE(ParseIndexObjectKey("index/norn_5/t/f").ok());
  EXPECT_FALSE(ParseIndexObjectKey("index/index_x/t/f").ok());
  EXPECT_FALSE(ParseIndexObjectKey("index/index_5/t").ok());
  EXPECT_FALSE(ParseIndexObjectKey("index/index_05/t/f").ok());
}

}  // namespace
}  // namespace norn::index
