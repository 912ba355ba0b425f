// Live tailing in the ingester (Loki's ingester tailers): a TailRegistry holds, per tenant, the
// Tailers of the open tail requests; the ingester hands it every accepted stream batch after
// the WAL commit and each Tailer whose stream matcher accepts the stream copies the entries
// into its bounded queue. A consumer (the querier's tail session) drains the queue with Wait().
//
// Cost: when nobody tails, Ingester::Push pays one relaxed atomic load (active()). With
// tailers, Notify takes a shared lock, checks each tenant tailer's cached match result for the
// stream and copies matching entries (the push's views die with the call). It never blocks on
// a consumer: a full queue drops the entries and records them (labels + timestamp, up to
// max_dropped_reported) for the consumer to report as Loki's dropped_entries.
//
// Lifecycle and ownership: TailRegistry is owned by the Ingester. Subscribe() returns a
// shared Tailer; Tailer::Close() (or its destruction) unsubscribes it. Destroying the registry
// closes every Tailer (Wait() then returns false), and Tailers may outlive it safely.
// Thread-safety: every method of both classes is thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/entry.h"
#include "common/labels.h"
#include "storage/wal/record.h"

namespace norn::ingester {

// Decides whether a stream is tailed (the tail query's label matchers). Called with the
// tailer's lock held, at most once per stream fingerprint.
using StreamMatcher = std::function<bool(const Labels& stream)>;

// One stream's entries accepted by a push, as the registry sees them.
struct TailInput {
  const Labels* labels = nullptr;
  Fingerprint fingerprint = 0;
  std::span<const wal::EntryView> entries;
};

// Entries of one stream delivered to a tail consumer, in push order.
struct TailBatch {
  std::shared_ptr<const Labels> labels;
  Fingerprint fingerprint = 0;
  std::vector<Entry> entries;
};

// An entry a full queue could not keep.
struct TailDropped {
  std::shared_ptr<const Labels> labels;
  int64_t timestamp_ns = 0;
};

struct TailRegistryOptions {
  // Loki's max_concurrent_tail_requests default; Subscribe() may override it per call.
  int max_tailers_per_tenant = 10;
  // Bounds of one Tailer's queue (Loki buffers 10 responses of up to 100 entries).
  size_t max_buffered_entries = 1000;
  size_t max_buffered_bytes = 16 << 20;
  // Dropped entries remembered until the consumer collects them (Loki: 1000).
  size_t max_dropped_reported = 1000;
};

namespace internal {
struct TailHub;
}

class Tailer {
 public:
  ~Tailer();
  Tailer(const Tailer&) = delete;
  Tailer& operator=(const Tailer&) = delete;

  const std::string& tenant() const { return tenant_; }

  // Waits up to `timeout` for entries, then moves every queued batch to *batches and the
  // dropped records to *dropped (both appended). Returns false once the tailer is closed and
  // drained (the registry went away or Close() was called).
  bool Wait(absl::Duration timeout, std::vector<TailBatch>* batches,
            std::vector<TailDropped>* dropped);
  // Unsubscribes; Wait() returns false from then on. Idempotent.
  void Close();
  bool closed() const;
  // Entries dropped because the queue was full, over the tailer's life.
  uint64_t dropped_total() const;

 private:
  friend struct internal::TailHub;
  friend class TailRegistry;
  Tailer(std::shared_ptr<internal::TailHub> hub, std::string tenant, StreamMatcher matcher,
         const TailRegistryOptions& opts);
  // Called by the hub (push threads).
  void Offer(const TailInput& in);
  void MarkClosed();

  const std::shared_ptr<internal::TailHub> hub_;
  const std::string tenant_;
  const size_t max_entries_;
  const size_t max_bytes_;
  const size_t max_dropped_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  StreamMatcher matcher_;  // Guarded by mu_.
  // Per stream: whether it matches, and its shared labels. Guarded by mu_.
  struct StreamInfo {
    bool matches = false;
    std::shared_ptr<const Labels> labels;
  };
  absl::flat_hash_map<Fingerprint, StreamInfo> streams_;
  std::vector<TailBatch> queue_;        // Guarded by mu_.
  size_t queued_entries_ = 0;           // Guarded by mu_.
  size_t queued_bytes_ = 0;             // Guarded by mu_.
  std::vector<TailDropped> dropped_;    // Guarded by mu_.
  uint64_t dropped_total_ = 0;          // Guarded by mu_.
  bool closed_ = false;                 // Guarded by mu_.
};

class TailRegistry {
 public:
  explicit TailRegistry(TailRegistryOptions opts = {});
  ~TailRegistry();
  TailRegistry(const TailRegistry&) = delete;
  TailRegistry& operator=(const TailRegistry&) = delete;

  // A new tailer for `tenant`. `max_tailers` > 0 replaces the registry's per-tenant limit
  // (per-tenant limits); at the limit: InvalidArgument (HTTP 400) with Loki's message
  // "max concurrent tail requests limit exceeded, count > limit (N > L)".
  absl::StatusOr<std::shared_ptr<Tailer>> Subscribe(std::string_view tenant,
                                                    StreamMatcher matcher, int max_tailers = 0);

  // True when any tenant has a tailer. One relaxed load: the push path's only cost.
  bool active() const;
  // Offers a push's accepted entries to `tenant`'s tailers. Call only after the entries are
  // durable (WAL) and stored.
  void Notify(std::string_view tenant, std::span<const TailInput> streams);
  // Open tailers of `tenant` (Loki's TailersCount).
  size_t TailerCount(std::string_view tenant) const;

 private:
  std::shared_ptr<internal::TailHub> hub_;
};

}  // namespace norn::ingester
