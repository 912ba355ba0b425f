// MemcachedCache: a Cache backed by one or more memcached servers, configured with Loki's
// `memcached` and `memcached_client` blocks.
//
// The client is Norn's own (text protocol `get` for multi-gets, meta `ms ... q` + `mn` for
// pipelined sets, over non-blocking sockets driven by poll(2)): it gives per-request deadlines,
// batching and back-off that we control, where libmemcached's dead-server handling and poll
// timeouts are hard to bound. Any memcached >= 1.6 works (meta commands).
//
// Servers:
//   - `addresses` (comma-separated) wins over `host`. Each entry is `host:port` (connected as
//     given), `dns+host:port` (A/AAAA records via getaddrinfo, one server per address),
//     `dnssrv+_service._proto.name` (SRV records via res_nquery, targets resolved to addresses)
//     or `dnssrvnoa+...` (SRV targets used as host names). Without addresses, `host` is looked
//     up as the SRV name `_<service>._tcp.<host>`, as Loki does.
//   - The list is re-resolved every `update_interval` on a background thread. Servers that stay
//     in the list keep their connections. A failed resolution keeps the previous list.
//   - Keys map to servers on a ketama-style ring (160 points per server, XXH3-64), so adding or
//     removing a server moves only about 1/N of the keys; `consistent_hash: false` uses the key
//     hash modulo the server count instead.
//
// Keys: memcached keys are at most 250 bytes of printable non-space ASCII. Keys like that are
// sent unchanged; any other key is sent as "xxh3:" + the 32 hex digits of its XXH3-128 hash
// (WireKey()). Two keys collide only if their 128-bit hashes do, or if a caller's key is itself
// literally "xxh3:<hex of another key's hash>".
//
// Failures are misses, never errors: a request gets `timeout` from connect to last byte; a
// server that refuses, times out or breaks the protocol has that request's keys reported as
// missing (Fetch) or dropped (Store), and is then skipped without network calls for a short
// back-off (100 ms doubling to `max_backoff`) before the client reconnects. Idle pooled
// connections are checked before reuse, and a reused connection that turns out dead is retried
// once on a fresh one, so a restarted server is picked up on the next request after back-off.
//
// Batching: a Fetch splits each server's keys into multi-gets of `batch_size` keys and keeps up
// to `parallelism` of them in flight at once on separate connections; a Store does the same
// with pipelined sets. Values longer than `max_item_size` (when > 0) are not sent.
// Expiration: `expiration` (seconds, rounded up); longer than 30 days is sent as an absolute
// Unix time as memcached requires; 0 means memcached's default (no expiry).
//
// Metrics (label name=<cache name>): loki_memcache_request_duration_seconds{method,status_code}
// (methods Memcache.GetMulti per multi-get, Memcache.GetBatched per Fetch, Memcache.Put per set
// batch), loki_memcache_client_servers, loki_memcache_client_set_skip_total (max_item_size),
// norn_memcache_client_failures_total{method,reason} (reason: down, connect, timeout, io,
// protocol) and norn_memcache_client_dropped_items_total (sets not stored).
//
// Thread safety: Store/Fetch/Name/Servers/ServerFor are thread-safe. Stop() joins the DNS
// thread and closes idle connections; calls made after it return misses / do nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cache/cache.h"

namespace norn::metrics {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace norn::metrics

namespace norn::cache {

// Construction knobs that are not part of Loki's config.
struct MemcachedEnv {
  metrics::Registry* registry = nullptr;          // nullptr = metrics::Registry::Default().
  absl::Duration max_backoff = absl::Seconds(1);  // Longest pause after repeated failures.
};

namespace internal {
struct MemcachedServer;
struct MemcachedRing;
struct MemcachedOp;
}  // namespace internal

class MemcachedCache final : public Cache {
 public:
  // Validates the address syntax (kInvalidArgument), resolves the servers once (a failure is
  // logged and retried every update_interval) and starts the refresh thread. Needs `host` or
  // `addresses` (kInvalidArgument otherwise).
  static absl::StatusOr<std::unique_ptr<MemcachedCache>> Create(
      std::string name, const MemcachedOptions& options, const MemcachedClientOptions& client,
      MemcachedEnv env = {});
  ~MemcachedCache() override;
  MemcachedCache(const MemcachedCache&) = delete;
  MemcachedCache& operator=(const MemcachedCache&) = delete;

  using Cache::Fetch;
  using Cache::Store;
  void Store(std::span<const std::string_view> keys,
             std::span<const std::string_view> values) override;
  FetchResult Fetch(std::span<const std::string_view> keys) override;
  std::string_view Name() const override { return name_; }
  void Stop() override;

  // The resolved server list ("host:port"), sorted.
  std::vector<std::string> Servers() const;
  // The server `key` maps to ("" when there are none).
  std::string ServerFor(std::string_view key) const;
  // Resolves the configured addresses now and swaps the server list in when that succeeds.
  [[nodiscard]] absl::Status RefreshServers();
  // The key as sent to memcached (see the header comment).
  static std::string WireKey(std::string_view key);

 private:
  struct Metrics {
    metrics::Histogram* get_multi_ok;
    metrics::Histogram* get_multi_err;
    metrics::Histogram* get_batched_ok;
    metrics::Histogram* get_batched_err;
    metrics::Histogram* put_ok;
    metrics::Histogram* put_err;
    metrics::Gauge* servers;
    metrics::Counter* set_skip;
    metrics::Counter* dropped_items;
  };

  MemcachedCache(std::string name, const MemcachedOptions& options,
                 const MemcachedClientOptions& client, MemcachedEnv env,
                 std::vector<std::string> address_specs);

  std::shared_ptr<const internal::MemcachedRing> Ring() const;
  void SetServers(std::vector<std::string> servers);
  absl::StatusOr<std::vector<std::string>> Resolve() const;
  // Runs the ops with at most `parallelism_` in flight; each ends done or failed.
  void RunOps(std::span<internal::MemcachedOp> ops, std::string_view method);
  void CountFailure(std::string_view method, std::string_view reason);

  const std::string name_;
  const MemcachedOptions options_;
  const MemcachedClientOptions client_;
  const MemcachedEnv env_;
  const std::vector<std::string> address_specs_;  // Empty: SRV lookup of `host`.
  const std::chrono::nanoseconds timeout_;
  metrics::Registry* registry_;
  Metrics metrics_;

  // std::mutex (not absl::Mutex) so ThreadSanitizer understands it with Debian's Abseil.
  mutable std::mutex mu_;  // Guards ring_ and servers_.
  std::shared_ptr<const internal::MemcachedRing> ring_;
  absl::flat_hash_map<std::string, std::shared_ptr<internal::MemcachedServer>> servers_;

  std::atomic<bool> stopped_{false};
  std::jthread refresher_;  // Last: stopped before the members it uses go away.
};

}  // namespace norn::cache
