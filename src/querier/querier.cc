#include "querier/querier.h"

#include <algorithm>
#include <atomic>
#include <latch>
#include <set>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cache/cache.h"
#include "cache/lru_cache.h"
#include "common/sort_unique.h"
#include "common/status.h"
#include "ingester/ingester.h"
#include "storage/index/object_key.h"

namespace norn::querier {
namespace {

bool MatchesAll(const Labels& labels, const Matchers& matchers) {
  for (const auto& m : matchers) {
    if (!m.Matches(labels.Get(m.name()))) return false;
  }
  return true;
}

// Chunk fetches in flight at once: storage_config.max_parallel_get_chunk (at most 32) hides
// network latency; a store that is not latency bound (the filesystem) gets one per core, as
// more would only add thread wake-ups.
size_t FetchThreads(int max_parallel_get_chunk, const objstore::ObjectClient* store) {
  size_t n = static_cast<size_t>(std::clamp(max_parallel_get_chunk, 1, 32));
  if (store != nullptr && !store->LatencyBound()) {
    n = std::min<size_t>(n, std::max(1u, std::thread::hardware_concurrency()));
  }
  return n;
}

}  // namespace

absl::StatusOr<std::vector<index::Matcher>> ToIndexMatchers(const Matchers& matchers) {
  std::vector<index::Matcher> out;
  out.reserve(matchers.size());
  for (const auto& m : matchers) {
    index::Matcher::Type t = index::Matcher::Type::kEq;
    switch (m.type()) {
      case logql::syntax::MatchType::kEqual: t = index::Matcher::Type::kEq; break;
      case logql::syntax::MatchType::kNotEqual: t = index::Matcher::Type::kNeq; break;
      case logql::syntax::MatchType::kRegexp: t = index::Matcher::Type::kRe; break;
      case logql::syntax::MatchType::kNotRegexp: t = index::Matcher::Type::kNre; break;
    }
    ASSIGN_OR_RETURN(auto im, index::Matcher::Create(t, m.name(), m.value()));
    out.push_back(std::move(im));
  }
  return out;
}

Querier::Querier(QuerierOptions options, ingester::Ingester* ingester,
                 std::shared_ptr<indexgateway::IndexClient> index,
                 std::shared_ptr<objstore::ObjectClient> store,
                 std::shared_ptr<cache::Cache> chunk_cache)
    : options_(std::move(options)),
      ingester_(ingester),
      index_(options_.query_ingester_only ? nullptr : std::move(index)),
      store_(std::move(store)),
      chunk_cache_(std::move(chunk_cache)),
      fetch_threads_(FetchThreads(options_.max_parallel_get_chunk, store_.get())),
      fetch_pool_(std::make_unique<boost::asio::thread_pool>(fetch_threads_)) {
  if (chunk_cache_ == nullptr && options_.chunk_index_cache_mb > 0) {
    cache::EmbeddedCacheOptions o;
    o.enabled = true;
    o.max_size_mb = options_.chunk_index_cache_mb;
    o.ttl = absl::ZeroDuration();  // chunk objects never change under their keys
    cache::LruCacheEnv env;
    env.purge_interval = absl::ZeroDuration();  // nothing expires
    // Not wrapped in Instrument: Loki's generic cache metrics (loki_cache_hits, ...) are
    // counters without the _total suffix, which Prometheus' lint rejects; a cache that is on
    // by default should not bring them into every querier's /metrics.
    index_cache_ = std::make_shared<cache::LruCache>("chunk-index", o, std::move(env));
  }
}

Querier::~Querier() {
  fetch_pool_->join();
}

bool Querier::UseIngesters(int64_t end_ns) const {
  if (ingester_ == nullptr || options_.query_store_only) return false;
  if (options_.query_ingesters_within_ns <= 0) return true;
  return end_ns >= absl::GetCurrentTimeNanos() - options_.query_ingesters_within_ns;
}

absl::StatusOr<std::vector<index::SeriesChunks>> Querier::StoreChunkRefs(
    std::string_view tenant, const Matchers& matchers, int64_t start_ns, int64_t end_ns) {
  if (index_ == nullptr) return std::vector<index::SeriesChunks>{};
  ASSIGN_OR_RETURN(auto index_matchers, ToIndexMatchers(matchers));
  return index_->ChunkRefs(tenant, index_matchers, start_ns, end_ns - 1);
}

namespace {

// `from_cache`: every block is checked now, so that a damaged cache entry can be taken for a
// miss; a store object's blocks are checked as they are decoded (a query reads a time range,
// often a few blocks of a chunk), and a damaged one fails the query as it would anyway.
absl::StatusOr<std::shared_ptr<const chunk::MemChunk>> DecodeChunk(objstore::SharedBytes bytes,
                                                                   const std::string& key,
                                                                   bool from_cache) {
  auto chunk = chunk::MemChunk::DecodeShared(std::move(bytes.owner), bytes.bytes,
                                             /*verify_blocks=*/from_cache);
  if (!chunk.ok()) {
    return absl::Status(chunk.status().code(),
                        absl::StrCat("chunk ", key, ": ", chunk.status().message()));
  }
  return std::shared_ptr<const chunk::MemChunk>(std::move(*chunk));
}

std::vector<std::string> ChunkKeys(std::string_view tenant,
                                   std::span<const ChunkToFetch> chunks) {
  std::vector<std::string> keys;
  keys.reserve(chunks.size());
  for (const auto& c : chunks) {
    keys.push_back(index::ChunkObjectKey(tenant, c.fingerprint, c.ref.from_ns, c.ref.through_ns,
                                         c.ref.checksum));
  }
  return keys;
}

}  // namespace

std::vector<std::optional<std::string>> Querier::CacheFetch(const std::vector<std::string>& keys,
                                                            logql_engine::SourceStats& stats,
                                                            cache::Cache* cache) {
  std::vector<std::optional<std::string>> out(keys.size());
  if (cache == nullptr || keys.empty())
    return out;
  std::vector<std::string_view> views(keys.begin(), keys.end());
  cache::FetchResult hits = cache->Fetch(views);
  stats.chunk_cache_requests++;
  stats.chunk_cache_entries_requested += static_cast<int64_t>(views.size());
  StringMap<size_t> found;
  for (size_t i = 0; i < hits.found_keys.size(); ++i) found.emplace(hits.found_keys[i], i);
  for (size_t i = 0; i < keys.size(); ++i) {
    auto it = found.find(keys[i]);
    if (it == found.end())
      continue;
    stats.chunk_cache_bytes_received += static_cast<int64_t>(hits.values[it->second].size());
    out[i] = std::move(hits.values[it->second]);
  }
  return out;
}

void Querier::CacheStore(const std::vector<std::string>& keys,
                         std::span<const std::string_view> values, logql_engine::SourceStats& stats,
                         cache::Cache* cache) {
  if (cache == nullptr || keys.empty())
    return;
  // Of a cache that knows its size, one read takes at most a share (what it stores first):
  // a scan of more chunks than the cache holds would otherwise push out everything in it for
  // chunks that the next scan evicts before it gets back to them (an LRU smaller than a
  // repeated scan never hits), paying a copy of each. Memcached stores everything, as Loki.
  size_t n = keys.size();
  if (const uint64_t capacity = cache->CapacityBytes(); capacity > 0) {
    const uint64_t budget = capacity / kReadShareOfCache;
    uint64_t sent = static_cast<uint64_t>(stats.chunk_cache_bytes_sent);
    n = 0;
    while (n < keys.size() && sent + values[n].size() <= budget)
      sent += values[n++].size();
  }
  if (n == 0)
    return;
  std::vector<std::string_view> key_views(keys.begin(), keys.begin() + n);
  cache->Store(key_views, values.first(n));
  for (std::string_view v : values.first(n))
    stats.chunk_cache_bytes_sent += static_cast<int64_t>(v.size());
}

std::vector<size_t> Querier::FromChunkCache(
    const std::vector<std::string>& keys, std::vector<std::shared_ptr<const chunk::MemChunk>>& out,
    logql_engine::SourceStats& stats, uint64_t* hit_bytes) {
  std::vector<size_t> missing;
  std::vector<std::optional<std::string>> values = CacheFetch(keys, stats, chunk_cache_.get());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (values[i].has_value()) {
      *hit_bytes += values[i]->size();
      auto owned = std::make_shared<const std::string>(*std::move(values[i]));
      auto decoded = DecodeChunk(objstore::SharedBytes{owned, *owned}, keys[i], true);
      // A damaged cache entry is a miss, not an error: the store has the real object.
      if (decoded.ok()) {
        stats.chunk_cache_entries_found++;
        out[i] = std::move(*decoded);
        continue;
      }
    }
    missing.push_back(i);
  }
  return missing;
}

void Querier::OnFetchPool(size_t n, absl::FunctionRef<void(size_t)> task) {
  if (n == 0) return;
  // Workers take indexes from a shared counter, and the calling thread works too instead of
  // only waiting: n small fetches (chunks of a few KB) wake at most fetch_threads_ - 1 pool
  // threads, not one task each.
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t j = next.fetch_add(1); j < n; j = next.fetch_add(1)) task(j);
  };
  const size_t helpers = std::min(n, fetch_threads_) - 1;
  std::latch done(static_cast<std::ptrdiff_t>(helpers));
  for (size_t h = 0; h < helpers; ++h) {
    boost::asio::post(*fetch_pool_, [&] {
      work();
      done.count_down();
    });
  }
  work();
  done.wait();
}

absl::StatusOr<std::shared_ptr<const chunk::MemChunk>> Querier::FetchChunk(
    std::string_view tenant, Fingerprint fp, const index::ChunkRef& ref) {
  ChunkToFetch one{fp, ref};
  ASSIGN_OR_RETURN(auto chunks, FetchChunks(tenant, std::span<const ChunkToFetch>(&one, 1)));
  return std::move(chunks[0]);
}

absl::StatusOr<std::vector<std::shared_ptr<const chunk::MemChunk>>> Querier::FetchChunks(
    std::string_view tenant, std::span<const ChunkToFetch> chunks,
    logql_engine::SourceStats* stats) {
  logql_engine::SourceStats ignored;
  if (stats == nullptr) stats = &ignored;
  std::vector<std::shared_ptr<const chunk::MemChunk>> out(chunks.size());
  if (chunks.empty()) return out;
  if (store_ == nullptr) return absl::FailedPreconditionError("no object store configured");
  std::vector<std::string> keys = ChunkKeys(tenant, chunks);
  uint64_t hit_bytes = 0;
  std::vector<size_t> missing = FromChunkCache(keys, out, *stats, &hit_bytes);
  stats->store_chunk.compressed_bytes += static_cast<int64_t>(hit_bytes);
  if (missing.empty()) return out;

  // Fetch the misses in parallel; each task owns its slot of `bytes` and `errors`.
  std::vector<objstore::SharedBytes> bytes(missing.size());
  std::vector<absl::Status> errors(missing.size());
  const int64_t fetch_start = absl::GetCurrentTimeNanos();
  OnFetchPool(missing.size(), [&](size_t j) {
    auto got = store_->GetShared(keys[missing[j]]);
    if (got.ok()) {
      bytes[j] = std::move(*got);
    } else {
      errors[j] = absl::Status(got.status().code(), absl::StrCat("chunk ", keys[missing[j]], ": ",
                                                                 got.status().message()));
    }
  });
  stats->store_download_time_ns += absl::GetCurrentTimeNanos() - fetch_start;
  for (const auto& e : errors) RETURN_IF_ERROR(e);
  stats->store_chunks_downloaded += static_cast<int64_t>(missing.size());
  for (const auto& b : bytes)
    stats->store_chunk.compressed_bytes += static_cast<int64_t>(b.bytes.size());
  if (chunk_cache_ != nullptr) {
    std::vector<std::string> store_keys;
    std::vector<std::string_view> store_values;
    for (size_t j = 0; j < missing.size(); ++j) {
      store_keys.push_back(keys[missing[j]]);
      store_values.push_back(bytes[j].bytes);
    }
    CacheStore(store_keys, store_values, *stats, chunk_cache_.get());
  }
  for (size_t j = 0; j < missing.size(); ++j) {
    ASSIGN_OR_RETURN(out[missing[j]], DecodeChunk(std::move(bytes[j]), keys[missing[j]], false));
  }
  return out;
}

namespace {

// Cache keys of the parts of a chunk object that ranged reads fetch on their own: the end of
// the object from (at least) its index on, and each block.
std::string IndexCacheKey(std::string_view chunk_key) {
  return absl::StrCat(AV(chunk_key), "#index");
}
std::string BlockCacheKey(std::string_view chunk_key, uint64_t offset) {
  return absl::StrCat(AV(chunk_key), "#", offset);
}

// Where `tail` (the last bytes of a chunk object of `size` bytes) has the chunk's index: its
// location in the object and the part of `tail` from the index on.
absl::StatusOr<std::pair<chunk::IndexLocation, std::string_view>> IndexInTail(std::string_view tail,
                                                                              uint64_t size) {
  if (tail.size() < chunk::kTrailerSize || tail.size() > size)
    return absl::DataLossError("chunk tail out of range");
  const uint64_t start = size - tail.size();
  ASSIGN_OR_RETURN(chunk::IndexLocation loc,
                   chunk::ParseTrailer(tail.substr(tail.size() - chunk::kTrailerSize), size));
  if (loc.offset < start)
    return absl::DataLossError("chunk tail does not hold the index");
  return std::make_pair(loc, tail.substr(loc.offset - start));
}

// Parses `tail`, the last bytes of a chunk object of `size` bytes that hold its index and
// trailer (as ReadChunkTail returns them and the chunk cache keeps them). The blocks' token
// filters view `tail`.
absl::StatusOr<chunk::ChunkIndex> ParseChunkTail(std::shared_ptr<const std::string> tail,
                                                 uint64_t size) {
  ASSIGN_OR_RETURN(auto found, IndexInTail(*tail, size));
  const auto& [loc, from_index] = found;
  return chunk::ParseIndex(from_index.substr(0, loc.length), loc, std::move(tail));
}

// The end of `tail` (as ParseChunkTail takes it) from the chunk's index on: what a cache of
// indexes keeps. All of `tail` when it holds no index (ParseChunkTail reports that).
std::string_view IndexPart(std::string_view tail, uint64_t size) {
  auto found = IndexInTail(tail, size);
  return found.ok() ? found->second : tail;
}

// Reads the end of the chunk object `key` (of `size` bytes) from its index on, or a little
// more: the whole object when it is small.
absl::StatusOr<std::shared_ptr<const std::string>> ReadChunkTail(objstore::ObjectClient& store,
                                                                 const std::string& key,
                                                                 uint64_t size,
                                                                 uint64_t* bytes_read) {
  // The index is a little over 5% of a chunk (token filters take 5% of the block bytes): a
  // read of the last sixteenth usually holds trailer and index, and otherwise only the rest of
  // the index is read.
  const uint64_t tail_len = std::min<uint64_t>(size, std::max<uint64_t>(16 << 10, size / 16));
  const uint64_t tail_start = size - tail_len;
  ASSIGN_OR_RETURN(std::string tail, store.GetRange(key, tail_start, tail_len));
  *bytes_read += tail.size();
  if (tail.size() != tail_len || tail_len < chunk::kTrailerSize)
    return absl::DataLossError("short read of the chunk's tail");
  ASSIGN_OR_RETURN(
      chunk::IndexLocation loc,
      chunk::ParseTrailer(std::string_view(tail).substr(tail_len - chunk::kTrailerSize), size));
  if (loc.offset >= tail_start)
    return std::make_shared<const std::string>(std::move(tail));
  ASSIGN_OR_RETURN(std::string head, store.GetRange(key, loc.offset, tail_start - loc.offset));
  *bytes_read += head.size();
  if (head.size() != tail_start - loc.offset)
    return absl::DataLossError("short read of the chunk's index");
  head.append(tail);
  return std::make_shared<const std::string>(std::move(head));
}

// The blocks of `blocks` that overlap [from_ns, through_ns) and may hold every needle; those
// that lie within `bytes` (may be null), the end of their object from `bytes_start` on, get
// their data from it (with `verify`, only when it passes the block's checksum: bytes from a
// cache, whose damage must be a miss rather than a failed query).
std::vector<std::shared_ptr<const chunk::Block>> WantedBlocks(
    const std::vector<std::shared_ptr<const chunk::Block>>& blocks,
    std::span<const std::string> needles, int64_t from_ns, int64_t through_ns,
    const std::shared_ptr<const std::string>& bytes = nullptr, uint64_t bytes_start = 0,
    bool verify = false) {
  std::vector<std::shared_ptr<const chunk::Block>> out;
  for (const auto& b : blocks) {
    if (!b->Overlaps(from_ns, through_ns)) continue;
    bool may = true;
    for (const auto& n : needles) may = may && b->MayContain(n);
    if (!may)
      continue;
    const chunk::BlockMeta& m = b->meta();
    bool inside = bytes != nullptr && m.offset >= bytes_start &&
                  m.offset + m.compressed_size <= bytes_start + bytes->size();
    if (inside && verify) {
      const std::string_view data =
          std::string_view(*bytes).substr(m.offset - bytes_start, m.compressed_size);
      inside = chunk::Checksum64(data) == m.checksum;
    }
    out.push_back(inside ? b->WithData(bytes, m.offset - bytes_start) : b);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ChunkBlocks>> Querier::FetchChunkIndexes(
    std::string_view tenant, std::span<const ChunkToFetch> chunks,
    std::span<const std::string> needles, int64_t from_ns, int64_t through_ns,
    logql_engine::SourceStats* stats) {
  logql_engine::SourceStats ignored;
  if (stats == nullptr) stats = &ignored;
  std::vector<ChunkBlocks> out(chunks.size());
  if (chunks.empty()) return out;
  if (store_ == nullptr) return absl::FailedPreconditionError("no object store configured");
  std::vector<std::string> keys = ChunkKeys(tenant, chunks);
  auto keep_index = [&](size_t i, const chunk::ChunkIndex& index,
                        const std::shared_ptr<const std::string>& tail, bool from_cache) {
    out[i].encoding = index.encoding;
    out[i].blocks = WantedBlocks(index.blocks, needles, from_ns, through_ns, tail,
                                 chunks[i].ref.size_bytes - tail->size(), from_cache);
  };
  // Chunk tails from the cache. (Whole chunks cached by FetchChunks are not looked up: every
  // chunk costs one key, so a query served from the cache shows no misses.)
  std::vector<std::string> tail_keys;
  for (const std::string& key : keys)
    tail_keys.push_back(IndexCacheKey(key));
  // The chunk cache keeps whole tails (with the blocks they hold); without one, the index
  // cache keeps their index part only.
  cache::Cache* const tail_cache =
      chunk_cache_ != nullptr ? chunk_cache_.get() : index_cache_.get();
  std::vector<std::optional<std::string>> cached = CacheFetch(tail_keys, *stats, tail_cache);
  std::vector<size_t> missing;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (cached[i].has_value() && chunks[i].ref.size_bytes > 0) {
      auto tail = std::make_shared<const std::string>(*std::move(cached[i]));
      auto index = ParseChunkTail(tail, chunks[i].ref.size_bytes);
      // A damaged cache entry is a miss: the store has the real object.
      if (index.ok()) {
        stats->chunk_cache_entries_found++;
        keep_index(i, *index, tail, /*from_cache=*/true);
        continue;
      }
    }
    missing.push_back(i);
  }
  std::vector<absl::Status> errors(missing.size());
  std::vector<uint64_t> read(missing.size(), 0);
  std::vector<std::shared_ptr<const std::string>> tails(missing.size());  // for the cache
  const int64_t fetch_start = absl::GetCurrentTimeNanos();
  OnFetchPool(missing.size(), [&](size_t j) {
    const size_t i = missing[j];
    absl::Status st;
    if (chunks[i].ref.size_bytes == 0) {
      // An index without object sizes: fetch the whole object.
      auto whole = store_->GetShared(keys[i]);
      if (whole.ok())
        read[j] = whole->bytes.size();
      auto c = whole.ok() ? DecodeChunk(*std::move(whole), keys[i], false) : whole.status();
      if (c.ok()) {
        out[i].encoding = (*c)->encoding();
        out[i].blocks = WantedBlocks((*c)->blocks(), needles, from_ns, through_ns);
      }
      st = c.status();
    } else {
      auto tail = ReadChunkTail(*store_, keys[i], chunks[i].ref.size_bytes, &read[j]);
      auto index = tail.ok() ? ParseChunkTail(*tail, chunks[i].ref.size_bytes)
                             : absl::StatusOr<chunk::ChunkIndex>(tail.status());
      if (index.ok()) {
        keep_index(i, *index, *tail, /*from_cache=*/false);
        tails[j] = *tail;
      }
      st = index.status();
    }
    if (!st.ok()) {
      errors[j] = absl::Status(st.code(), absl::StrCat("chunk ", keys[i], ": ", st.message()));
    }
  });
  stats->store_download_time_ns += absl::GetCurrentTimeNanos() - fetch_start;
  for (const auto& e : errors) RETURN_IF_ERROR(e);
  stats->store_chunks_downloaded += static_cast<int64_t>(missing.size());
  for (uint64_t r : read) stats->store_chunk.compressed_bytes += static_cast<int64_t>(r);
  if (tail_cache != nullptr) {
    std::vector<std::string> store_keys;
    std::vector<std::string_view> store_values;
    for (size_t j = 0; j < missing.size(); ++j) {
      if (tails[j] == nullptr)
        continue;
      store_keys.push_back(tail_keys[missing[j]]);
      store_values.push_back(tail_cache == chunk_cache_.get()
                                 ? std::string_view(*tails[j])
                                 : IndexPart(*tails[j], chunks[missing[j]].ref.size_bytes));
    }
    CacheStore(store_keys, store_values, *stats, tail_cache);
  }
  for (size_t i = 0; i < chunks.size(); ++i)
    out[i].key = std::move(keys[i]);
  return out;
}

absl::Status Querier::FetchBlockData(std::span<const BlockToRead> reads,
                                     logql_engine::SourceStats* stats) {
  logql_engine::SourceStats ignored;
  if (stats == nullptr)
    stats = &ignored;
  std::vector<BlockToRead> todo;
  for (const BlockToRead& r : reads) {
    if (!(*r.block)->has_data())
      todo.push_back(r);
  }
  if (todo.empty())
    return absl::OkStatus();
  if (store_ == nullptr)
    return absl::FailedPreconditionError("no object store configured");
  if (chunk_cache_ != nullptr) {
    std::vector<std::string> block_keys;
    for (const BlockToRead& r : todo)
      block_keys.push_back(BlockCacheKey(*r.key, (*r.block)->meta().offset));
    std::vector<std::optional<std::string>> cached =
        CacheFetch(block_keys, *stats, chunk_cache_.get());
    std::vector<BlockToRead> still;
    for (size_t k = 0; k < todo.size(); ++k) {
      std::shared_ptr<const chunk::Block>& b = *todo[k].block;
      // A damaged entry is a miss: the store has the real block.
      if (cached[k].has_value() && cached[k]->size() == b->meta().compressed_size &&
          chunk::Checksum64(*cached[k]) == b->meta().checksum) {
        stats->chunk_cache_entries_found++;
        b = b->WithData(std::make_shared<const std::string>(*std::move(cached[k])), 0);
        continue;
      }
      still.push_back(todo[k]);
    }
    todo = std::move(still);
    if (todo.empty())
      return absl::OkStatus();
  }
  std::sort(todo.begin(), todo.end(), [](const BlockToRead& a, const BlockToRead& b) {
    if (*a.key != *b.key)
      return *a.key < *b.key;
    return (*a.block)->meta().offset < (*b.block)->meta().offset;
  });
  // Blocks are contiguous in their object: adjacent ones are read together.
  struct Range {
    size_t begin, end;  // in todo
    uint64_t start, length;
  };
  std::vector<Range> ranges;
  for (size_t k = 0; k < todo.size(); ++k) {
    const chunk::BlockMeta& m = (*todo[k].block)->meta();
    if (!ranges.empty()) {
      Range& last = ranges.back();
      if (*todo[last.begin].key == *todo[k].key && last.start + last.length == m.offset) {
        last.length += m.compressed_size;
        last.end = k + 1;
        continue;
      }
    }
    ranges.push_back(Range{k, k + 1, m.offset, m.compressed_size});
  }
  std::vector<absl::Status> errors(ranges.size());
  std::vector<uint64_t> read(ranges.size(), 0);
  const int64_t fetch_start = absl::GetCurrentTimeNanos();
  OnFetchPool(ranges.size(), [&](size_t j) {
    const Range& r = ranges[j];
    const std::string& key = *todo[r.begin].key;
    auto bytes = store_->GetRangeShared(key, r.start, r.length);
    if (bytes.ok() && bytes->bytes.size() != r.length)
      bytes = absl::DataLossError("short read of chunk blocks");
    if (!bytes.ok()) {
      errors[j] = absl::Status(bytes.status().code(),
                               absl::StrCat("chunk ", key, ": ", bytes.status().message()));
      return;
    }
    read[j] = bytes->bytes.size();
    for (size_t k = r.begin; k < r.end; ++k) {
      std::shared_ptr<const chunk::Block>& b = *todo[k].block;
      b = b->WithData(bytes->owner, bytes->bytes, b->meta().offset - r.start);
    }
  });
  stats->store_download_time_ns += absl::GetCurrentTimeNanos() - fetch_start;
  for (uint64_t r : read)
    stats->store_chunk.compressed_bytes += static_cast<int64_t>(r);
  for (const auto& e : errors)
    RETURN_IF_ERROR(e);
  if (chunk_cache_ != nullptr) {
    std::vector<std::string> store_keys;
    std::vector<std::string_view> store_values;
    for (const BlockToRead& r : todo) {
      store_keys.push_back(BlockCacheKey(*r.key, (*r.block)->meta().offset));
      store_values.push_back((*r.block)->data());
    }
    CacheStore(store_keys, store_values, *stats, chunk_cache_.get());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::shared_ptr<const chunk::MemChunk>>> Querier::FetchChunksForNeedles(
    std::string_view tenant, std::span<const ChunkToFetch> chunks,
    std::span<const std::string> needles, int64_t from_ns, int64_t through_ns,
    logql_engine::SourceStats* stats) {
  ASSIGN_OR_RETURN(std::vector<ChunkBlocks> indexes,
                   FetchChunkIndexes(tenant, chunks, needles, from_ns, through_ns, stats));
  std::vector<BlockToRead> reads;
  for (ChunkBlocks& c : indexes) {
    for (auto& b : c.blocks)
      reads.push_back(BlockToRead{&c.key, &b});
  }
  RETURN_IF_ERROR(FetchBlockData(reads, stats));
  std::vector<std::shared_ptr<const chunk::MemChunk>> out;
  out.reserve(indexes.size());
  for (ChunkBlocks& c : indexes) {
    out.push_back(chunk::MemChunk::FromBlocks(c.encoding, std::move(c.blocks)));
  }
  return out;
}

std::vector<Labels> Querier::IngesterSeries(std::string_view tenant, const Matchers& matchers,
                                            int64_t start_ns, int64_t end_ns) {
  std::vector<Labels> out;
  if (!UseIngesters(end_ns)) return out;
  ingester_->ForEachStream(tenant, [&](ingester::Stream& s) {
    bool overlaps = false;
    for (const auto& d : s.chunks) {
      if (d.chunk->Stats().entries == 0) continue;
      auto [from, through] = d.chunk->Bounds();
      if (from < end_ns && through >= start_ns) {
        overlaps = true;
        break;
      }
    }
    if (overlaps && MatchesAll(s.labels(), matchers)) out.push_back(s.labels());
  });
  return out;
}

absl::StatusOr<std::vector<std::string>> Querier::LabelNames(std::string_view tenant,
                                                             int64_t start_ns, int64_t end_ns) {
  std::set<std::string> names;
  for (const Labels& l : IngesterSeries(tenant, {}, start_ns, end_ns)) {
    for (const Label& p : l) names.insert(p.name);
  }
  if (index_ != nullptr) {
    ASSIGN_OR_RETURN(auto store_names, index_->LabelNames(tenant, {}, start_ns, end_ns - 1));
    for (auto& n : store_names) names.insert(std::move(n));
  }
  return std::vector<std::string>(names.begin(), names.end());
}

absl::StatusOr<std::vector<std::string>> Querier::LabelValues(std::string_view tenant,
                                                              std::string_view name,
                                                              const Matchers& matchers,
                                                              int64_t start_ns, int64_t end_ns) {
  std::vector<std::string> values;
  if (index_ != nullptr) {
    ASSIGN_OR_RETURN(auto index_matchers, ToIndexMatchers(matchers));
    ASSIGN_OR_RETURN(values,
                     index_->LabelValues(tenant, name, index_matchers, start_ns, end_ns - 1));
  }
  for (const Labels& l : IngesterSeries(tenant, matchers, start_ns, end_ns)) {
    if (l.Has(name)) values.emplace_back(l.Get(name));
  }
  SortUnique(values);
  return values;
}

absl::StatusOr<std::vector<Labels>> Querier::Series(std::string_view tenant,
                                                    const std::vector<Matchers>& groups,
                                                    int64_t start_ns, int64_t end_ns) {
  std::vector<Labels> out;
  for (const Matchers& matchers : groups) {
    for (Labels& l : IngesterSeries(tenant, matchers, start_ns, end_ns)) out.push_back(std::move(l));
    if (index_ == nullptr) continue;
    ASSIGN_OR_RETURN(auto index_matchers, ToIndexMatchers(matchers));
    ASSIGN_OR_RETURN(auto series, index_->Series(tenant, index_matchers, start_ns, end_ns - 1));
    for (auto& s : series) out.push_back(std::move(s.labels));
  }
  SortUnique(out);
  return out;
}

absl::StatusOr<index::IndexStats> Querier::Stats(std::string_view tenant,
                                                 const Matchers& matchers, int64_t start_ns,
                                                 int64_t end_ns) {
  // Loki's /index/stats counts what the index knows (flushed chunks), as here.
  if (index_ == nullptr) return index::IndexStats{};
  ASSIGN_OR_RETURN(auto index_matchers, ToIndexMatchers(matchers));
  return index_->Stats(tenant, index_matchers, start_ns, end_ns - 1);
}

}  // namespace norn::querier
