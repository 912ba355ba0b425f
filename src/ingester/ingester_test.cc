#include "ingester/ingester.h"

#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "common/test_dir.h"
#include "storage/index/index_reader.h"
#include "storage/index/object_key.h"
#include "storage/objstore/fault_injection.h"
#include "storage/objstore/filesystem.h"

namespace norn::ingester {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1704067200 * kSec;  // 2024-01-01T00:00:00Z

class IngesterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fsclient = objstore::FilesystemObjectClient::Open((dir_ / "store").string());
    ASSERT_TRUE(fsclient.ok());
    store_ = std::make_shared<objstore::FaultInjectingObjectClient>(std::move(*fsclient));
    limits_ = std::make_shared<config::TenantLimits>();
    options_.wal_dir = (dir_ / "wal").string();
    options_.flush_check_period = absl::Hours(1);  // Sweeps only when the test asks.
    options_.flush_backoff = absl::Milliseconds(1);
  }
  void TearDown() override { ing_.reset(); }

  void StartIngester() {
    ing_ = std::make_unique<Ingester>(options_, store_,
                                      [this](std::string_view) { return limits_; });
    ASSERT_TRUE(ing_->Start().ok());
  }

  absl::Status PushLines(std::string_view tenant, const Labels& labels,
                         const std::vector<std::pair<int64_t, std::string>>& lines) {
    std::vector<wal::EntryView> views;
    for (const auto& [ts, line] : lines) views.push_back(wal::EntryView{ts, line, {}});
    StreamBatch batch{&labels, labels.Hash(), views, {}};
    return ing_->Push(tenant, std::span<const StreamBatch>(&batch, 1));
  }

  // 40 slowly filling streams of tenant "t": 12 rounds of 10 ~80-byte lines each (~10 KB per
  // stream, far below a block). Round `replay_round` pushes every batch twice, as a client
  // retrying would. Returns what must be stored, as MemoryEntries lists it.
  std::vector<std::string> PushSlowStreams(int replay_round = -1) {
    std::vector<std::string> want;
    for (int round = 0; round < 12; ++round) {
      for (int s = 0; s < 40; ++s) {
        Labels labels({{"job", "j" + std::to_string(s)}});
        std::vector<std::pair<int64_t, std::string>> lines;
        for (int i = 0; i < 10; ++i) {
          const int n = round * 10 + i;
          lines.emplace_back(kT0 + n * kSec, "stream " + std::to_string(s) + " entry " +
                                                 std::to_string(n) + " status=200 path=/api/v1/" +
                                                 std::to_string(n % 7) + " " +
                                                 std::string(40, 'x'));
          want.push_back(labels.ToString() + " " + std::to_string(lines.back().first) + " " +
                         lines.back().second);
        }
        EXPECT_TRUE(PushLines("t", labels, lines).ok());
        if (round == replay_round) {
          EXPECT_TRUE(PushLines("t", labels, lines).ok());
        }
      }
    }
    std::sort(want.begin(), want.end());
    return want;
  }

  // Every entry the ingester holds for `tenant`, as "labels ts line", sorted.
  std::vector<std::string> MemoryEntries(std::string_view tenant) {
    std::vector<std::string> out;
    ing_->ForEachStream(tenant, [&](Stream& s) {
      for (auto& d : s.chunks) {
        auto it = d.chunk->Iterator(INT64_MIN, INT64_MAX, chunk::Direction::kForward);
        while (it->Next()) {
          out.push_back(s.labels_text() + " " + std::to_string(it->entry().timestamp_ns) + " " +
                        std::string(it->entry().line));
        }
      }
    });
    std::sort(out.begin(), out.end());
    return out;
  }

  // Every entry in the store, found through the index files (what the querier will do).
  std::vector<std::string> StoreEntries(std::string_view tenant) {
    std::vector<std::string> out;
    auto listing = store_->List("index/", "");
    EXPECT_TRUE(listing.ok());
    std::set<std::string> seen_chunks;
    for (const auto& obj : listing->objects) {
      auto key = index::ParseIndexObjectKey(obj.key);
      if (!key.ok() || key->tenant != tenant) continue;
      auto bytes = store_->Get(obj.key);
      EXPECT_TRUE(bytes.ok());
      auto reader = index::IndexReader::FromBytes(*bytes);
      EXPECT_TRUE(reader.ok()) << reader.status();
      auto series = (*reader)->ChunkRefs({}, index::kMinTime, index::kMaxTime);
      EXPECT_TRUE(series.ok());
      for (const auto& sc : *series) {
        for (const auto& ref : sc.chunks) {
          std::string ck = index::ChunkObjectKey(tenant, sc.fingerprint, ref.from_ns,
                                                 ref.through_ns, ref.checksum);
          if (!seen_chunks.insert(ck).second) continue;
          auto data = store_->Get(ck);
          EXPECT_TRUE(data.ok()) << ck;
          auto c = chunk::MemChunk::Decode(*data);
          EXPECT_TRUE(c.ok());
          auto it = (*c)->Iterator(INT64_MIN, INT64_MAX, chunk::Direction::kForward);
          while (it->Next()) {
            out.push_back(sc.labels.ToString() + " " + std::to_string(it->entry().timestamp_ns) +
                          " " + std::string(it->entry().line));
          }
        }
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  TestDir dir_{"norn-ingester"};
  std::shared_ptr<objstore::FaultInjectingObjectClient> store_;
  std::shared_ptr<config::TenantLimits> limits_;
  IngesterOptions options_;
  std::unique_ptr<Ingester> ing_;
};

TEST_F(IngesterTest, PushStoresEntriesAndDropsExactDuplicates) {
  StartIngester();
  Labels l({{"job", "a"}});
  ASSERT_TRUE(PushLines("t", l, {{kT0, "one"}, {kT0 + 1, "two"}}).ok());
  ASSERT_TRUE(PushLines("t", l, {{kT0 + 1, "two"}, {kT0 + 2, "three"}}).ok());
  EXPECT_EQ(MemoryEntries("t").size(), 3u);
  EXPECT_TRUE(MemoryEntries("other").empty());  // Tenants are isolated.
}

TEST_F(IngesterTest, OutOfOrderWindowIsHalfTheMaxChunkAge) {
  StartIngester();
  Labels l({{"job", "a"}});
  ASSERT_TRUE(PushLines("t", l, {{kT0 + 3600 * kSec, "newest"}}).ok());
  // One hour behind (the window, max_chunk_age/2 = 1h) is accepted...
  ASSERT_TRUE(PushLines("t", l, {{kT0 + 1, "old but fine"}}).ok());
  // ...further behind is rejected with Loki's message, the rest of the batch kept.
  absl::Status st = PushLines("t", l, {{kT0 - kSec, "too old"}, {kT0 + 2, "fine"}});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("entry with timestamp 2023-12-31T23:59:59Z ignored, reason: 'entry too "
                        "far behind, entry timestamp is: 2023-12-31T23:59:59Z, oldest acceptable "
                        "timestamp is: 2024-01-01T00:00:00Z'"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("user 't', total ignored: 1 out of 2 for stream: {job=\"a\"}"));
  EXPECT_EQ(MemoryEntries("t").size(), 3u);
}

TEST_F(IngesterTest, StreamLimit) {
  limits_->max_global_streams_per_user = 2;
  StartIngester();
  ASSERT_TRUE(PushLines("t", Labels({{"s", "1"}}), {{kT0, "x"}}).ok());
  ASSERT_TRUE(PushLines("t", Labels({{"s", "2"}}), {{kT0, "x"}}).ok());
  absl::Status st = PushLines("t", Labels({{"s", "3"}}), {{kT0, "x"}});
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(st.message()), HasSubstr("Maximum active stream limit exceeded"));
  // Existing streams still accept data; other tenants have their own count.
  EXPECT_TRUE(PushLines("t", Labels({{"s", "1"}}), {{kT0 + 1, "y"}}).ok());
  EXPECT_TRUE(PushLines("u", Labels({{"s", "3"}}), {{kT0, "x"}}).ok());
}

// A stream the distributor knew by its label string comes without parsed labels: the
// ingester parses the string only to create the stream, and then holds the same label set
// (empty values dropped) as a parsed push would have made.
TEST_F(IngesterTest, StreamsKnownByTheirLabelStringAreCreatedFromIt) {
  StartIngester();
  const Labels want({{"app", "a"}, {"pod", "p-1"}});
  const wal::EntryView first[] = {wal::EntryView{kT0, "one", {}}};
  StreamBatch by_text{nullptr, want.Hash(), first, R"({pod="p-1", app="a", team=""})"};
  ASSERT_TRUE(ing_->Push("t", std::span<const StreamBatch>(&by_text, 1)).ok());
  // Once the stream exists its string is not read again.
  const wal::EntryView second[] = {wal::EntryView{kT0 + 1, "two", {}}};
  StreamBatch known{nullptr, want.Hash(), second, "not parsed"};
  ASSERT_TRUE(ing_->Push("t", std::span<const StreamBatch>(&known, 1)).ok());
  EXPECT_THAT(MemoryEntries("t"),
              ::testing::ElementsAre(want.ToString() + " " + std::to_string(kT0) + " one",
                                     want.ToString() + " " + std::to_string(kT0 + 1) + " two"));
}

TEST_F(IngesterTest, PerStreamRateLimit) {
  limits_->per_stream_rate_limit = 100;
  limits_->per_stream_rate_limit_burst = 100;
  StartIngester();
  Labels l({{"job", "a"}});
  EXPECT_TRUE(PushLines("t", l, {{kT0, std::string(90, 'x')}}).ok());
  absl::Status st = PushLines("t", l, {{kT0 + 1, std::string(90, 'y')}});
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(st.message()), HasSubstr("Per stream rate limit exceeded"));
}

TEST_F(IngesterTest, FlushWritesChunksAndIndexThenLeavesMemoryAndWal) {
  StartIngester();
  std::vector<std::pair<int64_t, std::string>> lines;
  for (int i = 0; i < 5000; ++i) lines.emplace_back(kT0 + i * kSec, "line " + std::to_string(i));
  ASSERT_TRUE(PushLines("t", Labels({{"job", "a"}}), lines).ok());
  ASSERT_TRUE(PushLines("t", Labels({{"job", "b"}}), {{kT0, "b0"}}).ok());
  // A chunk crossing midnight lands in both days' indexes.
  ASSERT_TRUE(PushLines("t", Labels({{"job", "c"}}),
                        {{kT0 - kSec, "before midnight"}, {kT0 + kSec, "after"}})
                  .ok());
  auto before = MemoryEntries("t");
  ASSERT_EQ(before.size(), 5003u);
  ASSERT_TRUE(ing_->FlushAll().ok());
  EXPECT_TRUE(MemoryEntries("t").empty());
  EXPECT_EQ(StoreEntries("t"), before);
  EXPECT_GE(ing_->flush_stats().index_files_written, 2u);
  EXPECT_TRUE(store_->List("index/index_19722/t/", "")->objects.size() == 1);
  // The WAL now holds only an empty checkpoint: a restart replays nothing.
  ing_.reset();
  StartIngester();
  EXPECT_TRUE(MemoryEntries("t").empty());
}

TEST_F(IngesterTest, FullChunksFlushEarlyOnceEnoughWait) {
  // Small chunks, an hour between flush checks: only the early flush can store them.
  options_.chunk.block_size = 2048;
  options_.chunk.target_size = 4096;
  options_.early_flush_bytes = 16 * 1024;
  StartIngester();
  std::vector<std::pair<int64_t, std::string>> lines;
  for (int i = 0; i < 4000; ++i) {
    lines.emplace_back(kT0 + i * kSec, "line " + std::to_string(i * 7919 % 100003) + " " +
                                           std::to_string(i * 104729 % 1000003));
  }
  ASSERT_TRUE(PushLines("t", Labels({{"job", "a"}}), lines).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (ing_->flush_stats().chunks_flushed == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GT(ing_->flush_stats().chunks_flushed, 0u);
  EXPECT_GE(ing_->flush_stats().index_files_written, 1u);
  // Whatever is flushed or still in memory, every entry is in exactly one place afterwards.
  ASSERT_TRUE(ing_->FlushAll().ok());
  EXPECT_EQ(StoreEntries("t").size(), lines.size());
}

TEST_F(IngesterTest, WithoutEarlyFlushFullChunksWaitForTheCheck) {
  options_.chunk.block_size = 2048;
  options_.chunk.target_size = 4096;
  options_.early_flush_bytes = 0;
  StartIngester();
  std::vector<std::pair<int64_t, std::string>> lines;
  for (int i = 0; i < 4000; ++i) {
    lines.emplace_back(kT0 + i * kSec, "line " + std::to_string(i * 7919 % 100003));
  }
  ASSERT_TRUE(PushLines("t", Labels({{"job", "a"}}), lines).ok());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(ing_->flush_stats().chunks_flushed, 0u);
}

TEST_F(IngesterTest, HeadCompactionShrinksHeadsWithoutCuttingBlocks) {
  // 40 streams of ~10 KB each over a 64 KiB threshold: pushes compress heads in memory; no
  // block is cut early, nothing is lost, and the chunks are what they would have been.
  options_.head_compaction_threshold = 64 * 1024;
  StartIngester();
  // A replayed push (same entries again) is recognised as duplicates, compacted or not.
  const std::vector<std::string> want = PushSlowStreams(/*replay_round=*/6);
  size_t head_bytes = 0, head_memory = 0, cut_blocks = 0;
  ing_->ForEachStream("t", [&](Stream& s) {
    for (auto& d : s.chunks) {
      head_bytes += d.chunk->HeadBytes();
      head_memory += d.chunk->HeadMemoryBytes();
      cut_blocks += d.chunk->blocks().size();
    }
  });
  EXPECT_EQ(cut_blocks, 0u);
  EXPECT_GT(head_bytes, 380u * 1024);
  EXPECT_LT(head_memory * 2, head_bytes) << head_memory << " of " << head_bytes;
  EXPECT_EQ(MemoryEntries("t"), want);
  ASSERT_TRUE(ing_->FlushAll().ok());
  EXPECT_EQ(StoreEntries("t"), want);
}

TEST_F(IngesterTest, HeadMemoryBudgetCompressesHeadsEarly) {
  // 40 streams of ~10 KB each: over a 64 KiB budget, pushes cut heads of 8 KiB or more into
  // blocks long before the 256 KiB block size. Nothing is lost and the heads stay bounded.
  options_.head_memory_budget = 64 * 1024;
  StartIngester();
  const std::vector<std::string> want = PushSlowStreams();
  size_t head_bytes = 0, cut_blocks = 0;
  ing_->ForEachStream("t", [&](Stream& s) {
    for (auto& d : s.chunks) {
      head_bytes += d.chunk->HeadBytes();
      cut_blocks += d.chunk->blocks().size();
    }
  });
  EXPECT_GT(cut_blocks, 0u);
  EXPECT_LE(head_bytes, 64u * 1024 + 40 * IngesterOptions::kMinPressureCutBytes);
  EXPECT_EQ(MemoryEntries("t"), want);
  ASSERT_TRUE(ing_->FlushAll().ok());
  EXPECT_EQ(StoreEntries("t"), want);
}

TEST_F(IngesterTest, WalReplayRestoresUnflushedEntries) {
  StartIngester();
  ASSERT_TRUE(PushLines("t", Labels({{"job", "a"}}), {{kT0, "a1"}, {kT0 + 1, "a2"}}).ok());
  ASSERT_TRUE(PushLines("u", Labels({{"job", "b"}}), {{kT0, "b1"}}).ok());
  auto t_before = MemoryEntries("t");
  auto u_before = MemoryEntries("u");
  ing_.reset();  // Stop without flushing (flush_on_shutdown is off).
  EXPECT_TRUE(store_->List("", "")->objects.empty());
  StartIngester();
  EXPECT_EQ(MemoryEntries("t"), t_before);
  EXPECT_EQ(MemoryEntries("u"), u_before);
  // Pushes continue after replay, and a second restart replays both.
  ASSERT_TRUE(PushLines("t", Labels({{"job", "a"}}), {{kT0 + 2, "a3"}}).ok());
  ing_.reset();
  StartIngester();
  EXPECT_EQ(MemoryEntries("t").size(), 3u);
}

TEST_F(IngesterTest, CheckpointKeepsUnflushedDataAcrossRestart) {
  StartIngester();
  ASSERT_TRUE(PushLines("t", Labels({{"job", "a"}}), {{kT0, "a1"}}).ok());
  // Flushing fails: data stays in memory and in the WAL (the checkpoint written by the sweep).
  store_->FailWrites(-1);
  EXPECT_FALSE(ing_->FlushAll().ok());
  ASSERT_TRUE(PushLines("t", Labels({{"job", "a"}}), {{kT0 + 1, "a2"}}).ok());
  auto before = MemoryEntries("t");
  ASSERT_EQ(before.size(), 2u);
  ing_.reset();
  store_->Clear();
  StartIngester();
  EXPECT_EQ(MemoryEntries("t"), before);
  // Once the store is back, everything reaches it exactly once.
  ASSERT_TRUE(ing_->FlushAll().ok());
  EXPECT_EQ(StoreEntries("t"), before);
}

TEST_F(IngesterTest, FlushRetriesTransientStoreErrors) {
  StartIngester();
  ASSERT_TRUE(PushLines("t", Labels({{"job", "a"}}), {{kT0, "a1"}}).ok());
  store_->FailWrites(2);  // Two failures, then success within the retry budget.
  ASSERT_TRUE(ing_->FlushAll().ok());
  EXPECT_EQ(StoreEntries("t").size(), 1u);
}

TEST_F(IngesterTest, WalDisabledFlushesOnStop) {
  options_.wal_enabled = false;
  StartIngester();
  ASSERT_TRUE(PushLines("t", Labels({{"job", "a"}}), {{kT0, "a1"}}).ok());
  ing_.reset();
  EXPECT_EQ(StoreEntries("t").size(), 1u);
}

}  // namespace
}  // namespace norn::ingester
