// The querier's entry source over real flushed chunks (ingester flush -> filesystem store ->
// index): answers through the serial and the parallel readers, lines read without their bytes,
// and store failures, which must end a query with an error, not a hang.
#include "querier/entry_source.h"

#include <xxhash.h>

#include <map>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "cache/lru_cache.h"
#include "common/test_dir.h"
#include "indexgateway/store_index_client.h"
#include "ingester/ingester.h"
#include "logql/engine/engine.h"
#include "querier/querier.h"
#include "storage/objstore/fault_injection.h"
#include "storage/objstore/filesystem.h"

namespace norn::querier {
namespace {


constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1704067200 * kSec;  // 2024-01-01T00:00:00Z
constexpr int kStreams = 40;
constexpr int kPerStream = 30;

// A querier over the flushed data in `store`, optionally behind a chunk cache and with an
// ingester's memory.
std::unique_ptr<Querier> StoreQuerier(std::shared_ptr<objstore::ObjectClient> store,
                                      std::shared_ptr<cache::Cache> chunk_cache = nullptr,
                                      ingester::Ingester* ingester = nullptr) {
  return std::make_unique<Querier>(
      QuerierOptions{}, ingester,
      std::make_shared<indexgateway::StoreIndexClient>(indexgateway::StoreIndexOptions{}, store),
      store, std::move(chunk_cache));
}

// Ingester options for tests that flush by hand (FlushAll), with the WAL under `dir`.
ingester::IngesterOptions FlushOnRequest(const TestDir& dir) {
  ingester::IngesterOptions options;
  options.wal_dir = (dir / "wal").string();
  options.flush_check_period = absl::Hours(1);
  return options;
}

// A log query over six hours from kT0 with `limit` and `direction`; `read` receives what the
// source read.
absl::StatusOr<logql_engine::QueryResult> LimitedLogs(Querier& querier, const std::string& query,
                                                      uint32_t limit,
                                                      logql_engine::Direction direction,
                                                      logql_engine::SourceStats* read) {
  logql_engine::LogQuery q;
  q.query = query;
  q.start_ns = kT0;
  q.end_ns = kT0 + 6 * 3600 * kSec;
  q.limit = limit;
  q.direction = direction;
  MultiTenantEntrySource source(&querier, {"fake"});
  auto r = logql_engine::Engine().Query(q, source);
  *read = *source.stats();
  return r;
}

class EntrySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fsclient = objstore::FilesystemObjectClient::Open((dir_ / "store").string());
    ASSERT_TRUE(fsclient.ok());
    store_ = std::make_shared<objstore::FaultInjectingObjectClient>(std::move(*fsclient));
    ingester::IngesterOptions options = FlushOnRequest(dir_);
    auto limits = std::make_shared<config::TenantLimits>();
    ingester::Ingester ing(options, store_, [limits](std::string_view) { return limits; });
    ASSERT_TRUE(ing.Start().ok());
    // Streams in three apps; every stream gets two chunks (a flush in between), so the
    // store holds two time-disjoint chunks per stream.
    for (int half = 0; half < 2; ++half) {
      for (int s = 0; s < kStreams; ++s) {
        Labels labels({{"app", "a" + std::to_string(s % 3)}, {"pod", "p" + std::to_string(s)}});
        std::vector<std::string> lines;
        std::vector<wal::EntryView> views;
        for (int j = half * kPerStream / 2; j < (half + 1) * kPerStream / 2; ++j) {
          lines.push_back("line " + std::to_string(s) + " " + std::to_string(j) +
                          (j % 5 == 0 ? " error" : " ok"));
        }
        for (size_t j = 0; j < lines.size(); ++j) {
          const int64_t ts = kT0 + (half * kPerStream / 2 + static_cast<int64_t>(j)) * kSec;
          views.push_back(wal::EntryView{ts, lines[j], {}});
          want_bytes_[std::string(labels.Get("app"))] += static_cast<int64_t>(lines[j].size());
        }
        ingester::StreamBatch batch{&labels, labels.Hash(), views, {}};
        ASSERT_TRUE(ing.Push("fake", std::span<const ingester::StreamBatch>(&batch, 1)).ok());
      }
      ASSERT_TRUE(ing.FlushAll().ok());
    }
    ing.Stop();
    querier_ = StoreQuerier(store_);
  }
  void TearDown() override { querier_.reset(); }

  // `read` (optional) receives what the source read.
  absl::StatusOr<logql_engine::QueryResult> Instant(const std::string& query,
                                                    logql_engine::SourceStats* read = nullptr) {
    logql_engine::LogQuery q;
    q.query = query;
    q.instant = true;
    q.start_ns = q.end_ns = kT0 + 30 * 60 * kSec;
    MultiTenantEntrySource source(querier_.get(), {"fake"});
    auto r = logql_engine::Engine().Query(q, source);
    if (read != nullptr) *read = *source.stats();
    return r;
  }
  absl::StatusOr<logql_engine::QueryResult> Logs(const std::string& query) {
    logql_engine::LogQuery q;
    q.query = query;
    q.start_ns = kT0;
    q.end_ns = kT0 + 3600 * kSec;
    q.limit = 5000;
    q.direction = logql_engine::Direction::kForward;
    MultiTenantEntrySource source(querier_.get(), {"fake"});
    return logql_engine::Engine().Query(q, source);
  }
  static std::map<std::string, double> ByApp(const logql_engine::QueryResult& r) {
    std::map<std::string, double> out;
    for (const auto& s : r.vector) out[std::string(s.metric.Get("app"))] = s.point.v;
    return out;
  }

  TestDir dir_{"norn-entry-source"};
  std::shared_ptr<objstore::FaultInjectingObjectClient> store_;
  std::unique_ptr<Querier> querier_;
  std::map<std::string, int64_t> want_bytes_;
};

TEST_F(EntrySourceTest, ParallelAndLinelessReadsAreExact) {
  // 40 streams: 14 in a0, 13 in a1 and a2; 30 entries each.
  const std::map<std::string, double> want_counts = {
      {"a0", 14 * kPerStream}, {"a1", 13 * kPerStream}, {"a2", 13 * kPerStream}};
  logql_engine::SourceStats read;
  auto count = Instant("sum by (app) (count_over_time({app=~\"a.\"}[1h]))", &read);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(ByApp(*count), want_counts);
  EXPECT_EQ(count->stats.total_lines_processed, kStreams * kPerStream);
  // Two disjoint chunks per stream: counted from the entry columns, no line decompressed.
  EXPECT_EQ(read.store_chunks_ref, 2 * kStreams);
  EXPECT_EQ(read.store_chunk.decompressed_lines, kStreams * kPerStream);
  EXPECT_EQ(read.store_chunk.decompressed_bytes, 0);
  auto bytes = Instant("sum by (app) (bytes_over_time({app=~\"a.\"}[1h]))");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  for (const auto& [app, v] : ByApp(*bytes)) EXPECT_EQ(v, want_bytes_[app]) << app;
  // Every fifth entry says "error"; the readers drop the others before the engine.
  auto errors =
      Instant("sum by (app) (count_over_time({app=~\"a.\"} |= \"error\" [1h]))", &read);
  ASSERT_TRUE(errors.ok()) << errors.status();
  EXPECT_EQ(read.filtered_lines, kStreams * kPerStream * 4 / 5);
  // The engine counts the lines the readers dropped as processed.
  EXPECT_EQ(errors->stats.total_lines_processed, kStreams * kPerStream);
  EXPECT_GT(read.store_chunk.decompressed_bytes, 0);
  EXPECT_EQ(ByApp(*errors), (std::map<std::string, double>{
                                {"a0", 14 * 6}, {"a1", 13 * 6}, {"a2", 13 * 6}}));
  auto logs = Logs("{app=\"a1\"} |= \"error\"");
  ASSERT_TRUE(logs.ok()) << logs.status();
  size_t n = 0;
  for (const auto& s : logs->streams) {
    for (size_t i = 1; i < s.entries.size(); ++i) {
      EXPECT_LT(s.entries[i - 1].ts_ns, s.entries[i].ts_ns);
    }
    n += s.entries.size();
  }
  EXPECT_EQ(n, 13u * 6);
}

// Hands everything to `inner`; the test caches below change one thing.
class ForwardingCache : public cache::Cache {
 public:
  explicit ForwardingCache(std::shared_ptr<cache::Cache> inner) : inner_(std::move(inner)) {}
  void Store(std::span<const std::string_view> keys,
             std::span<const std::string_view> values) override {
    inner_->Store(keys, values);
  }
  cache::FetchResult Fetch(std::span<const std::string_view> keys) override {
    return inner_->Fetch(keys);
  }
  std::string_view Name() const override { return inner_->Name(); }
  void Stop() override { inner_->Stop(); }

 private:
  std::shared_ptr<cache::Cache> inner_;
};

// An LRU that says it holds `capacity` bytes (and holds everything, so that what was stored
// can be told from what was not).
class SizedCache : public ForwardingCache {
 public:
  explicit SizedCache(uint64_t capacity)
      : ForwardingCache(std::make_shared<cache::LruCache>("chunks", cache::EmbeddedCacheOptions{})),
        capacity_(capacity) {}
  uint64_t CapacityBytes() const override { return capacity_; }

 private:
  uint64_t capacity_;
};

// A scan of more chunks than a bounded cache holds stores only the read's share of it (and
// is answered the same); a cache that does not know its size (memcached) gets every chunk.
TEST_F(EntrySourceTest, ScansStoreAShareOfABoundedChunkCache) {
  const std::string query = "sum(count_over_time({app=~\"a.\"} |= \"error\" [1h]))";
  auto unbounded = std::make_shared<SizedCache>(0);
  querier_ = StoreQuerier(store_, unbounded);
  logql_engine::SourceStats all;
  auto want = Instant(query, &all);
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_EQ(want->vector.size(), 1u);
  EXPECT_EQ(want->vector[0].point.v, kStreams * kPerStream / 5);
  EXPECT_EQ(all.store_chunks_downloaded, 2 * kStreams);
  EXPECT_EQ(all.chunk_cache_bytes_sent, all.store_chunk.compressed_bytes);

  // Room for about a tenth of the chunks per reader.
  const uint64_t capacity = Querier::kReadShareOfCache * all.store_chunk.compressed_bytes / 10;
  querier_ = StoreQuerier(store_, std::make_shared<SizedCache>(capacity));
  logql_engine::SourceStats first, second;
  auto a = Instant(query, &first);
  auto b = Instant(query, &second);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->vector[0].point.v, want->vector[0].point.v);
  EXPECT_EQ(b->vector[0].point.v, want->vector[0].point.v);
  EXPECT_GT(first.chunk_cache_bytes_sent, 0);
  EXPECT_LE(
      first.chunk_cache_bytes_sent,
      static_cast<int64_t>(TenantEntrySource::kReaders * capacity / Querier::kReadShareOfCache));
  // The second scan finds what the first stored and stores a share of the rest.
  EXPECT_GT(second.chunk_cache_entries_found, 0);
  EXPECT_LT(second.chunk_cache_entries_found, 2 * kStreams);
  EXPECT_EQ(second.store_chunks_downloaded + second.chunk_cache_entries_found, 2 * kStreams);
}

// A log query with a limit and no stages needs only the first `limit` entries of all streams:
// chunks, then blocks, past the time that many entries reach are not read, and the answer is
// the one a full read gives (here many streams share each timestamp, so ties decide it).
TEST_F(EntrySourceTest, LimitedReadsSkipChunksPastTheLimitOfAllStreams) {
  for (const std::string selector : {"{app=\"a0\"}", "{pod=~\"p1.*\"}"}) {
    for (uint32_t limit : {1u, 5u, 14u, 15u, 100u, 209u, 210u, 211u, 1000u}) {
      for (auto dir : {logql_engine::Direction::kForward, logql_engine::Direction::kBackward}) {
        for (int64_t start_s : {0, 7, 20}) {
          SCOPED_TRACE(absl::StrCat(selector, " limit ", limit, " dir ", static_cast<int>(dir),
                                    " start ", start_s));
          auto query = [&](const std::string& q, logql_engine::SourceStats* read) {
            logql_engine::LogQuery lq;
            lq.query = q;
            lq.start_ns = kT0 + start_s * kSec;
            lq.end_ns = kT0 + 3600 * kSec;
            lq.limit = limit;
            lq.direction = dir;
            MultiTenantEntrySource source(querier_.get(), {"fake"});
            auto r = logql_engine::Engine().Query(lq, source);
            *read = *source.stats();
            return r;
          };
          logql_engine::SourceStats bounded, whole;
          auto got = query(selector, &bounded);
          // A stage that changes nothing, but makes every entry count: no bound.
          auto want = query(selector + " | drop nothing", &whole);
          ASSERT_TRUE(got.ok()) << got.status();
          ASSERT_TRUE(want.ok()) << want.status();
          ASSERT_EQ(got->streams.size(), want->streams.size());
          for (size_t i = 0; i < want->streams.size(); ++i) {
            EXPECT_EQ(got->streams[i].labels, want->streams[i].labels);
            ASSERT_EQ(got->streams[i].entries.size(), want->streams[i].entries.size());
            for (size_t j = 0; j < want->streams[i].entries.size(); ++j) {
              EXPECT_EQ(got->streams[i].entries[j].ts_ns, want->streams[i].entries[j].ts_ns);
              EXPECT_EQ(got->streams[i].entries[j].line, want->streams[i].entries[j].line);
            }
          }
          EXPECT_EQ(bounded.store_chunks_ref, whole.store_chunks_ref);
          // From the start, each stream's two chunks of 15 entries both lie in the range: a
          // limit that one half of the streams' chunks can fill leaves the other half unread.
          // (From 7 s the first chunks are only partly in the range and count for nothing.)
          const int64_t streams = bounded.store_chunks_ref / 2;
          if (start_s == 0 && limit <= 15 * streams) {
            EXPECT_EQ(bounded.store_chunks_downloaded, streams);
            EXPECT_LT(bounded.store_chunk.decompressed_lines, whole.store_chunk.decompressed_lines);
          } else if (start_s == 7 && dir == logql_engine::Direction::kForward) {
            EXPECT_EQ(bounded.store_chunks_downloaded, 2 * streams);
          }
        }
      }
    }
  }
}

TEST_F(EntrySourceTest, StoreFailuresEndTheQueryWithAnError) {
  store_->FailReads(-1);  // nothing readable: the index look-up fails
  EXPECT_FALSE(Instant("sum by (app) (count_over_time({app=~\"a.\"}[1h]))").ok());
  EXPECT_FALSE(Logs("{app=\"a1\"}").ok());
  store_->Clear();
  // Chunk reads start failing in the middle of the fetches, in the parallel (count) and the
  // serial (log query) readers: the query ends with the store's error.
  for (int after : {0, 7, 40}) {
    SCOPED_TRACE(after);
    store_->FailGetsOf("/chunks/", after);
    auto count = Instant("sum by (app) (count_over_time({app=~\"a.\"}[1h]))");
    ASSERT_FALSE(count.ok());
    EXPECT_EQ(count.status().code(), absl::StatusCode::kUnavailable) << count.status();
    store_->FailGetsOf("/chunks/", after);
    auto logs = Logs("{app=~\"a.\"} |= \"line\"");
    ASSERT_FALSE(logs.ok());
    EXPECT_EQ(logs.status().code(), absl::StatusCode::kUnavailable) << logs.status();
    store_->Clear();
  }
  // Damaged chunk objects (a byte flipped in the middle of each, which is in its block's
  // lines): a query that reads the lines fails with a data-loss error naming the stream when
  // the block is decoded...
  store_->CorruptReads(true);
  auto damaged = Instant("sum(count_over_time({app=~\"a.\"} |= \"error\" [1h]))");
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kDataLoss) << damaged.status();
  EXPECT_NE(damaged.status().message().find("stream {app="), std::string_view::npos)
      << damaged.status();
  // ... while one that reads only the entry columns, which have checksums of their own, gets
  // its exact answer from intact bytes.
  auto lineless = Instant("sum(count_over_time({app=~\"a.\"}[1h]))");
  ASSERT_TRUE(lineless.ok()) << lineless.status();
  ASSERT_EQ(lineless->vector.size(), 1u);
  EXPECT_EQ(lineless->vector[0].point.v, kStreams * kPerStream);
  store_->CorruptReads(false);
  auto ok = Instant("sum(count_over_time({app=~\"a.\"}[1h]))");
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(ok->vector.size(), 1u);
  EXPECT_EQ(ok->vector[0].point.v, kStreams * kPerStream);
}

// Log queries with a limit read chunk indexes and then only the blocks the merge gets to.
// Each stream has three chunks of many small blocks: the second overlaps the first in time
// (its entries fall between the first's) and repeats every tenth of them (duplicates across
// chunks), the third follows both and has pairs of lines at one timestamp.
class BlockReadTest : public ::testing::Test {
 protected:
  static constexpr int kEntries = 5000;  // per chunk

  void SetUp() override {
    auto fsclient = objstore::FilesystemObjectClient::Open((dir_ / "store").string());
    ASSERT_TRUE(fsclient.ok());
    store_ = std::make_shared<objstore::FaultInjectingObjectClient>(std::move(*fsclient));
    ingester::IngesterOptions options = FlushOnRequest(dir_);
    options.chunk.block_size = 1024;
    auto limits = std::make_shared<config::TenantLimits>();
    ingester::Ingester ing(options, store_, [limits](std::string_view) { return limits; });
    ASSERT_TRUE(ing.Start().ok());
    for (int part = 0; part < 3; ++part) {
      for (int s = 0; s < 3; ++s) {
        Labels labels({{"app", "b"}, {"pod", "p" + std::to_string(s)}});
        std::vector<std::string> lines;
        std::vector<int64_t> times;
        for (int j = 0; j < kEntries; ++j) {
          // part 0: even seconds; part 1: odd seconds in between; part 2: after both.
          const int64_t second = part == 2 ? 2 * kEntries + 2 * j : 2 * j + part;
          times.push_back(kT0 + second * kSec);
          lines.push_back(Line(s, second, j));
          if (part == 1 && j % 10 == 0) {  // a copy of an entry of part 0
            times.push_back(kT0 + 2 * j * kSec);
            lines.push_back(Line(s, 2 * j, j));
          }
          if (part == 2 && j % 50 == 0) {  // another line at the same timestamp
            times.push_back(times.back());
            lines.push_back(lines.back() + " twin");
          }
        }
        std::vector<wal::EntryView> views;
        for (size_t j = 0; j < lines.size(); ++j)
          views.push_back(wal::EntryView{times[j], lines[j], {}});
        ingester::StreamBatch batch{&labels, labels.Hash(), views, {}};
        ASSERT_TRUE(ing.Push("fake", std::span<const ingester::StreamBatch>(&batch, 1)).ok());
      }
      ASSERT_TRUE(ing.FlushAll().ok());
    }
    ing.Stop();
    querier_ = StoreQuerier(store_);
  }

  // A line that compresses about as badly as real ones (a hex id), so that chunks are bigger
  // than the tail read that fetches an index.
  static std::string Line(int stream, int64_t second, int j) {
    const uint64_t id = XXH3_64bits_withSeed(&second, sizeof(second), stream);
    return absl::StrCat("pod=", stream, " second=", second, " id=", absl::Hex(id, absl::kZeroPad16),
                        absl::Hex(id * 0x9E3779B97F4A7C15ull, absl::kZeroPad16),
                        j % 7 == 0 ? " error" : " ok");
  }

  absl::StatusOr<logql_engine::QueryResult> Logs(const std::string& query, uint32_t limit,
                                                 logql_engine::Direction direction,
                                                 logql_engine::SourceStats* read) {
    return LimitedLogs(*querier_, query, limit, direction, read);
  }

  // The same backward read twice (the second can use what the first cached), both answered.
  struct TwoReads {
    logql_engine::QueryResult first, second;
    logql_engine::SourceStats first_read, second_read;
  };
  TwoReads ReadTwice(const std::string& query, uint32_t limit) {
    TwoReads t;
    auto a = Logs(query, limit, logql_engine::Direction::kBackward, &t.first_read);
    auto b = Logs(query, limit, logql_engine::Direction::kBackward, &t.second_read);
    EXPECT_TRUE(a.ok()) << a.status();
    EXPECT_TRUE(b.ok()) << b.status();
    if (a.ok())
      t.first = *std::move(a);
    if (b.ok())
      t.second = *std::move(b);
    return t;
  }

  TestDir dir_{"norn-block-read"};
  std::shared_ptr<objstore::FaultInjectingObjectClient> store_;
  std::unique_ptr<Querier> querier_;
};

TEST_F(BlockReadTest, LimitedLogReadsGiveTheFullReadAnswerFromFewerBytes) {
  // `| drop nothing` changes no entry, but a stage that is not a line filter makes the source
  // read every chunk whole: the reference answer.
  // Selectors and how many distinct entries they match: 3 streams of 3 x 5000 distinct entries
  // and 100 twins, a seventh of them errors (every duplicate dropped).
  const std::pair<std::string, size_t> kSelectors[] = {{"{app=\"b\"}", 3 * 15100},
                                                       {"{app=\"b\"} |= \"error\"", 3 * 2160},
                                                       {"{pod=\"p1\"} |= \"error\"", 2160}};
  for (const auto& [selector, distinct] : kSelectors) {
    for (uint32_t limit : {1u, 5u, 37u, 150u, 2999u, 5000u}) {
      for (auto dir : {logql_engine::Direction::kForward, logql_engine::Direction::kBackward}) {
        SCOPED_TRACE(absl::StrCat(selector, " limit ", limit, " dir ", static_cast<int>(dir)));
        logql_engine::SourceStats by_block, whole;
        auto got = Logs(selector, limit, dir, &by_block);
        auto want = Logs(selector + " | drop nothing", limit, dir, &whole);
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_TRUE(want.ok()) << want.status();
        ASSERT_EQ(got->streams.size(), want->streams.size());
        size_t entries = 0;
        for (size_t i = 0; i < want->streams.size(); ++i) {
          const auto& g = got->streams[i];
          const auto& w = want->streams[i];
          EXPECT_EQ(g.labels, w.labels);
          ASSERT_EQ(g.entries.size(), w.entries.size());
          for (size_t j = 0; j < w.entries.size(); ++j) {
            EXPECT_EQ(g.entries[j].ts_ns, w.entries[j].ts_ns);
            EXPECT_EQ(g.entries[j].line, w.entries[j].line);
          }
          entries += w.entries.size();
        }
        EXPECT_EQ(entries, std::min<size_t>(limit, distinct));
        if (limit <= 37) {
          EXPECT_LT(by_block.store_chunk.compressed_bytes * 3, whole.store_chunk.compressed_bytes);
          EXPECT_LT(by_block.store_chunk.decompressed_lines * 3,
                    whole.store_chunk.decompressed_lines);
        }
      }
    }
  }
}

// A stream is read up to `limit` entries, and on through every further entry at the last one's
// timestamp: which of two lines at one timestamp makes the answer is the engine's choice.
TEST_F(BlockReadTest, LimitsThatCutThroughLinesAtOneTimestamp) {
  for (uint32_t limit = 1; limit <= 160; ++limit) {
    for (auto dir : {logql_engine::Direction::kForward, logql_engine::Direction::kBackward}) {
      SCOPED_TRACE(absl::StrCat("limit ", limit, " dir ", static_cast<int>(dir)));
      logql_engine::SourceStats by_block, whole;
      auto got = Logs("{pod=\"p2\"} |= \"ok\"", limit, dir, &by_block);
      auto want = Logs("{pod=\"p2\"} |= \"ok\" | drop nothing", limit, dir, &whole);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_TRUE(want.ok()) << want.status();
      ASSERT_EQ(got->streams.size(), 1u);
      ASSERT_EQ(want->streams.size(), 1u);
      const auto& g = got->streams[0].entries;
      const auto& w = want->streams[0].entries;
      ASSERT_EQ(g.size(), w.size());
      for (size_t j = 0; j < w.size(); ++j)
        EXPECT_EQ(g[j].line, w[j].line);
    }
  }
}

// Expects `a` and `b` to hold the same streams with the same lines; returns their entry count.
size_t SameLines(const logql_engine::QueryResult& a, const logql_engine::QueryResult& b) {
  EXPECT_EQ(a.streams.size(), b.streams.size());
  size_t entries = 0;
  for (size_t i = 0; i < std::min(a.streams.size(), b.streams.size()); ++i) {
    EXPECT_EQ(a.streams[i].entries.size(), b.streams[i].entries.size());
    for (size_t j = 0; j < std::min(a.streams[i].entries.size(), b.streams[i].entries.size()); ++j)
      EXPECT_EQ(a.streams[i].entries[j].line, b.streams[i].entries[j].line);
    entries += a.streams[i].entries.size();
  }
  return entries;
}

// With a chunk cache, what a limited read fetched (indexes and blocks, each under its own
// key) answers the same query again without a store read.
TEST_F(BlockReadTest, IndexesAndBlocksGoThroughTheChunkCache) {
  cache::EmbeddedCacheOptions options;
  options.enabled = true;
  auto cache = std::make_shared<cache::LruCache>("chunks", options);
  querier_ = StoreQuerier(store_, cache);
  const TwoReads t = ReadTwice("{app=\"b\"} |= \"error\"", 300);
  const logql_engine::SourceStats& first = t.first_read;
  const logql_engine::SourceStats& second = t.second_read;
  EXPECT_GT(first.store_chunk.compressed_bytes, 0);
  EXPECT_GT(first.chunk_cache_bytes_sent, 0);
  EXPECT_EQ(second.store_chunk.compressed_bytes, 0);
  EXPECT_EQ(second.store_chunks_downloaded, 0);
  // The 9 chunk tails (with the indexes) and every block read after them are found.
  EXPECT_GT(second.chunk_cache_entries_found, 9);
  EXPECT_EQ(second.chunk_cache_entries_found, second.chunk_cache_entries_requested);
  EXPECT_EQ(SameLines(t.first, t.second), 300u);
}

// Without a chunk cache, the in-process index cache keeps what the tails held of the chunks'
// indexes (not their blocks): a second read takes every index from it and reads only blocks.
// (This fixture's 1 KiB blocks have token filters too small to rule a needle out.)
TEST_F(BlockReadTest, ChunkIndexesGoThroughTheIndexCacheWithoutAChunkCache) {
  QuerierOptions options;
  options.chunk_index_cache_mb = 8;
  querier_ = std::make_unique<Querier>(
      options, nullptr,
      std::make_shared<indexgateway::StoreIndexClient>(indexgateway::StoreIndexOptions{}, store_),
      store_, nullptr);
  const TwoReads needle = ReadTwice("{app=\"b\"} |= \"f3a1e0c9d2b84b7e\"", 100);
  const logql_engine::SourceStats& first = needle.first_read;
  const logql_engine::SourceStats& second = needle.second_read;
  EXPECT_TRUE(needle.first.streams.empty());
  EXPECT_TRUE(needle.second.streams.empty());
  EXPECT_EQ(first.chunk_cache_entries_found, 0);
  EXPECT_EQ(first.store_chunks_downloaded, 9);  // every chunk's tail
  EXPECT_EQ(second.store_chunks_downloaded, 0);
  EXPECT_EQ(second.chunk_cache_entries_found, 9);
  EXPECT_LT(second.store_chunk.compressed_bytes, first.store_chunk.compressed_bytes);

  const TwoReads limited = ReadTwice("{app=\"b\"} |= \"error\"", 300);
  // A limited read of the same chunks takes their indexes from the cache (filled above); the
  // blocks, which it does not keep, come from the store.
  for (const auto* read : {&limited.first_read, &limited.second_read}) {
    EXPECT_EQ(read->store_chunks_downloaded, 0);
    EXPECT_EQ(read->chunk_cache_entries_found, 9);
    EXPECT_GT(read->store_chunk.compressed_bytes, 0);
  }
  EXPECT_EQ(SameLines(limited.first, limited.second), 300u);
}

// A cache that hands out every value with one byte flipped.
class DamagingCache : public ForwardingCache {
 public:
  using ForwardingCache::ForwardingCache;
  cache::FetchResult Fetch(std::span<const std::string_view> keys) override {
    cache::FetchResult r = ForwardingCache::Fetch(keys);
    for (std::string& v : r.values) {
      if (!v.empty())
        v[v.size() / 2] ^= 0x5a;
    }
    return r;
  }
};

// Damaged cached tails and blocks are misses: the query reads the store and answers right.
TEST_F(BlockReadTest, DamagedCacheEntriesAreMisses) {
  cache::EmbeddedCacheOptions options;
  options.enabled = true;
  auto cache =
      std::make_shared<DamagingCache>(std::make_shared<cache::LruCache>("chunks", options));
  querier_ = StoreQuerier(store_, cache);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    logql_engine::SourceStats read;
    auto r = Logs("{app=\"b\"}", 300, logql_engine::Direction::kBackward, &read);
    ASSERT_TRUE(r.ok()) << r.status();
    size_t entries = 0;
    for (const auto& st : r->streams)
      entries += st.entries.size();
    EXPECT_EQ(entries, 300u);
    EXPECT_GT(read.store_chunk.compressed_bytes, 0);
    EXPECT_EQ(read.chunk_cache_entries_found, 0);
  }
}

TEST_F(BlockReadTest, FailedBlockReadsEndTheQueryWithAnError) {
  // The k-th chunk read fails, for every k until the query needs fewer reads than that: index
  // reads (the first 9), the first blocks of every stream, and blocks opened later on.
  int failures = 0;
  for (int after = 0; after < 200; ++after) {
    SCOPED_TRACE(after);
    store_->FailGetsOf("/chunks/", after);
    logql_engine::SourceStats read;
    auto logs = Logs("{app=\"b\"}", 2000, logql_engine::Direction::kBackward, &read);
    store_->Clear();
    if (logs.ok())
      break;
    EXPECT_EQ(logs.status().code(), absl::StatusCode::kUnavailable) << logs.status();
    ++failures;
  }
  EXPECT_GT(failures, 9);
  EXPECT_LT(failures, 200);
}

// Chunks an ingester still holds after flushing them (chunk_retain_period) are read from memory
// and from the store at once: a limited log read, which opens the store's blocks only as its
// merge reaches them, must still meet every copy and give each entry once.
TEST(RetainedChunkTest, LimitedReadsGiveEntriesInMemoryAndStoreOnce) {
  TestDir dir("norn-retained");
  auto fsclient = objstore::FilesystemObjectClient::Open((dir / "store").string());
  ASSERT_TRUE(fsclient.ok());
  std::shared_ptr<objstore::ObjectClient> store = std::move(*fsclient);
  ingester::IngesterOptions options = FlushOnRequest(dir);
  options.chunk_retain_period = absl::Hours(1);
  options.chunk.block_size = 1024;
  auto limits = std::make_shared<config::TenantLimits>();
  ingester::Ingester ing(options, store, [limits](std::string_view) { return limits; });
  ASSERT_TRUE(ing.Start().ok());
  constexpr int kEntries = 2000;
  Labels labels({{"app", "r"}});
  std::vector<std::string> lines;
  std::vector<wal::EntryView> views;
  for (int j = 0; j < kEntries; ++j) lines.push_back(absl::StrCat("retained line ", j));
  for (int j = 0; j < kEntries; ++j) views.push_back(wal::EntryView{kT0 + j * kSec, lines[j], {}});
  ingester::StreamBatch batch{&labels, labels.Hash(), views, {}};
  ASSERT_TRUE(ing.Push("fake", std::span<const ingester::StreamBatch>(&batch, 1)).ok());
  ASSERT_TRUE(ing.FlushAll().ok());
  std::unique_ptr<Querier> querier = StoreQuerier(store, nullptr, &ing);
  for (uint32_t limit : {1u, 7u, 100u, 1999u, 5000u}) {
    for (auto direction : {logql_engine::Direction::kForward, logql_engine::Direction::kBackward}) {
      SCOPED_TRACE(absl::StrCat("limit ", limit, " dir ", static_cast<int>(direction)));
      logql_engine::SourceStats read;
      auto r = LimitedLogs(*querier, "{app=\"r\"}", limit, direction, &read);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->streams.size(), 1u);
      const auto& got = r->streams[0].entries;
      const size_t want = std::min<size_t>(limit, kEntries);
      ASSERT_EQ(got.size(), want);
      for (size_t i = 0; i < want; ++i) {
        const int j = direction == logql_engine::Direction::kForward ? static_cast<int>(i)
                                                                : kEntries - 1 - static_cast<int>(i);
        EXPECT_EQ(got[i].ts_ns, kT0 + j * kSec);
        EXPECT_EQ(got[i].line, lines[j]);
      }
      // Both sources were read: the store's copies met the memory ones and were dropped.
      EXPECT_GT(read.store_chunks_ref, 0);
      EXPECT_GT(read.ingester_chunks_matched, 0);
      EXPECT_GT(read.store_chunk.total_duplicates + read.ingester_chunk.total_duplicates, 0);
    }
  }
  ing.Stop();
}

}  // namespace
}  // namespace norn::querier
