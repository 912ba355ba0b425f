// Ingester: keeps recent streams in memory per tenant, appends pushed entries to chunks, logs
// every acknowledged push to the WAL first-class (nothing is acknowledged that is not durable),
// flushes full / old / idle chunks to the object store with an index file naming them, and
// replays the WAL on start so `kill -9` loses nothing that was acknowledged.
//
// Threads: Push() is called concurrently by the distributor (HTTP handler threads); a flush
// loop (std::jthread) sweeps every flush_check_period and checkpoints the WAL every
// checkpoint_duration; FlushAll() (the /flush endpoint) runs a sweep synchronously. Sweeps are
// serialised by flush_mu_. Lock order: instances_mu_ -> Instance::mu_ -> Stream::mu.
//
// Lifecycle: construct, Start() (replay, open WAL, start the loop), Stop() (stop the loop, flush
// everything when configured or when the WAL is off, close the WAL).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/labels.h"
#include "common/strings.h"
#include "config/config.h"
#include "ingester/stream.h"
#include "ingester/tailer.h"
#include "storage/chunk/memchunk.h"
#include "storage/objstore/object_client.h"
#include "storage/wal/wal.h"

namespace norn::cache {
class Cache;
}

namespace norn::ingester {

// One stream's part of a push, already validated by the distributor. Views are valid for the
// duration of the Push() call only.
struct StreamBatch {
  // The stream's labels, or null when the distributor knew its label string from an earlier
  // push and did not parse it again: `labels_text` is then parsed only to create a stream the
  // ingester does not hold.
  const Labels* labels = nullptr;
  Fingerprint fingerprint = 0;
  std::span<const wal::EntryView> entries;
  std::string_view labels_text;
};

// What the distributor talks to: an ingester in this process, or (later) one over gRPC.
class IngesterClient {
 public:
  virtual ~IngesterClient() = default;
  // OK when every entry was stored (or was an exact duplicate). Otherwise the first error class
  // wins: kUnavailable (WAL failure: nothing from this call is acknowledged), then
  // kResourceExhausted (stream or rate limits), then kInvalidArgument (out of order); entries
  // without an error are stored either way, as Loki does.
  [[nodiscard]] virtual absl::Status Push(std::string_view tenant,
                                          std::span<const StreamBatch> streams) = 0;
};

struct IngesterOptions {
  std::string instance_id = "ingester";  // Names this ingester's index files.
  chunk::ChunkOptions chunk;
  absl::Duration max_chunk_age = absl::Hours(2);
  absl::Duration chunk_idle_period = absl::Minutes(30);
  absl::Duration chunk_retain_period = absl::ZeroDuration();
  absl::Duration flush_check_period = absl::Seconds(30);
  // Full chunks are flushed as soon as this many compressed bytes of them wait in memory,
  // without waiting for the next flush_check_period (0: only at the periodic sweep). Loki
  // holds them until the sweep; flushing early bounds the ingest RSS (issue 3) and puts data
  // in the store sooner.
  uint64_t early_flush_bytes = 32ull << 20;
  // When the heads of all streams take more memory than this, a push compacts the head of the
  // stream it appends to (compresses it in memory, MemChunk::CompactHead) once
  // kMinCompactBytes of it are not compressed yet. Blocks keep their size, so chunks are the
  // same; with many slowly filling streams, heads shrink by about the compression ratio.
  uint64_t head_compaction_threshold = 64ull << 20;
  static constexpr uint64_t kMinCompactBytes = 4096;
  // When the heads of all streams take more memory than this, a push cuts the head of the
  // stream it appends to into a block (once it holds kMinPressureCutBytes) instead of waiting
  // for chunk_block_size (0, the default: never, as Loki). A hard upper bound for memory at
  // the price of smaller blocks: budget / active streams is roughly the block size it leaves.
  uint64_t head_memory_budget = 0;
  static constexpr uint64_t kMinPressureCutBytes = 8192;
  int concurrent_flushes = 32;
  int flush_max_retries = 5;
  absl::Duration flush_backoff = absl::Milliseconds(100);
  bool wal_enabled = true;
  std::string wal_dir;
  bool wal_direct_io = true;
  absl::Duration checkpoint_duration = absl::Minutes(5);
  bool flush_on_shutdown = false;
  std::string index_prefix = "index_";
  TailRegistryOptions tail;  // Live tailing (tailer.h).
  // chunk_store_config.write_dedupe_cache_config: chunk objects already written (by this
  // ingester or a replica holding the identical chunk) are not uploaded again. May be null.
  std::shared_ptr<cache::Cache> write_dedupe_cache;
  // chunk_store_config.chunk_cache_config: flushed chunks are written to it too. May be null.
  std::shared_ptr<cache::Cache> chunk_cache;

  static absl::StatusOr<IngesterOptions> FromConfig(const config::Config& cfg);
};

using LimitsProvider =
    std::function<std::shared_ptr<const config::TenantLimits>(std::string_view tenant)>;

// Counters for tests and logs.
struct FlushStats {
  uint64_t chunks_flushed = 0;
  uint64_t index_files_written = 0;
  uint64_t failures = 0;
};

class Instance;

class Ingester : public IngesterClient {
 public:
  Ingester(IngesterOptions options, std::shared_ptr<objstore::ObjectClient> store,
           LimitsProvider limits);
  ~Ingester() override;
  Ingester(const Ingester&) = delete;
  Ingester& operator=(const Ingester&) = delete;

  [[nodiscard]] absl::Status Start();
  void Stop();

  absl::Status Push(std::string_view tenant, std::span<const StreamBatch> streams) override;

  // Closes every head chunk, uploads everything, writes the index and checkpoints the WAL (so
  // its flushed segments are deleted). Returns the first flush error.
  [[nodiscard]] absl::Status FlushAll();

  // Read access for queries and tests: calls `fn` for every stream of `tenant` with its lock
  // held. Keep `fn` short (create iterators, copy metadata).
  void ForEachStream(std::string_view tenant, const std::function<void(Stream&)>& fn);
  std::vector<std::string> Tenants();
  FlushStats flush_stats();
  // Live tail subscriptions: every accepted entry is offered to them after the WAL commit.
  TailRegistry& tail_registry() { return tails_; }

 private:
  Instance* GetOrCreateInstance(std::string_view tenant);
  absl::Status Replay();
  void FlushLoop(std::stop_token stop);
  // One sweep: close heads due (all when `immediate`), upload closed chunks, write index files,
  // drop stored chunks past the retain period and empty idle streams.
  absl::Status Sweep(bool immediate);
  absl::Status UploadChunks(std::vector<std::pair<std::string, Stream*>>& work);
  absl::Status WriteIndexes();
  absl::Status Checkpoint();
  absl::Status PutWithRetry(const std::string& key, std::string_view data);

  const IngesterOptions options_;
  std::shared_ptr<objstore::ObjectClient> store_;
  LimitsProvider limits_;
  std::unique_ptr<wal::Wal> wal_;

  std::mutex instances_mu_;
  StringMap<std::unique_ptr<Instance>> instances_;  // Guarded by instances_mu_.

  // Called (under the stream's lock) when the push path closes a full chunk: counts its bytes
  // and wakes the flush loop once early_flush_bytes are waiting.
  void NoteClosedChunk(uint64_t compressed_bytes);
  // Updates head_memory_ with the memory of `s`'s open head (s->mu held); over
  // head_compaction_threshold compacts it, over head_memory_budget cuts it.
  absl::Status CountHead(Stream& s);

  std::mutex flush_mu_;  // Serialises sweeps and checkpoints.
  // Wakes the flush loop before its period ends (early flushes).
  std::mutex wake_mu_;
  std::condition_variable_any wake_cv_;
  std::atomic<uint64_t> closed_unflushed_bytes_{0};
  // Memory of the open head blocks of all streams (as last counted per stream).
  std::atomic<int64_t> head_memory_{0};
  uint64_t index_seq_ = 0;  // Guarded by flush_mu_.
  absl::Time last_checkpoint_;
  FlushStats stats_;  // Guarded by flush_mu_.
  std::jthread flush_loop_;
  bool started_ = false;
  TailRegistry tails_;
};

// A tenant's streams, keyed by fingerprint, with an inverted index for queries on recent data.
class Instance {
 public:
  explicit Instance(std::string tenant) : tenant_(std::move(tenant)) {}
  const std::string& tenant() const { return tenant_; }

  // The stream for `labels`, created if needed unless the tenant is at `max_streams` (0 = no
  // limit); *created tells whether it is new. Null when over the limit.
  Stream* GetOrCreate(const Labels& labels, Fingerprint fp, int64_t now_ns, size_t max_streams,
                      bool* created);
  // GetOrCreate for each of a push's streams in order, under one lock: out[i] is batches[i]'s
  // stream, or null when over `max_streams` (or when a label string the distributor accepted
  // before does not parse, which cannot happen unless it was mistaken for another).
  void GetOrCreateAll(std::span<const StreamBatch> batches, int64_t now_ns, size_t max_streams,
                      std::vector<Stream*>& out);
  // The stream with fingerprint `fp`, or null.
  Stream* Find(Fingerprint fp);
  // Streams whose labels have name=value (for queries); empty value lists every stream.
  std::vector<Stream*> Lookup(std::string_view name, std::string_view value);
  std::vector<Stream*> All();
  // Removes streams that hold no chunks and have not been pushed to for `idle`.
  size_t RemoveEmpty(absl::Time now, absl::Duration idle);
  size_t size();

 private:
  Stream* GetOrCreateLocked(const StreamBatch& batch, int64_t now_ns, size_t max_streams,
                            bool* created);  // mu_ held

  const std::string tenant_;
  std::mutex mu_;
  absl::flat_hash_map<Fingerprint, std::unique_ptr<Stream>> streams_;  // Guarded by mu_.
  // name -> value -> streams. Guarded by mu_.
  StringMap<StringMap<absl::flat_hash_set<Fingerprint>>> postings_;
};

}  // namespace norn::ingester
