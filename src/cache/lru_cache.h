// LruCache: the embedded (in-process) cache, Loki's `embedded_cache`.
//
// Entries live in N shards (a key's shard is picked by its hash); each shard is a mutex, a hash
// map and an intrusive doubly-linked LRU list. Memory is bounded by a byte budget that counts
// each entry as key size + value size + a fixed per-entry overhead (the node and its map slot),
// split evenly over the shards; `max_size_items`, when set, bounds the entry count the same way.
// Storing into a full shard evicts that shard's least recently used entries. A value larger
// than the per-item limit (half a shard's budget) is not stored, so one huge value can never
// flush a whole shard.
//
// Every entry gets an expiry time at Store (now + ttl; no expiry when ttl is 0). An expired
// entry is a miss and is removed when found; a background thread also purges expired entries
// every `purge_interval` so they do not hold memory until LRU pressure reaches them.
//
// Metrics (Loki's names, label cache=<name>): loki_embeddedcache_added_new_total,
// loki_embeddedcache_evicted_total{reason="expired"|"full"|"object too big"|"replaced"},
// loki_embeddedcache_entries, loki_embeddedcache_memory_bytes. The generic loki_cache_* metrics
// come from Instrument() (cache.h), which NewCache applies.
//
// Thread safety: all methods are thread-safe; a Fetch or Store locks one shard at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "cache/cache.h"

namespace norn::metrics {
class Counter;
class Gauge;
class Registry;
}  // namespace norn::metrics

namespace norn::cache {

// Construction knobs that are not part of Loki's config (tests and embedding).
struct LruCacheEnv {
  metrics::Registry* registry = nullptr;  // nullptr = metrics::Registry::Default().
  std::function<absl::Time()> now;        // nullptr = absl::Now. Tests inject a fake clock.
  int shards = 0;                         // 0 = pick from the size (1..16).
  absl::Duration purge_interval = absl::Minutes(1);  // <= 0 disables the purge thread.
};

class LruCache final : public Cache {
 public:
  // Bytes charged per entry on top of key and value sizes (node, list links, map slot).
  static constexpr size_t kEntryOverhead = 96;

  // `options.max_size_mb` and `max_size_items` must not both be 0 (NewCache returns no cache in
  // that case). `enabled` is not looked at: constructing one means it is wanted.
  LruCache(std::string name, const EmbeddedCacheOptions& options, LruCacheEnv env = {});
  ~LruCache() override;
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  using Cache::Fetch;
  using Cache::Store;
  void Store(std::span<const std::string_view> keys,
             std::span<const std::string_view> values) override;
  FetchResult Fetch(std::span<const std::string_view> keys) override;
  std::string_view Name() const override { return name_; }
  uint64_t CapacityBytes() const override { return max_bytes_; }
  void Stop() override;

  // Removes every expired entry now (the purge thread calls this).
  void PurgeExpired();

  // Introspection for tests and status pages.
  size_t Entries() const;
  size_t MemoryBytes() const;
  size_t num_shards() const { return shards_.size(); }
  size_t max_item_bytes() const { return max_item_bytes_; }
  // Bytes an entry with these sizes is charged.
  static size_t Charge(size_t key_size, size_t value_size) {
    return key_size + value_size + kEntryOverhead;
  }

 private:
  struct Shard;
  struct Metrics {
    metrics::Counter* added_new;
    metrics::Counter* evicted_expired;
    metrics::Counter* evicted_full;
    metrics::Counter* evicted_too_big;
    metrics::Counter* evicted_replaced;
    metrics::Gauge* entries;
    metrics::Gauge* memory_bytes;
  };

  Shard& ShardFor(std::string_view key) const;
  absl::Time Now() const { return now_ ? now_() : absl::Now(); }

  const std::string name_;
  const absl::Duration ttl_;
  const std::function<absl::Time()> now_;
  size_t max_bytes_ = 0;  // max_size_mb in bytes; 0 = bounded by entries only
  size_t max_item_bytes_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
  Metrics metrics_;
  std::atomic<bool> stopped_{false};
  std::jthread purger_;  // Last: joined before the members it uses go away.
};

}  // namespace norn::cache
