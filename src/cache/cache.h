// Cache: the one key/value cache interface Norn uses for chunks, query results, index queries and
// index-write dedupe, plus the configuration block that picks a backend (Loki's `cache_config`
// shape) and the factory that builds one.
//
// Contract:
//   - Keys and values are arbitrary byte strings. A backend that cannot store a key as given
//     (memcached: at most 250 bytes, no spaces or control characters) maps it to a safe form
//     internally; callers never see the difference.
//   - Caching is best effort. Store() and Fetch() never fail: an unreachable or slow backend
//     turns into misses (Fetch) or dropped writes (Store), each logged and counted in metrics.
//     That is why neither returns a Status (Loki's cache interface made the same choice).
//   - Fetch() returns the found keys in request order with their values, and every other key in
//     `missing_keys`, also in request order. A key requested twice is reported twice.
//   - Store() copies what it keeps; the caller's buffers may be reused as soon as it returns.
//
// Ownership and lifetime: the factory returns a std::unique_ptr; Stop() ends background work
// (purging, DNS refresh) and must be called before destruction by whoever owns the cache (the
// destructor also stops, so forgetting is safe). After Stop(), Store() is a no-op and Fetch()
// returns only misses.
//
// Thread safety: every method is safe to call concurrently from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace norn::metrics {
class Registry;
}  // namespace norn::metrics

namespace norn::cache {

// What Fetch() answers. `found_keys[i]` maps to `values[i]`.
struct FetchResult {
  std::vector<std::string> found_keys;
  std::vector<std::string> values;
  std::vector<std::string> missing_keys;
};

class Cache {
 public:
  virtual ~Cache() = default;

  // Stores keys[i] -> values[i] with the cache's configured lifetime. `keys` and `values` must
  // have the same length (programmer error otherwise: CHECK). Never blocks longer than the
  // backend's timeout.
  virtual void Store(std::span<const std::string_view> keys,
                     std::span<const std::string_view> values) = 0;
  // Looks all keys up in one batch (a multi-get per server for memcached).
  virtual FetchResult Fetch(std::span<const std::string_view> keys) = 0;
  // The name given at construction; it labels the cache's metrics and log lines.
  virtual std::string_view Name() const = 0;
  // Bytes of keys and values the cache holds at most, when it knows (the embedded LRU with
  // max_size_mb); 0 when it does not (memcached, an entry-count limit only). Readers use it to
  // keep one large read from replacing everything the cache holds.
  virtual uint64_t CapacityBytes() const { return 0; }
  // Stops background work and drops cached data. Idempotent.
  virtual void Stop() = 0;

  // Conveniences over the span forms.
  void Store(const std::vector<std::string>& keys, const std::vector<std::string>& values);
  FetchResult Fetch(const std::vector<std::string>& keys);
};

// ---------------------------------------------------------------------------------------------
// Configuration. Field names and defaults mirror Loki's YAML keys (`embedded_cache`,
// `memcached`, `memcached_client`, `default_validity`) so config code can copy field by field
// (see CacheConfigFrom below).

// `embedded_cache`: an in-process LRU (lru_cache.h).
struct EmbeddedCacheOptions {
  bool enabled = false;
  int max_size_mb = 100;                // Megabytes (10^6 bytes, as Loki counts) of keys+values.
  int max_size_items = 0;               // 0 = no limit on the number of entries.
  absl::Duration ttl = absl::Hours(1);  // 0 = entries never expire.
};

// `memcached`: how the cache uses memcached.
struct MemcachedOptions {
  absl::Duration expiration = absl::ZeroDuration();  // 0 = memcached's default (never expire).
  int batch_size = 256;                              // Keys per multi-get command (0 = one batch).
  int parallelism = 10;                              // Batches in flight at once per Fetch.
};

// `memcached_client`: which servers, and how to talk to them.
struct MemcachedClientOptions {
  std::string host;  // SRV-resolved as _<service>._tcp.<host> if no addresses.
  std::string service = "memcached";
  std::string addresses;  // Comma-separated: host:port, dns+host:port,
                          // dnssrv+_svc._proto.name, dnssrvnoa+_svc._proto.name.
  absl::Duration timeout = absl::Milliseconds(100);  // One request to one server, connect incl.
  int max_idle_conns = 16;                           // Idle connections kept per server.
  int max_item_size = 0;  // Values larger than this are not stored (0 = no limit).
  absl::Duration update_interval = absl::Minutes(1);  // DNS re-resolution period.
  bool consistent_hash = true;  // Ketama ring; false = hash modulo server count.
};

// Loki's cache block. `enable_fifocache` (legacy) has no field: it is ignored.
struct CacheConfig {
  absl::Duration default_validity = absl::ZeroDuration();  // TTL used when the backend's own
                                                           // ttl/expiration is 0.
  EmbeddedCacheOptions embedded_cache;
  MemcachedOptions memcached;
  MemcachedClientOptions memcached_client;
};

// True when memcached is configured: `memcached_client.host` or `.addresses` is set (Loki's rule).
bool MemcachedConfigured(const CacheConfig& config);

// Builds the cache a config block asks for, named `name` (metrics label):
//   - memcached when MemcachedConfigured(); an enabled embedded_cache is then ignored (logged),
//     because Norn has no tiered cache;
//   - otherwise the embedded LRU when embedded_cache.enabled and it has a size limit;
//   - otherwise nullptr: no cache configured, and callers skip caching.
// The result is wrapped with the generic Loki cache metrics (loki_cache_fetched_keys,
// loki_cache_hits, loki_cache_request_duration_seconds, loki_cache_value_size_bytes).
// Errors: kInvalidArgument for impossible values (negative sizes, bad address syntax).
// A memcached that cannot be resolved or reached yet is not an error: it is retried.
absl::StatusOr<std::unique_ptr<Cache>> NewCache(const CacheConfig& config, std::string name,
                                                metrics::Registry* registry = nullptr);

// Wraps `inner` with the generic per-cache metrics listed above, labelled name=inner->Name().
std::unique_ptr<Cache> Instrument(std::unique_ptr<Cache> inner,
                                  metrics::Registry* registry = nullptr);

// Copies a config struct with Loki's field names (e.g. norn::config::CacheConfig) into a
// CacheConfig without this module depending on the config module.
template <class C>
CacheConfig CacheConfigFrom(const C& c) {
  CacheConfig out;
  out.default_validity = c.default_validity;
  out.embedded_cache.enabled = c.embedded_cache.enabled;
  out.embedded_cache.max_size_mb = c.embedded_cache.max_size_mb;
  out.embedded_cache.max_size_items = c.embedded_cache.max_size_items;
  out.embedded_cache.ttl = c.embedded_cache.ttl;
  out.memcached.expiration = c.memcached.expiration;
  out.memcached.batch_size = c.memcached.batch_size;
  out.memcached.parallelism = c.memcached.parallelism;
  out.memcached_client.host = c.memcached_client.host;
  out.memcached_client.service = c.memcached_client.service;
  out.memcached_client.addresses = c.memcached_client.addresses;
  out.memcached_client.timeout = c.memcached_client.timeout;
  out.memcached_client.max_idle_conns = c.memcached_client.max_idle_conns;
  out.memcached_client.max_item_size = c.memcached_client.max_item_size;
  out.memcached_client.update_interval = c.memcached_client.update_interval;
  out.memcached_client.consistent_hash = c.memcached_client.consistent_hash;
  return out;
}

}  // namespace norn::cache
