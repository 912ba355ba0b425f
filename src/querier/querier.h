// Querier: answers a tenant's queries from the ingesters (recent data in memory) and the store
// (chunks named by index files in object storage), merging and de-duplicating the two.
// This part serves the metadata APIs: label names, label values, series and index stats; log
// and metric queries plug the LogQL engine in on top of the same two sources.
//
// Thread-safe: every method may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/labels.h"
#include "common/strings.h"
#include "indexgateway/index_client.h"
#include "logql/engine/query.h"
#include "logql/syntax/ast.h"
#include "storage/chunk/memchunk.h"
#include "storage/index/types.h"
#include "storage/objstore/object_client.h"

namespace norn::ingester {
class Ingester;
}
namespace norn::cache {
class Cache;
}
namespace boost::asio {
class thread_pool;
}

namespace norn::querier {

struct QuerierOptions {
  std::string index_prefix = "index_";
  // Only ask the ingesters about queries whose end is within this of now (0 = always).
  int64_t query_ingesters_within_ns = 0;
  bool query_store_only = false;
  bool query_ingester_only = false;
  // Chunk objects fetched from the store at once (storage_config.max_parallel_get_chunk); the
  // fetch pool has min(this, 32) threads.
  int max_parallel_get_chunk = 150;
  // `X-Scope-OrgID: a|b` reads (querier.multi_tenant_queries_enabled).
  bool multi_tenant_queries_enabled = false;
  // Megabytes of the in-process cache of chunk indexes, used when no chunk cache is given
  // (querier.chunk_index_cache_size_mb; 0: none).
  int chunk_index_cache_mb = 0;
};

// A chunk to fetch from the store.
struct ChunkToFetch {
  Fingerprint fingerprint = 0;
  index::ChunkRef ref;
};

// A store chunk read block by block: first its index (a ranged read of the object's tail),
// then only the blocks a reader gets to (FetchBlockData).
struct ChunkBlocks {
  std::string key;
  chunk::Encoding encoding = chunk::Encoding::kNone;
  // The chunk's blocks that overlap the asked range and may hold every needle, in chunk order.
  // Those that lie within the tail that was read (from the store or the cache; the whole object
  // when it is small or the index has no object sizes) carry their data already.
  std::vector<std::shared_ptr<const chunk::Block>> blocks;
};

// One block whose data FetchBlockData reads: `*block` is replaced by a copy with its data.
struct BlockToRead {
  const std::string* key;
  std::shared_ptr<const chunk::Block>* block;
};

using Matchers = std::vector<logql::syntax::Matcher>;

class Querier {
 public:
  // `index` answers look-ups over flushed data (in-process or an index gateway); `store` holds
  // the chunks. Either may be null (ingester-only deployments and tests).
  // `chunk_cache` (may be null) holds encoded chunk objects by object key.
  Querier(QuerierOptions options, ingester::Ingester* ingester,
          std::shared_ptr<indexgateway::IndexClient> index,
          std::shared_ptr<objstore::ObjectClient> store,
          std::shared_ptr<cache::Cache> chunk_cache = nullptr);
  ~Querier();

  // Times are [start_ns, end_ns) as Loki's APIs use them.
  absl::StatusOr<std::vector<std::string>> LabelNames(std::string_view tenant, int64_t start_ns,
                                                      int64_t end_ns);
  absl::StatusOr<std::vector<std::string>> LabelValues(std::string_view tenant,
                                                       std::string_view name,
                                                       const Matchers& matchers, int64_t start_ns,
                                                       int64_t end_ns);
  // Union over the matcher groups (`match[]` may repeat).
  absl::StatusOr<std::vector<Labels>> Series(std::string_view tenant,
                                             const std::vector<Matchers>& groups,
                                             int64_t start_ns, int64_t end_ns);
  absl::StatusOr<index::IndexStats> Stats(std::string_view tenant, const Matchers& matchers,
                                          int64_t start_ns, int64_t end_ns);

  // A flushed chunk, from the chunk cache or the store (decoded lazily: blocks decompress as
  // they are iterated).
  absl::StatusOr<std::shared_ptr<const chunk::MemChunk>> FetchChunk(std::string_view tenant,
                                                                    Fingerprint fp,
                                                                    const index::ChunkRef& ref);
  // Several chunks: one multi-get from the chunk cache, the misses fetched from the store in
  // parallel and written back to the cache. Results in the order of `chunks`.
  // `stats` (optional) receives the store and chunk-cache counters.
  absl::StatusOr<std::vector<std::shared_ptr<const chunk::MemChunk>>> FetchChunks(
      std::string_view tenant, std::span<const ChunkToFetch> chunks,
      logql_engine::SourceStats* stats = nullptr);
  // For queries whose lines must contain every one of `needles`: FetchChunkIndexes, then the
  // data of every block it kept (ranged reads of just those bytes). A chunk with no such block
  // comes back with no blocks.
  absl::StatusOr<std::vector<std::shared_ptr<const chunk::MemChunk>>> FetchChunksForNeedles(
      std::string_view tenant, std::span<const ChunkToFetch> chunks,
      std::span<const std::string> needles, int64_t from_ns, int64_t through_ns,
      logql_engine::SourceStats* stats = nullptr);
  // The index of each chunk (results in the order of `chunks`), keeping the blocks that
  // overlap [from_ns, through_ns) and whose token filters may hold every needle: one chunk-cache
  // look-up of the chunks' tails, then one parallel round of ranged reads of the others'.
  absl::StatusOr<std::vector<ChunkBlocks>> FetchChunkIndexes(
      std::string_view tenant, std::span<const ChunkToFetch> chunks,
      std::span<const std::string> needles, int64_t from_ns, int64_t through_ns,
      logql_engine::SourceStats* stats = nullptr);
  // Reads the data of every block in `reads` (adjacent blocks of an object in one ranged
  // read, the reads in parallel). Blocks that have their data already are left alone.
  absl::Status FetchBlockData(std::span<const BlockToRead> reads,
                              logql_engine::SourceStats* stats = nullptr);
  ingester::Ingester* ingester() const { return ingester_; }
  const QuerierOptions& options() const { return options_; }
  bool UseIngesters(int64_t end_ns) const;

  // Flushed series with their chunk refs overlapping [start_ns, end_ns) (none when the store
  // is not queried).
  absl::StatusOr<std::vector<index::SeriesChunks>> StoreChunkRefs(std::string_view tenant,
                                                                  const Matchers& matchers,
                                                                  int64_t start_ns,
                                                                  int64_t end_ns);

  // One read (`SourceStats`: a query has one per reader thread) stores at most
  // 1/kReadShareOfCache of a cache's capacity, when the cache knows it.
  static constexpr uint64_t kReadShareOfCache = 8;

 private:
  // Looks `keys` up in `cache` (none: all misses) in one batch (the request, keys and bytes
  // received counted in `stats`): element i holds keys[i]'s value if there was one.
  std::vector<std::optional<std::string>> CacheFetch(const std::vector<std::string>& keys,
                                                     logql_engine::SourceStats& stats,
                                                     cache::Cache* cache);
  // Stores keys[i] -> values[i] in `cache` (none: nothing; bytes sent counted in `stats`), as
  // many as fit in the read's share of a cache that knows its capacity (kReadShareOfCache).
  void CacheStore(const std::vector<std::string>& keys, std::span<const std::string_view> values,
                  logql_engine::SourceStats& stats, cache::Cache* cache);
  // Fills `out[i]` for each key found in the chunk cache (hit bytes added to `hit_bytes`) and
  // returns the indexes of the others.
  std::vector<size_t> FromChunkCache(const std::vector<std::string>& keys,
                                     std::vector<std::shared_ptr<const chunk::MemChunk>>& out,
                                     logql_engine::SourceStats& stats, uint64_t* hit_bytes);
  // Runs task(0..n-1) on the fetch pool and waits for all of them.
  void OnFetchPool(size_t n, absl::FunctionRef<void(size_t)> task);

  // Streams in the ingester whose chunks overlap the range and that match every matcher.
  std::vector<Labels> IngesterSeries(std::string_view tenant, const Matchers& matchers,
                                     int64_t start_ns, int64_t end_ns);

  const QuerierOptions options_;
  ingester::Ingester* ingester_;
  // Null when the store is not queried (query_ingester_only or no store).
  std::shared_ptr<indexgateway::IndexClient> index_;
  std::shared_ptr<objstore::ObjectClient> store_;
  std::shared_ptr<cache::Cache> chunk_cache_;
  // Without a chunk cache: chunk indexes (the index part of each chunk's tail, no block data)
  // kept in process, so repeated needle and limit-bound reads do not open every chunk object
  // again (with 20,000 small chunks that was half of a needle query's CPU).
  std::shared_ptr<cache::Cache> index_cache_;
  size_t fetch_threads_;  // of fetch_pool_: chunk fetches in flight at once (FetchThreads)
  std::unique_ptr<boost::asio::thread_pool> fetch_pool_;
};

// Adapts LogQL matchers to the index's matcher type.
absl::StatusOr<std::vector<index::Matcher>> ToIndexMatchers(const Matchers& matchers);

}  // namespace norn::querier
