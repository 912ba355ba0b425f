#include "cache/lru_cache.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "common/metrics.h"
#include "common/strings.h"

namespace norn::cache {

namespace {

// Shards are at least this big (when the budget allows) so typical chunk-sized values fit
// under the per-item limit even in small caches.
constexpr size_t kMinShardBytes = size_t{4} << 20;
constexpr int kMaxShards = 16;

// Programmer errors only (STYLE.md: CHECK); user input never reaches these.
void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "cache: check failed: %s\n", what);
    std::abort();
  }
}

struct Node {
  std::string key;
  std::string value;
  absl::Time expiry = absl::InfiniteFuture();
  size_t charge = 0;
  Node* prev = nullptr;
  Node* next = nullptr;
};

}  // namespace

// std::mutex rather than absl::Mutex: Debian's Abseil is not built for ThreadSanitizer, so TSan
// cannot see absl::Mutex's ordering and would flag every access below.
struct LruCache::Shard {
  std::mutex mu;  // Guards everything below except the two limits.
  // Keys are views of the owning node's `key`, which never moves (nodes are heap-allocated).
  absl::flat_hash_map<std::string_view, std::unique_ptr<Node>, StringHash, StringEq> map;
  Node head;  // Sentinel: head.next is most, head.prev least recently used.
  size_t bytes = 0;
  size_t max_bytes = 0;  // 0 = unbounded.
  size_t max_items = 0;  // 0 = unbounded.

  Shard() {
    head.prev = &head;
    head.next = &head;
  }

  void Unlink(Node* n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
  }
  void PushFront(Node* n) {
    n->next = head.next;
    n->prev = &head;
    head.next->prev = n;
    head.next = n;
  }
};

LruCache::LruCache(std::string name, const EmbeddedCacheOptions& options, LruCacheEnv env)
    : name_(std::move(name)), ttl_(options.ttl), now_(std::move(env.now)) {
  Check(options.max_size_mb > 0 || options.max_size_items > 0,
        "embedded cache needs max_size_mb or max_size_items");
  const size_t max_bytes =
      options.max_size_mb > 0 ? static_cast<size_t>(options.max_size_mb) * 1000000 : 0;
  const size_t max_items = options.max_size_items > 0 ? options.max_size_items : 0;
  max_bytes_ = max_bytes;

  int shards = env.shards;
  if (shards <= 0) {
    shards = kMaxShards;
    if (max_bytes > 0) {
      shards = static_cast<int>(std::clamp<size_t>(max_bytes / kMinShardBytes, 1, kMaxShards));
    }
    // Small entry limits would round to nothing per shard.
    if (max_items > 0)
      shards = std::min<int>(shards, std::max<size_t>(1, max_items / 64));
  }
  shards_.reserve(shards);
  for (int i = 0; i < shards; ++i) {
    auto s = std::make_unique<Shard>();
    s->max_bytes = max_bytes == 0 ? 0 : std::max<size_t>(1, max_bytes / shards);
    s->max_items = max_items == 0 ? 0 : std::max<size_t>(1, (max_items + shards - 1) / shards);
    shards_.push_back(std::move(s));
  }
  max_item_bytes_ = max_bytes == 0 ? SIZE_MAX : std::max<size_t>(1, shards_[0]->max_bytes / 2);

  metrics::Registry& reg = env.registry ? *env.registry : metrics::Registry::Default();
  auto& added = reg.Counter("loki_embeddedcache_added_new_total",
                            "The total number of new entries added to the cache", {"cache"});
  auto& evicted = reg.Counter("loki_embeddedcache_evicted_total",
                              "The total number of evicted entries", {"cache", "reason"});
  auto& entries =
      reg.Gauge("loki_embeddedcache_entries", "Current number of entries in the cache", {"cache"});
  auto& memory =
      reg.Gauge("loki_embeddedcache_memory_bytes", "The current cache size in bytes", {"cache"});
  metrics_.added_new = &added.WithLabels({name_});
  metrics_.evicted_expired = &evicted.WithLabels({name_, "expired"});
  metrics_.evicted_full = &evicted.WithLabels({name_, "full"});
  metrics_.evicted_too_big = &evicted.WithLabels({name_, "object too big"});
  metrics_.evicted_replaced = &evicted.WithLabels({name_, "replaced"});
  metrics_.entries = &entries.WithLabels({name_});
  metrics_.memory_bytes = &memory.WithLabels({name_});
  // A cache re-created under the same name starts from zero.
  metrics_.entries->Set(0);
  metrics_.memory_bytes->Set(0);

  if (ttl_ > absl::ZeroDuration() && env.purge_interval > absl::ZeroDuration()) {
    const absl::Duration interval = env.purge_interval;
    purger_ = std::jthread([this, interval](std::stop_token stop) {
      std::mutex mu;
      std::condition_variable_any cv;
      std::unique_lock lock(mu);
      while (!stop.stop_requested()) {
        cv.wait_for(lock, stop, absl::ToChronoNanoseconds(interval), [] { return false; });
        if (stop.stop_requested())
          break;
        PurgeExpired();
      }
    });
  }
}

LruCache::~LruCache() {
  Stop();
}

LruCache::Shard& LruCache::ShardFor(std::string_view key) const {
  // The map hashes with the same function; mixing the bits again keeps shard choice and
  // in-shard bucket choice independent.
  uint64_t h = StringHash{}(key);
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 32;
  return *shards_[h % shards_.size()];
}

void LruCache::Store(std::span<const std::string_view> keys,
                     std::span<const std::string_view> values) {
  Check(keys.size() == values.size(), "Store: keys and values differ in length");
  if (stopped_.load(std::memory_order_acquire))
    return;
  const absl::Time now = Now();
  const absl::Time expiry = ttl_ > absl::ZeroDuration() ? now + ttl_ : absl::InfiniteFuture();
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string_view key = keys[i];
    const std::string_view value = values[i];
    const size_t charge = Charge(key.size(), value.size());
    Shard& s = ShardFor(key);
    std::lock_guard lock(s.mu);
    bool replaced = false;
    if (auto it = s.map.find(key); it != s.map.end()) {
      replaced = true;
      Node* old = it->second.get();
      s.Unlink(old);
      s.bytes -= old->charge;
      metrics_.memory_bytes->Sub(static_cast<double>(old->charge));
      metrics_.entries->Dec();
      // The new value replaces the old one, unless it is too big to keep at all.
      (charge > max_item_bytes_ ? metrics_.evicted_too_big : metrics_.evicted_replaced)->Inc();
      s.map.erase(it);
      if (charge > max_item_bytes_)
        continue;
    } else if (charge > max_item_bytes_) {
      metrics_.evicted_too_big->Inc();
      continue;
    }
    while (s.head.prev != &s.head && ((s.max_bytes > 0 && s.bytes + charge > s.max_bytes) ||
                                      (s.max_items > 0 && s.map.size() >= s.max_items))) {
      Node* victim = s.head.prev;
      s.Unlink(victim);
      s.bytes -= victim->charge;
      metrics_.memory_bytes->Sub(static_cast<double>(victim->charge));
      metrics_.entries->Dec();
      metrics_.evicted_full->Inc();
      s.map.erase(std::string_view(victim->key));
    }
    auto node = std::make_unique<Node>();
    node->key.assign(key);
    node->value.assign(value);
    node->expiry = expiry;
    node->charge = charge;
    Node* n = node.get();
    s.map.emplace(std::string_view(n->key), std::move(node));
    s.PushFront(n);
    s.bytes += charge;
    metrics_.memory_bytes->Add(static_cast<double>(charge));
    metrics_.entries->Inc();
    if (!replaced)
      metrics_.added_new->Inc();
  }
}

FetchResult LruCache::Fetch(std::span<const std::string_view> keys) {
  FetchResult out;
  out.found_keys.reserve(keys.size());
  out.values.reserve(keys.size());
  if (stopped_.load(std::memory_order_acquire)) {
    out.missing_keys.assign(keys.begin(), keys.end());
    return out;
  }
  const absl::Time now = Now();
  for (const std::string_view key : keys) {
    Shard& s = ShardFor(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) {
      out.missing_keys.emplace_back(key);
      continue;
    }
    Node* n = it->second.get();
    if (n->expiry <= now) {
      s.Unlink(n);
      s.bytes -= n->charge;
      metrics_.memory_bytes->Sub(static_cast<double>(n->charge));
      metrics_.entries->Dec();
      metrics_.evicted_expired->Inc();
      s.map.erase(it);
      out.missing_keys.emplace_back(key);
      continue;
    }
    s.Unlink(n);
    s.PushFront(n);
    out.found_keys.emplace_back(key);
    out.values.push_back(n->value);
  }
  return out;
}

void LruCache::PurgeExpired() {
  const absl::Time now = Now();
  for (auto& sp : shards_) {
    Shard& s = *sp;
    std::lock_guard lock(s.mu);
    for (Node* n = s.head.next; n != &s.head;) {
      Node* next = n->next;
      if (n->expiry <= now) {
        s.Unlink(n);
        s.bytes -= n->charge;
        metrics_.memory_bytes->Sub(static_cast<double>(n->charge));
        metrics_.entries->Dec();
        metrics_.evicted_expired->Inc();
        s.map.erase(std::string_view(n->key));
      }
      n = next;
    }
  }
}

void LruCache::Stop() {
  if (stopped_.exchange(true))
    return;
  if (purger_.joinable()) {
    purger_.request_stop();
    purger_.join();
  }
  for (auto& sp : shards_) {
    Shard& s = *sp;
    std::lock_guard lock(s.mu);
    metrics_.memory_bytes->Sub(static_cast<double>(s.bytes));
    metrics_.entries->Sub(static_cast<double>(s.map.size()));
    s.head.prev = &s.head;
    s.head.next = &s.head;
    s.map.clear();
    s.bytes = 0;
  }
}

size_t LruCache::Entries() const {
  size_t n = 0;
  for (auto& sp : shards_) {
    std::lock_guard lock(sp->mu);
    n += sp->map.size();
  }
  return n;
}

size_t LruCache::MemoryBytes() const {
  size_t n = 0;
  for (auto& sp : shards_) {
    std::lock_guard lock(sp->mu);
    n += sp->bytes;
  }
  return n;
}

}  // namespace norn::cache
