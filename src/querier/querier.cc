#include "querier/querier.h"

#include <algorithm>
#include <atomic>
#include <latch>
#include <thread>
#include <set>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cache/cache.h"
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
      fetch_pool_(std::make_unique<boost::asio::thread_pool>(fetch_threads_)) {}

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

absl::StatusOr<std::shared_ptr<const chunk::MemChunk>> DecodeChunk(std::string bytes,
                                                                  const std::string& key) {
  auto chunk = chunk::MemChunk::DecodeOwned(std::move(bytes));
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

std::vector<size_t> Querier::FromChunkCache(
    const std::vector<std::string>& keys,
    std::vector<std::shared_ptr<const chunk::MemChunk>>& out, logql_engine::SourceStats& stats,
    uint64_t* hit_bytes) {
  std::vector<size_t> missing;
  if (chunk_cache_ == nullptr) {
    for (size_t i = 0; i < keys.size(); ++i) missing.push_back(i);
    return missing;
  }
  std::vector<std::string_view> views(keys.begin(), keys.end());
  cache::FetchResult hits = chunk_cache_->Fetch(views);
  stats.chunk_cache_requests++;
  stats.chunk_cache_entries_requested += static_cast<int64_t>(views.size());
  stats.chunk_cache_entries_found += static_cast<int64_t>(hits.found_keys.size());
  for (const auto& v : hits.values) {
    stats.chunk_cache_bytes_received += static_cast<int64_t>(v.size());
    *hit_bytes += v.size();
  }
  StringMap<size_t> found;
  for (size_t i = 0; i < hits.found_keys.size(); ++i) found.emplace(hits.found_keys[i], i);
  for (size_t i = 0; i < keys.size(); ++i) {
    auto it = found.find(keys[i]);
    if (it != found.end()) {
      auto decoded = DecodeChunk(std::move(hits.values[it->second]), keys[i]);
      // A damaged cache entry is a miss, not an error: the store has the real object.
      if (decoded.ok()) {
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
  std::vector<std::string> bytes(missing.size());
  std::vector<absl::Status> errors(missing.size());
  const int64_t fetch_start = absl::GetCurrentTimeNanos();
  OnFetchPool(missing.size(), [&](size_t j) {
    auto got = store_->Get(keys[missing[j]]);
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
  for (const auto& b : bytes) stats->store_chunk.compressed_bytes += static_cast<int64_t>(b.size());
  if (chunk_cache_ != nullptr) {
    std::vector<std::string_view> store_keys, store_values;
    for (size_t j = 0; j < missing.size(); ++j) {
      store_keys.push_back(keys[missing[j]]);
      store_values.push_back(bytes[j]);
    }
    chunk_cache_->Store(store_keys, store_values);
    for (const auto& v : store_values) stats->chunk_cache_bytes_sent += static_cast<int64_t>(v.size());
  }
  for (size_t j = 0; j < missing.size(); ++j) {
    ASSIGN_OR_RETURN(out[missing[j]], DecodeChunk(std::move(bytes[j]), keys[missing[j]]));
  }
  return out;
}

namespace {

// Reads the blocks of one chunk object that may hold every needle (see FetchChunksForNeedles).
absl::StatusOr<std::shared_ptr<const chunk::MemChunk>> ReadCandidateBlocks(
    objstore::ObjectClient& store, const std::string& key, uint64_t size,
    std::span<const std::string> needles, int64_t from_ns, int64_t through_ns,
    uint64_t* bytes_read) {
  // The index is a little over 5% of a chunk (token filters take 5% of the block bytes): a
  // read of the last sixteenth usually holds trailer and index, and otherwise only the rest of
  // the index is read.
  const uint64_t tail_len = std::min<uint64_t>(size, std::max<uint64_t>(16 << 10, size / 16));
  const uint64_t tail_start = size - tail_len;
  ASSIGN_OR_RETURN(std::string tail_bytes, store.GetRange(key, tail_start, tail_len));
  *bytes_read += tail_bytes.size();
  if (tail_bytes.size() != tail_len)
    return absl::DataLossError("short read of the chunk's tail");
  auto tail = std::make_shared<const std::string>(std::move(tail_bytes));
  ASSIGN_OR_RETURN(
      chunk::IndexLocation loc,
      chunk::ParseTrailer(std::string_view(*tail).substr(tail_len - chunk::kTrailerSize), size));
  // The block filters view the index bytes (no copy); `index_owner` keeps them alive.
  std::shared_ptr<const std::string> index_owner = tail;
  std::string_view index_bytes;
  if (loc.offset >= tail_start) {
    index_bytes = std::string_view(*tail).substr(loc.offset - tail_start, loc.length);
  } else {
    ASSIGN_OR_RETURN(std::string head, store.GetRange(key, loc.offset, tail_start - loc.offset));
    *bytes_read += head.size();
    if (head.size() != tail_start - loc.offset) {
      return absl::DataLossError("short read of the chunk's index");
    }
    head.append(*tail, 0, tail_len - chunk::kTrailerSize);
    index_owner = std::make_shared<const std::string>(std::move(head));
    index_bytes = *index_owner;
  }
  ASSIGN_OR_RETURN(chunk::ChunkIndex index, chunk::ParseIndex(index_bytes, loc, index_owner));
  std::vector<std::shared_ptr<const chunk::Block>> wanted;
  for (const auto& b : index.blocks) {
    if (!b->Overlaps(from_ns, through_ns)) continue;
    bool may = true;
    for (const auto& n : needles) may = may && b->MayContain(n);
    if (may) wanted.push_back(b);
  }
  // A chunk smaller than the tail read is all in hand already.
  std::shared_ptr<const std::string> whole;
  if (tail_start == 0)
    whole = tail;
  // Otherwise adjacent candidate blocks are read together (blocks are contiguous in the object).
  std::vector<std::shared_ptr<const chunk::Block>> blocks;
  size_t i = 0;
  while (i < wanted.size()) {
    size_t j = i + 1;
    uint64_t start = wanted[i]->meta().offset;
    uint64_t end = start + wanted[i]->meta().compressed_size;
    while (j < wanted.size() && wanted[j]->meta().offset == end) {
      end += wanted[j]->meta().compressed_size;
      ++j;
    }
    std::shared_ptr<const std::string> buf = whole;
    uint64_t buf_start = 0;
    if (buf == nullptr) {
      ASSIGN_OR_RETURN(std::string bytes, store.GetRange(key, start, end - start));
      *bytes_read += bytes.size();
      if (bytes.size() != end - start) return absl::DataLossError("short read of chunk blocks");
      buf = std::make_shared<const std::string>(std::move(bytes));
      buf_start = start;
    }
    for (size_t k = i; k < j; ++k) {
      blocks.push_back(wanted[k]->WithData(buf, wanted[k]->meta().offset - buf_start));
    }
    i = j;
  }
  return std::shared_ptr<const chunk::MemChunk>(
      chunk::MemChunk::FromBlocks(index.encoding, std::move(blocks)));
}

}  // namespace

absl::StatusOr<std::vector<std::shared_ptr<const chunk::MemChunk>>>
Querier::FetchChunksForNeedles(std::string_view tenant, std::span<const ChunkToFetch> chunks,
                               std::span<const std::string> needles, int64_t from_ns,
                               int64_t through_ns, logql_engine::SourceStats* stats) {
  logql_engine::SourceStats ignored;
  if (stats == nullptr) stats = &ignored;
  std::vector<std::shared_ptr<const chunk::MemChunk>> out(chunks.size());
  if (chunks.empty()) return out;
  if (store_ == nullptr) return absl::FailedPreconditionError("no object store configured");
  std::vector<std::string> keys = ChunkKeys(tenant, chunks);
  uint64_t hit_bytes = 0;  // Whole chunks from the cache are not reads of the store.
  std::vector<size_t> missing = FromChunkCache(keys, out, *stats, &hit_bytes);
  if (missing.empty()) return out;
  std::vector<absl::Status> errors(missing.size());
  std::vector<uint64_t> read(missing.size(), 0);
  const int64_t fetch_start = absl::GetCurrentTimeNanos();
  OnFetchPool(missing.size(), [&](size_t j) {
    const size_t i = missing[j];
    absl::StatusOr<std::shared_ptr<const chunk::MemChunk>> c;
    if (chunks[i].ref.size_bytes == 0) {
      // An index without object sizes: fetch the whole object.
      auto whole = store_->Get(keys[i]);
      if (whole.ok()) read[j] = whole->size();
      c = whole.ok() ? DecodeChunk(std::move(*whole), keys[i]) : whole.status();
    } else {
      c = ReadCandidateBlocks(*store_, keys[i], chunks[i].ref.size_bytes, needles, from_ns,
                              through_ns, &read[j]);
    }
    if (c.ok()) {
      out[i] = std::move(*c);
    } else {
      errors[j] = absl::Status(c.status().code(),
                               absl::StrCat("chunk ", keys[i], ": ", c.status().message()));
    }
  });
  stats->store_download_time_ns += absl::GetCurrentTimeNanos() - fetch_start;
  for (const auto& e : errors) RETURN_IF_ERROR(e);
  stats->store_chunks_downloaded += static_cast<int64_t>(missing.size());
  for (uint64_t r : read) stats->store_chunk.compressed_bytes += static_cast<int64_t>(r);
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
