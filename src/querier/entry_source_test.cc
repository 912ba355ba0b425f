// The querier's entry source over real flushed chunks (ingester flush -> filesystem store ->
// index): answers through the serial and the parallel readers, lines read without their bytes,
// and store failures, which must end a query with an error, not a hang.
#include "querier/entry_source.h"

#include <map>

#include <gtest/gtest.h>

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

class EntrySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fsclient = objstore::FilesystemObjectClient::Open((dir_ / "store").string());
    ASSERT_TRUE(fsclient.ok());
    store_ = std::make_shared<objstore::FaultInjectingObjectClient>(std::move(*fsclient));
    ingester::IngesterOptions options;
    options.wal_dir = (dir_ / "wal").string();
    options.flush_check_period = absl::Hours(1);
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
        ingester::StreamBatch batch{&labels, labels.Hash(), views};
        ASSERT_TRUE(ing.Push("fake", std::span<const ingester::StreamBatch>(&batch, 1)).ok());
      }
      ASSERT_TRUE(ing.FlushAll().ok());
    }
    ing.Stop();
    querier_ = std::make_unique<Querier>(
        QuerierOptions{}, nullptr,
        std::make_shared<indexgateway::StoreIndexClient>(indexgateway::StoreIndexOptions{},
                                                         store_),
        store_);
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
  auto ok = Instant("sum(count_over_time({app=~\"a.\"}[1h]))");
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(ok->vector.size(), 1u);
  EXPECT_EQ(ok->vector[0].point.v, kStreams * kPerStream);
}

}  // namespace
}  // namespace norn::querier
