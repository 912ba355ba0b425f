#include <filesystem>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "cache/lru_cache.h"
#include "indexgateway/caching_index_client.h"
#include "indexgateway/grpc_service.h"
#include "indexgateway/store_index_client.h"
#include "server/grpc/grpc_server.h"
#include "storage/index/index_writer.h"
#include "storage/index/object_key.h"
#include "storage/objstore/filesystem.h"

namespace norn::indexgateway {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kDay = index::kPeriodNs;
constexpr int64_t kT0 = 19723 * kDay;  // 2024-01-01T00:00:00Z

class IndexGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("indexgateway_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "store");
    auto fs = objstore::FilesystemObjectClient::Open((dir_ / "store").string());
    ASSERT_TRUE(fs.ok()) << fs.status();
    store_ = std::shared_ptr<objstore::ObjectClient>(std::move(*fs));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // One index file for `tenant` in the period of `ts` with one chunk per series at `ts`.
  void Upload(std::string_view tenant, std::string_view file, int64_t ts,
              const std::vector<Labels>& series, uint32_t checksum = 1) {
    index::IndexBuilder b;
    for (const auto& l : series) {
      index::ChunkRef ref{ts, ts + 1000, checksum, 100, 10, 500};
      ASSERT_TRUE(b.Add(l, std::span<const index::ChunkRef>(&ref, 1)).ok());
    }
    auto bytes = b.Encode();
    ASSERT_TRUE(bytes.ok());
    ASSERT_TRUE(store_->Put(index::IndexObjectKey(index::PeriodNumber(ts), tenant, file), *bytes)
                    .ok());
  }

  std::filesystem::path dir_;
  std::shared_ptr<objstore::ObjectClient> store_;
};

// The same expectations against the in-process client and the gRPC round trip.
void CheckAnswers(IndexClient& c) {
  auto names = c.LabelNames("t1", {}, kT0, kT0 + 2 * kDay);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("app", "env"));

  std::vector<index::Matcher> prod = {index::Matcher::Eq("env", "prod")};
  auto values = c.LabelValues("t1", "app", prod, kT0, kT0 + 2 * kDay);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(*values, ElementsAre("api", "web"));

  std::vector<index::Matcher> web = {index::Matcher::Re("app", "w.*")};
  auto series = c.Series("t1", web, kT0, kT0 + 2 * kDay);
  ASSERT_TRUE(series.ok()) << series.status();
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0].labels.ToString(), R"({app="web", env="prod"})");
  EXPECT_EQ((*series)[0].fingerprint, (*series)[0].labels.Hash());

  // web/prod has a chunk on day 0 in two files (a replica: counted once) and one on day 1.
  auto refs = c.ChunkRefs("t1", web, kT0, kT0 + 2 * kDay);
  ASSERT_TRUE(refs.ok()) << refs.status();
  ASSERT_EQ(refs->size(), 1u);
  ASSERT_EQ((*refs)[0].chunks.size(), 2u);
  EXPECT_EQ((*refs)[0].chunks[0].from_ns, kT0 + 5);
  EXPECT_EQ((*refs)[0].chunks[0].uncompressed_bytes, 500u);
  EXPECT_EQ((*refs)[0].chunks[1].from_ns, kT0 + kDay + 5);

  // Only day 0.
  auto day0 = c.ChunkRefs("t1", web, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(day0.ok());
  ASSERT_EQ(day0->size(), 1u);
  EXPECT_EQ((*day0)[0].chunks.size(), 1u);

  auto stats = c.Stats("t1", {}, kT0, kT0 + 2 * kDay);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->streams, 3u);
  EXPECT_EQ(stats->chunks, 4u);
  EXPECT_EQ(stats->entries, 40u);
  EXPECT_EQ(stats->bytes, 2000u);

  // Tenants are isolated.
  auto other = c.LabelValues("t2", "app", {}, kT0, kT0 + 2 * kDay);
  ASSERT_TRUE(other.ok());
  EXPECT_THAT(*other, ElementsAre("secret"));
  auto none = c.Series("nobody", {}, kT0, kT0 + 2 * kDay);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}


TEST_F(IndexGatewayTest, StoreClientWithLocalCache) {
  Upload("t1", "a.nidx", kT0 + 5,
         {Labels{{"app", "web"}, {"env", "prod"}}, Labels{{"app", "api"}, {"env", "prod"}},
          Labels{{"app", "db"}, {"env", "dev"}}});
  Upload("t1", "b.nidx", kT0 + 5, {Labels{{"app", "web"}, {"env", "prod"}}});  // replica
  Upload("t1", "c.nidx", kT0 + kDay + 5, {Labels{{"app", "web"}, {"env", "prod"}}});
  Upload("t2", "a.nidx", kT0 + 5, {Labels{{"app", "secret"}}});

  StoreIndexOptions opts;
  opts.cache_location = (dir_ / "cache").string();
  StoreIndexClient client(opts, store_);
  CheckAnswers(client);
  EXPECT_EQ(client.open_files(), 4u);
  std::string local = opts.cache_location + "/" + index::IndexObjectKey(19723, "t1", "a.nidx");
  EXPECT_TRUE(std::filesystem::exists(local)) << local;

  // A file uploaded after the first queries is seen by the next one.
  Upload("t1", "d.nidx", kT0 + 7, {Labels{{"app", "new"}}}, 9);
  auto values = client.LabelValues("t1", "app", {}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(values.ok());
  EXPECT_THAT(*values, ElementsAre("api", "db", "new", "web"));

  // A second client reuses the local copies (no new downloads needed to answer).
  StoreIndexClient again(opts, store_);
  auto stats = again.Stats("t1", {}, kT0, kT0 + 2 * kDay);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->streams, 4u);
  EXPECT_EQ(stats->chunks, 5u);
}

TEST_F(IndexGatewayTest, UnusedFilesAreDropped) {
  Upload("t1", "a.nidx", kT0 + 5, {Labels{{"app", "web"}}});
  StoreIndexOptions opts;
  opts.cache_location = (dir_ / "cache").string();
  opts.cache_ttl = absl::ZeroDuration();
  StoreIndexClient client(opts, store_);
  auto names = client.LabelNames("t1", {}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(names.ok());
  std::string local = opts.cache_location + "/" + index::IndexObjectKey(19723, "t1", "a.nidx");
  ASSERT_TRUE(std::filesystem::exists(local));
  absl::SleepFor(absl::Milliseconds(2));
  client.DropUnused();
  EXPECT_EQ(client.open_files(), 0u);
  EXPECT_FALSE(std::filesystem::exists(local));
}

TEST_F(IndexGatewayTest, CorruptFileIsAnError) {
  ASSERT_TRUE(store_->Put(index::IndexObjectKey(19723, "t1", "bad.nidx"), "not an index").ok());
  StoreIndexClient client(StoreIndexOptions{}, store_);
  auto names = client.LabelNames("t1", {}, kT0, kT0 + kDay - 1);
  ASSERT_FALSE(names.ok());
  EXPECT_THAT(std::string(names.status().message()), ::testing::HasSubstr("bad.nidx"));
}

TEST_F(IndexGatewayTest, GrpcRoundTrip) {
  Upload("t1", "a.nidx", kT0 + 5,
         {Labels{{"app", "web"}, {"env", "prod"}}, Labels{{"app", "api"}, {"env", "prod"}},
          Labels{{"app", "db"}, {"env", "dev"}}});
  Upload("t1", "b.nidx", kT0 + 5, {Labels{{"app", "web"}, {"env", "prod"}}});
  Upload("t1", "c.nidx", kT0 + kDay + 5, {Labels{{"app", "web"}, {"env", "prod"}}});
  Upload("t2", "a.nidx", kT0 + 5, {Labels{{"app", "secret"}}});

  StoreIndexClient local(StoreIndexOptions{}, store_);
  IndexGatewayService service(&local);
  grpcserver::GrpcServer server(grpcserver::GrpcServerOptions{.address = "127.0.0.1", .port = 0});
  server.RegisterService(&service);
  ASSERT_TRUE(server.Start().ok());

  RemoteIndexOptions opts;
  opts.server_address = "127.0.0.1:" + std::to_string(server.port());
  opts.timeout = absl::Seconds(10);
  auto remote = RemoteIndexClient::Create(opts);
  ASSERT_TRUE(remote.ok()) << remote.status();
  CheckAnswers(**remote);

  // Errors travel with their code and message.
  ASSERT_TRUE(store_->Put(index::IndexObjectKey(19723, "t3", "bad.nidx"), "garbage").ok());
  auto bad = (*remote)->LabelNames("t3", {}, kT0, kT0 + kDay - 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("bad.nidx"));
  server.Shutdown(absl::Seconds(1));
}

TEST_F(IndexGatewayTest, IndexQueriesCacheServesOldRangesOnly) {
  Upload("t1", "a.nidx", kT0 + 5, {Labels{{"app", "web"}}});
  auto store_index = std::make_shared<StoreIndexClient>(StoreIndexOptions{}, store_);
  cache::EmbeddedCacheOptions lru_opts;
  lru_opts.enabled = true;
  auto lru = std::make_shared<cache::LruCache>("index-queries", lru_opts);
  CachingIndexClient cached(store_index, lru, absl::Hours(1));

  auto first = cached.LabelValues("t1", "app", {}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(*first, ElementsAre("web"));
  auto refs = cached.ChunkRefs("t1", {}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  // A file appearing later for the same old range: the cached answers stand (the range is
  // older than the freshness window, where Loki's index-queries cache also answers).
  Upload("t1", "b.nidx", kT0 + 6, {Labels{{"app", "late"}}});
  auto second = cached.LabelValues("t1", "app", {}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(second.ok());
  EXPECT_THAT(*second, ElementsAre("web"));
  auto refs2 = cached.ChunkRefs("t1", {}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(refs2.ok());
  ASSERT_EQ(refs2->size(), 1u);
  EXPECT_EQ((*refs2)[0].chunks[0].uncompressed_bytes, 500u);
  EXPECT_EQ((*refs2)[0].labels.ToString(), R"({app="web"})");
  // Uncached, the index has both.
  auto direct = store_index->LabelValues("t1", "app", {}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(direct.ok());
  EXPECT_THAT(*direct, ElementsAre("late", "web"));

  // A range reaching into the freshness window is never cached.
  int64_t now = absl::GetCurrentTimeNanos();
  Upload("t1", "n1.nidx", now - 1000, {Labels{{"app", "now1"}}});
  auto fresh = cached.LabelValues("t1", "app", {}, now - kDay / 2, now);
  ASSERT_TRUE(fresh.ok());
  Upload("t1", "n2.nidx", now - 500, {Labels{{"app", "now2"}}});
  auto fresh2 = cached.LabelValues("t1", "app", {}, now - kDay / 2, now);
  ASSERT_TRUE(fresh2.ok());
  EXPECT_THAT(*fresh2, ::testing::Contains("now2"));
}

TEST(RemoteIndexClientTest, EmptyAddressIsAConfigError) {
  auto c = RemoteIndexClient::Create(RemoteIndexOptions{});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), ::testing::HasSubstr("server_address"));
}

}  // namespace
}  // namespace norn::indexgateway
