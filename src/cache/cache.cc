#include "cache/cache.h"

#include <chrono>
#include <utility>

#include "cache/lru_cache.h"
#include "cache/memcached_cache.h"
#include "common/logging.h"
#include "common/metrics.h"

namespace norn::cache {

namespace {

std::vector<std::string_view> Views(const std::vector<std::string>& v) {
  return std::vector<std::string_view>(v.begin(), v.end());
}

// Loki's generic per-cache metrics (its `instrumentedCache`), labelled name=<cache name>.
class InstrumentedCache final : public Cache {
 public:
  InstrumentedCache(std::unique_ptr<Cache> inner, metrics::Registry& reg)
      : inner_(std::move(inner)), name_(inner_->Name()) {
    auto& duration = reg.Histogram(
        "loki_cache_request_duration_seconds", "Total time spent in seconds doing cache requests.",
        {"method", "status_code", "name"}, metrics::ExponentialBuckets(0.000016, 4, 8));
    fetch_duration_ = &duration.WithLabels({name_ + ".fetch", "200", name_});
    store_duration_ = &duration.WithLabels({name_ + ".store", "200", name_});
    fetched_keys_ = &reg.Counter("loki_cache_fetched_keys",
                                 "Total count of keys requested from cache.", {"name"})
                         .WithLabels({name_});
    hits_ = &reg.Counter("loki_cache_hits", "Total count of keys found in cache.", {"name"})
                 .WithLabels({name_});
    auto& sizes = reg.Histogram("loki_cache_value_size_bytes", "Size of values in the cache.",
                                {"method", "name"}, metrics::ExponentialBuckets(1024, 4, 7));
    fetched_size_ = &sizes.WithLabels({"fetch", name_});
    stored_size_ = &sizes.WithLabels({"store", name_});
  }

  using Cache::Fetch;
  using Cache::Store;
  void Store(std::span<const std::string_view> keys,
             std::span<const std::string_view> values) override {
    for (std::string_view v : values)
      stored_size_->Observe(static_cast<double>(v.size()));
    const auto start = std::chrono::steady_clock::now();
    inner_->Store(keys, values);
    store_duration_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  FetchResult Fetch(std::span<const std::string_view> keys) override {
    const auto start = std::chrono::steady_clock::now();
    FetchResult r = inner_->Fetch(keys);
    fetch_duration_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    fetched_keys_->Inc(static_cast<double>(keys.size()));
    hits_->Inc(static_cast<double>(r.found_keys.size()));
    for (const std::string& v : r.values)
      fetched_size_->Observe(static_cast<double>(v.size()));
    return r;
  }

  std::string_view Name() const override { return name_; }
  uint64_t CapacityBytes() const override { return inner_->CapacityBytes(); }
  void Stop() override { inner_->Stop(); }

 private:
  std::unique_ptr<Cache> inner_;
  const std::string name_;
  metrics::Histogram* fetch_duration_;
  metrics::Histogram* store_duration_;
  metrics::Counter* fetched_keys_;
  metrics::Counter* hits_;
  metrics::Histogram* fetched_size_;
  metrics::Histogram* stored_size_;
};

}  // namespace

void Cache::Store(const std::vector<std::string>& keys, const std::vector<std::string>& values) {
  const std::vector<std::string_view> k = Views(keys);
  const std::vector<std::string_view> v = Views(values);
  Store(std::span<const std::string_view>(k), std::span<const std::string_view>(v));
}

FetchResult Cache::Fetch(const std::vector<std::string>& keys) {
  const std::vector<std::string_view> k = Views(keys);
  return Fetch(std::span<const std::string_view>(k));
}

bool MemcachedConfigured(const CacheConfig& config) {
  return !config.memcached_client.host.empty() || !config.memcached_client.addresses.empty();
}

std::unique_ptr<Cache> Instrument(std::unique_ptr<Cache> inner, metrics::Registry* registry) {
  if (inner == nullptr)
    return nullptr;
  return std::make_unique<InstrumentedCache>(std::move(inner),
                                             registry ? *registry : metrics::Registry::Default());
}

absl::StatusOr<std::unique_ptr<Cache>> NewCache(const CacheConfig& config, std::string name,
                                                metrics::Registry* registry) {
  if (MemcachedConfigured(config)) {
    if (config.embedded_cache.enabled) {
      NORN_LOG(Info)
          .Msg("memcached is configured; embedded_cache is ignored for this cache")
          .Kv("cache", name);
    }
    MemcachedOptions options = config.memcached;
    if (options.expiration <= absl::ZeroDuration())
      options.expiration = config.default_validity;
    MemcachedEnv env;
    env.registry = registry;
    auto c = MemcachedCache::Create(std::move(name), options, config.memcached_client, env);
    if (!c.ok())
      return c.status();
    return Instrument(*std::move(c), registry);
  }
  const EmbeddedCacheOptions& e = config.embedded_cache;
  if (!e.enabled)
    return std::unique_ptr<Cache>();
  if (e.max_size_mb < 0 || e.max_size_items < 0) {
    return absl::InvalidArgumentError("embedded_cache max_size_mb and max_size_items must be >= 0");
  }
  if (e.max_size_mb == 0 && e.max_size_items == 0) {
    NORN_LOG(Warn)
        .Msg("neither embedded_cache.max_size_mb nor max_size_items is set; no cache")
        .Kv("cache", name);
    return std::unique_ptr<Cache>();
  }
  EmbeddedCacheOptions options = e;
  if (options.ttl <= absl::ZeroDuration())
    options.ttl = config.default_validity;
  LruCacheEnv env;
  env.registry = registry;
  return Instrument(std::make_unique<LruCache>(std::move(name), options, env), registry);
}

}  // namespace norn::cache
