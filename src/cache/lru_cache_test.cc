#include "cache/lru_cache.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "cache/cache.h"
#include "common/metrics.h"

namespace norn::cache {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A clock tests move by hand.
struct FakeClock {
  std::atomic<int64_t> ns{absl::ToUnixNanos(absl::FromUnixSeconds(1700000000))};
  std::function<absl::Time()> Fn() {
    return [this] { return absl::FromUnixNanos(ns.load()); };
  }
  void Advance(absl::Duration d) { ns += absl::ToInt64Nanoseconds(d); }
};

double Counter(metrics::Registry& reg, const std::string& name,
               std::initializer_list<std::string_view> labels,
               std::vector<std::string> label_names) {
  return reg.Counter(name, "", std::move(label_names)).WithLabels(labels).Value();
}
double Gauge(metrics::Registry& reg, const std::string& name, std::string_view cache) {
  return reg.Gauge(name, "", {"cache"}).WithLabels({cache}).Value();
}
double Evicted(metrics::Registry& reg, std::string_view cache, std::string_view reason) {
  return Counter(reg, "loki_embeddedcache_evicted_total", {cache, reason}, {"cache", "reason"});
}

LruCacheEnv Env(metrics::Registry* reg, int shards = 0, std::function<absl::Time()> now = nullptr) {
  LruCacheEnv e;
  e.registry = reg;
  e.shards = shards;
  e.now = std::move(now);
  return e;
}

EmbeddedCacheOptions Opts(int mb, int items = 0, absl::Duration ttl = absl::Hours(1)) {
  EmbeddedCacheOptions o;
  o.enabled = true;
  o.max_size_mb = mb;
  o.max_size_items = items;
  o.ttl = ttl;
  return o;
}

TEST(LruCacheTest, HitsAndMissesInRequestOrder) {
  metrics::Registry reg;
  LruCache c("t", Opts(10), Env(&reg));
  c.Store(std::vector<std::string>{"a", "b", "c"}, std::vector<std::string>{"1", "22", "333"});
  FetchResult r = c.Fetch(std::vector<std::string>{"c", "x", "a", "y", "b"});
  EXPECT_THAT(r.found_keys, ElementsAre("c", "a", "b"));
  EXPECT_THAT(r.values, ElementsAre("333", "1", "22"));
  EXPECT_THAT(r.missing_keys, ElementsAre("x", "y"));

  // Overwrite replaces.
  c.Store(std::vector<std::string>{"a"}, std::vector<std::string>{"new"});
  r = c.Fetch(std::vector<std::string>{"a"});
  EXPECT_THAT(r.values, ElementsAre("new"));
  EXPECT_EQ(c.Entries(), 3u);
  EXPECT_EQ(Evicted(reg, "t", "replaced"), 1);
  EXPECT_EQ(Counter(reg, "loki_embeddedcache_added_new_total", {"t"}, {"cache"}), 3);
}

TEST(LruCacheTest, ArbitraryKeysAndEmptyValues) {
  metrics::Registry reg;
  LruCache c("t", Opts(10), Env(&reg));
  const std::string weird = std::string("key with spaces\n\0binary", 24) + std::string(1000, 'k');
  c.Store(std::vector<std::string>{weird, "empty"}, std::vector<std::string>{"v", ""});
  FetchResult r = c.Fetch(std::vector<std::string>{weird, "empty"});
  EXPECT_THAT(r.found_keys, ElementsAre(weird, "empty"));
  EXPECT_THAT(r.values, ElementsAre("v", ""));
}

TEST(LruCacheTest, ByteBoundEvictsLeastRecentlyUsed) {
  metrics::Registry reg;
  // 1 MB in one shard; each entry ~100 KB so 9 fit.
  LruCache c("t", Opts(1), Env(&reg, 1));
  ASSERT_EQ(c.num_shards(), 1u);
  const std::string v(100000, 'x');
  for (int i = 0; i < 9; ++i) {
    c.Store(std::vector<std::string>{absl::StrCat("k", i)}, std::vector<std::string>{v});
  }
  EXPECT_EQ(c.Entries(), 9u);
  // Touch k0 so k1 becomes the least recently used.
  EXPECT_THAT(c.Fetch(std::vector<std::string>{"k0"}).found_keys, ElementsAre("k0"));
  c.Store(std::vector<std::string>{"k9"}, std::vector<std::string>{v});
  c.Store(std::vector<std::string>{"k10"}, std::vector<std::string>{v});
  FetchResult r = c.Fetch(std::vector<std::string>{"k0", "k1", "k2", "k3", "k9", "k10"});
  EXPECT_THAT(r.missing_keys, ElementsAre("k1", "k2"));
  EXPECT_THAT(r.found_keys, ElementsAre("k0", "k3", "k9", "k10"));
  EXPECT_LE(c.MemoryBytes(), 1000000u);
  EXPECT_EQ(c.MemoryBytes(), 8 * LruCache::Charge(2, v.size()) + LruCache::Charge(3, v.size()));
  EXPECT_EQ(Evicted(reg, "t", "full"), 2);
  EXPECT_EQ(Gauge(reg, "loki_embeddedcache_entries", "t"), 9);
  EXPECT_EQ(Gauge(reg, "loki_embeddedcache_memory_bytes", "t"),
            static_cast<double>(c.MemoryBytes()));
}

TEST(LruCacheTest, ItemBound) {
  metrics::Registry reg;
  LruCache c("t", Opts(0, 3), Env(&reg, 1));
  for (int i = 0; i < 5; ++i) {
    c.Store(std::vector<std::string>{absl::StrCat("k", i)}, std::vector<std::string>{"v"});
  }
  FetchResult r = c.Fetch(std::vector<std::string>{"k0", "k1", "k2", "k3", "k4"});
  EXPECT_THAT(r.found_keys, ElementsAre("k2", "k3", "k4"));
  EXPECT_EQ(Evicted(reg, "t", "full"), 2);
  EXPECT_EQ(c.CapacityBytes(), 0u);  // bounded by entries: its size in bytes is not known
}

TEST(LruCacheTest, TtlExpiryWithInjectedClock) {
  metrics::Registry reg;
  FakeClock clock;
  LruCache c("t", Opts(10, 0, absl::Seconds(60)), Env(&reg, 0, clock.Fn()));
  c.Store(std::vector<std::string>{"old"}, std::vector<std::string>{"1"});
  clock.Advance(absl::Seconds(30));
  c.Store(std::vector<std::string>{"young"}, std::vector<std::string>{"2"});
  clock.Advance(absl::Seconds(29));
  EXPECT_THAT(c.Fetch(std::vector<std::string>{"old", "young"}).found_keys,
              ElementsAre("old", "young"));
  clock.Advance(absl::Seconds(1));  // old is exactly 60 s old: expired.
  FetchResult r = c.Fetch(std::vector<std::string>{"old", "young"});
  EXPECT_THAT(r.found_keys, ElementsAre("young"));
  EXPECT_THAT(r.missing_keys, ElementsAre("old"));
  EXPECT_EQ(c.Entries(), 1u);  // The expired entry was removed, not just hidden.
  EXPECT_EQ(Evicted(reg, "t", "expired"), 1);

  // Purge removes expired entries nobody asks for.
  clock.Advance(absl::Seconds(31));
  c.PurgeExpired();
  EXPECT_EQ(c.Entries(), 0u);
  EXPECT_EQ(c.MemoryBytes(), 0u);
  EXPECT_EQ(Evicted(reg, "t", "expired"), 2);
  EXPECT_EQ(Gauge(reg, "loki_embeddedcache_memory_bytes", "t"), 0);
}

TEST(LruCacheTest, ZeroTtlNeverExpires) {
  metrics::Registry reg;
  FakeClock clock;
  LruCache c("t", Opts(10, 0, absl::ZeroDuration()), Env(&reg, 0, clock.Fn()));
  c.Store(std::vector<std::string>{"k"}, std::vector<std::string>{"v"});
  clock.Advance(absl::Hours(24 * 365));
  EXPECT_THAT(c.Fetch(std::vector<std::string>{"k"}).found_keys, ElementsAre("k"));
}

TEST(LruCacheTest, OversizeItemIsNotStored) {
  metrics::Registry reg;
  LruCache c("t", Opts(1), Env(&reg, 1));
  EXPECT_EQ(c.max_item_bytes(), 500000u);
  c.Store(std::vector<std::string>{"small", "big"},
          std::vector<std::string>{"v", std::string(600000, 'x')});
  FetchResult r = c.Fetch(std::vector<std::string>{"small", "big"});
  EXPECT_THAT(r.found_keys, ElementsAre("small"));
  EXPECT_THAT(r.missing_keys, ElementsAre("big"));
  EXPECT_EQ(Evicted(reg, "t", "object too big"), 1);
  // An oversize value for an existing key drops the stale value too.
  c.Store(std::vector<std::string>{"small"}, std::vector<std::string>{std::string(600000, 'y')});
  EXPECT_THAT(c.Fetch(std::vector<std::string>{"small"}).found_keys, IsEmpty());
  EXPECT_EQ(c.Entries(), 0u);
}

TEST(LruCacheTest, ShardCountFollowsSize) {
  metrics::Registry reg;
  EXPECT_EQ(LruCache("a", Opts(100), Env(&reg)).num_shards(), 16u);
  EXPECT_EQ(LruCache("b", Opts(8), Env(&reg)).num_shards(), 1u);
  EXPECT_EQ(LruCache("c", Opts(0, 100), Env(&reg)).num_shards(), 1u);
}

TEST(LruCacheTest, ConcurrentStoreAndFetch) {
  metrics::Registry reg;
  LruCache c("t", Opts(64), Env(&reg));
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string k = absl::StrCat("k", (i * 7 + t) % 500);
        if (i % 3 == 0) {
          c.Store(std::vector<std::string>{k}, std::vector<std::string>{k + "-value"});
        } else {
          FetchResult r = c.Fetch(std::vector<std::string>{k, "absent"});
          if (r.found_keys.size() + r.missing_keys.size() != 2)
            ++bad;
          for (size_t j = 0; j < r.found_keys.size(); ++j) {
            if (r.values[j] != r.found_keys[j] + "-value")
              ++bad;
          }
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(Gauge(reg, "loki_embeddedcache_entries", "t"), static_cast<double>(c.Entries()));
  EXPECT_EQ(Gauge(reg, "loki_embeddedcache_memory_bytes", "t"),
            static_cast<double>(c.MemoryBytes()));
}

TEST(LruCacheTest, StopDropsEverything) {
  metrics::Registry reg;
  LruCache c("t", Opts(10), Env(&reg));
  c.Store(std::vector<std::string>{"k"}, std::vector<std::string>{"v"});
  c.Stop();
  c.Stop();
  EXPECT_THAT(c.Fetch(std::vector<std::string>{"k"}).missing_keys, ElementsAre("k"));
  c.Store(std::vector<std::string>{"k"}, std::vector<std::string>{"v"});
  EXPECT_EQ(c.Entries(), 0u);
  EXPECT_EQ(Gauge(reg, "loki_embeddedcache_entries", "t"), 0);
}

TEST(NewCacheTest, EmbeddedWithGenericMetrics) {
  metrics::Registry reg;
  CacheConfig cfg;
  cfg.embedded_cache.enabled = true;
  auto c = NewCache(cfg, "chunks", &reg);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_NE(*c, nullptr);
  EXPECT_EQ((*c)->Name(), "chunks");
  // max_size_mb (100 by default) in bytes, through the metrics wrapper.
  EXPECT_EQ((*c)->CapacityBytes(), 100'000'000u);
  (*c)->Store(std::vector<std::string>{"a", "b"}, std::vector<std::string>{"1", "2"});
  FetchResult r = (*c)->Fetch(std::vector<std::string>{"a", "b", "c"});
  EXPECT_EQ(r.found_keys.size(), 2u);
  EXPECT_EQ(Counter(reg, "loki_cache_fetched_keys", {"chunks"}, {"name"}), 3);
  EXPECT_EQ(Counter(reg, "loki_cache_hits", {"chunks"}, {"name"}), 2);
  EXPECT_EQ(Counter(reg, "loki_embeddedcache_added_new_total", {"chunks"}, {"cache"}), 2);
  const std::string text = reg.Render();
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "loki_cache_request_duration_seconds_count{method=\"chunks.fetch\","
                        "status_code=\"200\",name=\"chunks\"} 1"));
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "loki_cache_value_size_bytes_count{method=\"store\",name=\"chunks\"} 2"));
  (*c)->Stop();
}

TEST(NewCacheTest, NothingConfiguredMeansNoCache) {
  metrics::Registry reg;
  CacheConfig cfg;
  auto c = NewCache(cfg, "results", &reg);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, nullptr);
  cfg.embedded_cache.enabled = true;
  cfg.embedded_cache.max_size_mb = 0;
  c = NewCache(cfg, "results", &reg);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, nullptr);
  cfg.embedded_cache.max_size_mb = -1;
  EXPECT_FALSE(NewCache(cfg, "results", &reg).ok());
}

TEST(NewCacheTest, DefaultValidityFillsZeroTtl) {
  metrics::Registry reg;
  CacheConfig cfg;
  cfg.embedded_cache.enabled = true;
  cfg.embedded_cache.ttl = absl::ZeroDuration();
  cfg.default_validity = absl::Minutes(5);
  auto c = NewCache(cfg, "x", &reg);
  ASSERT_TRUE(c.ok());
  ASSERT_NE(*c, nullptr);  // Behaviour is covered by TtlExpiryWithInjectedClock.
}

TEST(NewCacheTest, BadMemcachedAddressIsAnError) {
  metrics::Registry reg;
  CacheConfig cfg;
  cfg.memcached_client.addresses = "no-port-here";
  auto c = NewCache(cfg, "x", &reg);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace norn::cache
