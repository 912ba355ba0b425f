#include "querier/entry_source.h"

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include <xxhash.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "ingester/ingester.h"
#include "querier/querier.h"
#include "storage/chunk/memchunk.h"
#include "storage/index/object_key.h"

namespace norn::querier {
namespace internal {

// Entries of one stream collected for one Push: lines and metadata are copied into reused
// buffers because an iterator's views die when it advances, and pushing a batch instead of
// single entries lets the engine do its per-stream work (label hashing, state look-up) once per
// batch.
class EntryBatch {
 public:
  static constexpr size_t kMaxEntries = 512;
  static constexpr size_t kMaxBytes = 1 << 20;

  void Add(const chunk::EntryView& e) {
    Pending p;
    p.ts = e.timestamp_ns;
    p.line_off = bytes_.size();
    p.line_len = e.line.size();
    bytes_.append(e.line);
    p.md_off = metadata_.size();
    for (const auto& m : e.metadata) {
      metadata_.push_back(Label{std::string(m.name), std::string(m.value)});
    }
    p.md_len = metadata_.size() - p.md_off;
    pending_.push_back(p);
  }
  // An entry whose line bytes the engine does not need (SelectParams::lines_needed false):
  // only its length is kept, and the engine sees that many zero bytes.
  void AddWithoutLine(const chunk::EntryView& e) {
    Pending p;
    p.ts = e.timestamp_ns;
    p.line_off = kNoLine;
    p.line_len = e.line.size();
    p.md_off = metadata_.size();
    for (const auto& m : e.metadata) {
      metadata_.push_back(Label{std::string(m.name), std::string(m.value)});
    }
    p.md_len = metadata_.size() - p.md_off;
    pending_.push_back(p);
  }
  bool full() const { return pending_.size() >= kMaxEntries || bytes_.size() >= kMaxBytes; }
  bool empty() const { return pending_.empty(); }

  // Pushes to the sink and clears; returns the sink's answer.
  bool PushTo(const Labels& labels, logql_engine::EntrySink& sink) {
    refs_.clear();
    for (const Pending& p : pending_) {
      refs_.push_back(logql_engine::EntryRef{
          p.ts,
          p.line_off == kNoLine ? chunk::ZeroBytes(p.line_len)
                                : std::string_view(bytes_).substr(p.line_off, p.line_len),
          std::span<const Label>(metadata_).subspan(p.md_off, p.md_len)});
    }
    bool more = sink.Push(labels, refs_);
    Clear();
    return more;
  }
  void Clear() {
    pending_.clear();
    bytes_.clear();
    metadata_.clear();
  }

 private:
  static constexpr size_t kNoLine = SIZE_MAX;
  struct Pending {
    int64_t ts;
    size_t line_off, line_len, md_off, md_len;
  };
  std::vector<Pending> pending_;
  std::string bytes_;
  std::vector<Label> metadata_;
  std::vector<logql_engine::EntryRef> refs_;
};

}  // namespace internal

namespace {

using internal::EntryBatch;

struct StreamIterators {
  Labels labels;
  std::vector<std::shared_ptr<const chunk::MemChunk>> store_chunks;  // Keep decoded chunks alive.
  std::vector<std::unique_ptr<chunk::ChunkIterator>> iterators;
  size_t memory_iterators = 0;  // iterators[0, memory_iterators) read ingester chunks
  // The iterators yield no line bytes (see TenantEntrySource::Read), which is only done when
  // the chunks cannot hold copies of each other's entries: nothing to de-duplicate.
  bool without_lines = false;
};

// True when no two of the chunks can hold an entry with the same timestamp.
bool TimeDisjoint(const std::vector<index::ChunkRef>& chunks) {
  std::vector<std::pair<int64_t, int64_t>> spans;
  spans.reserve(chunks.size());
  for (const auto& c : chunks) spans.emplace_back(c.from_ns, c.through_ns);
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].first <= spans[i - 1].second) return false;
  }
  return true;
}


// Merges one stream's chunk iterators in direction order, dropping identical entries, and
// pushes them to the sink in batches. Duplicates can only come from different chunks (a chunk
// holds no exact duplicates), so the merge remembers a hash of each line at the current
// timestamp instead of copying it.
// `emit(labels, batch)` hands a full batch on (and leaves `batch` empty and reusable); it
// returns false when the stream's entries are no longer wanted.
using EmitFn = absl::FunctionRef<bool(const Labels&, EntryBatch&)>;

absl::Status MergeAndPush(StreamIterators& s, chunk::Direction direction, EmitFn emit,
                          logql_engine::SourceStats& stats, EntryBatch& batch) {
  const bool forward = direction == chunk::Direction::kForward;
  struct Source {
    chunk::ChunkIterator* it;
    bool from_memory;
  };
  std::vector<Source> heap;
  for (size_t i = 0; i < s.iterators.size(); ++i) {
    auto& it = s.iterators[i];
    if (it->Next()) {
      heap.push_back(Source{it.get(), i < s.memory_iterators});
    } else if (!it->status().ok()) {
      return it->status();
    }
  }
  auto later = [forward](const Source& a, const Source& b) {
    return forward ? a.it->entry().timestamp_ns > b.it->entry().timestamp_ns
                   : a.it->entry().timestamp_ns < b.it->entry().timestamp_ns;
  };
  std::make_heap(heap.begin(), heap.end(), later);
  int64_t last_ts = 0;
  bool have_last = false;
  std::vector<uint64_t> hashes_at_last_ts;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    Source src = heap.back();
    const chunk::EntryView& e = src.it->entry();
    logql_engine::ChunkReadStats& cs = src.from_memory ? stats.ingester_chunk : stats.store_chunk;
    cs.decompressed_lines++;
    // Lines read without their bytes were not decompressed.
    if (!s.without_lines) cs.decompressed_bytes += static_cast<int64_t>(e.line.size());
    bool duplicate = false;
    uint64_t hash = 0;
    if (s.without_lines) {
      // Disjoint chunks: no duplicates to look for (and no line bytes to hash).
    } else if (heap.size() > 1 || !hashes_at_last_ts.empty()) {
      hash = XXH3_64bits(e.line.data(), e.line.size());
      if (have_last && e.timestamp_ns == last_ts) {
        duplicate = std::find(hashes_at_last_ts.begin(), hashes_at_last_ts.end(), hash) !=
                    hashes_at_last_ts.end();
      } else {
        hashes_at_last_ts.clear();
      }
    } else {
      hashes_at_last_ts.clear();
    }
    last_ts = e.timestamp_ns;
    have_last = true;
    if (duplicate) {
      cs.total_duplicates++;
    } else {
      if (heap.size() > 1) hashes_at_last_ts.push_back(hash);
      if (src.from_memory) stats.ingester_lines_sent++;
      if (s.without_lines) {
        batch.AddWithoutLine(e);
      } else {
        batch.Add(e);
      }
      if (batch.full() && !emit(s.labels, batch)) return absl::OkStatus();
    }
    if (src.it->Next()) {
      std::push_heap(heap.begin(), heap.end(), later);
    } else {
      if (!src.it->status().ok()) return src.it->status();
      heap.pop_back();
    }
  }
  if (!batch.empty()) emit(s.labels, batch);
  return absl::OkStatus();
}

// Hands batches from the reader thread (chunk fetch, decompression, merge) to the engine
// thread (pipeline, aggregation), so a query uses two cores. Bounded: the reader waits when
// kDepth batches are queued. Batches are recycled through a free list.
class BatchPipe {
 public:
  static constexpr size_t kDepth = 8;

  struct Item {
    std::shared_ptr<const Labels> labels;
    size_t stream = 0;
    std::unique_ptr<EntryBatch> batch;
  };

  // Reader side. Moves `batch`'s contents into the pipe; false when the engine wants no more
  // of `stream` or the pipe is closed.
  bool Send(const std::shared_ptr<const Labels>& labels, size_t stream, EntryBatch& batch) {
    std::unique_lock lock(mu_);
    can_send_.wait(lock, [&] { return queue_.size() < kDepth || closed_; });
    if (closed_ || (stream < stopped_.size() && stopped_[stream])) {
      batch.Clear();  // Unwanted entries must not leak into the next stream's batch.
      return false;
    }
    std::unique_ptr<EntryBatch> fresh;
    if (!free_.empty()) {
      fresh = std::move(free_.back());
      free_.pop_back();
    } else {
      fresh = std::make_unique<EntryBatch>();
    }
    std::swap(*fresh, batch);  // `batch` becomes the recycled (empty) one
    queue_.push_back(Item{labels, stream, std::move(fresh)});
    can_receive_.notify_one();
    return true;
  }
  bool closed() {
    std::lock_guard lock(mu_);
    return closed_;
  }
  void FinishSending() {
    std::lock_guard lock(mu_);
    done_ = true;
    can_receive_.notify_one();
  }

  // Engine side: pushes every batch to the sink until the reader is done.
  void Drain(logql_engine::EntrySink& sink) {
    while (true) {
      Item item;
      {
        std::unique_lock lock(mu_);
        can_receive_.wait(lock, [&] { return !queue_.empty() || done_; });
        if (queue_.empty()) return;
        item = std::move(queue_.front());
        queue_.pop_front();
        can_send_.notify_one();
      }
      bool more = item.batch->PushTo(*item.labels, sink);
      std::lock_guard lock(mu_);
      if (sink.Done()) {
        // The query is over (deadline, cancellation): stop the reader, drop what is queued.
        closed_ = true;
        can_send_.notify_all();
      }
      if (!more) {
        if (stopped_.size() <= item.stream) stopped_.resize(item.stream + 1, false);
        stopped_[item.stream] = true;
      }
      free_.push_back(std::move(item.batch));
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable can_send_, can_receive_;
  std::deque<Item> queue_;
  std::vector<std::unique_ptr<EntryBatch>> free_;
  std::vector<bool> stopped_;
  bool done_ = false;
  bool closed_ = false;
};

}  // namespace

absl::Status TenantEntrySource::SelectLogs(const logql_engine::SelectParams& params,
                                           logql_engine::EntrySink& sink) {
  BatchPipe pipe;
  absl::Status read_status;
  std::thread reader([&] {
    // One shared copy of a stream's labels, made on its first batch (stream numbers are
    // unique within the query and come in order).
    size_t current = SIZE_MAX;
    std::shared_ptr<const Labels> shared;
    auto stop = [&pipe] { return pipe.closed(); };
    read_status = Read(params, stop, [&](const Labels& labels, size_t stream, internal::EntryBatch& batch) {
      if (stream != current) {
        shared = std::make_shared<const Labels>(labels);
        current = stream;
      }
      return pipe.Send(shared, stream, batch);
    });
    pipe.FinishSending();
  });
  pipe.Drain(sink);
  reader.join();
  return read_status;
}

absl::Status TenantEntrySource::Read(const logql_engine::SelectParams& params,
                                     const std::function<bool()>& stop,
                                     const EmitToPipe& emit_to) {
  if (limits_.max_streams_matchers_per_query > 0 &&
      params.matchers.size() > static_cast<size_t>(limits_.max_streams_matchers_per_query)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "max streams matchers per query exceeded, matchers-count > limit (%d > %d)",
        params.matchers.size(), limits_.max_streams_matchers_per_query));
  }
  chunk::IteratorOptions opts;
  opts.from = params.start_ns;
  opts.through = params.end_ns;
  opts.direction = params.direction == logql_engine::Direction::kForward
                       ? chunk::Direction::kForward
                       : chunk::Direction::kBackward;
  opts.required_substrings = params.line_filter_needles;

  // Ingester chunks are in memory: open them all up front.
  std::map<Fingerprint, StreamIterators> memory;
  ingester::Ingester* ing = querier_->ingester();
  if (ing != nullptr && querier_->UseIngesters(params.end_ns)) {
    stats_.ingester_total_reached = 1;
    stats_.ingester_batches++;
    ing->ForEachStream(tenant_, [&](ingester::Stream& s) {
      if (!logql_engine::MatchesAll(params.matchers, s.labels())) return;
      for (const auto& d : s.chunks) {
        if (d.chunk->Stats().entries == 0) continue;
        auto [from, through] = d.chunk->Bounds();
        if (from >= params.end_ns || through < params.start_ns) continue;
        auto& entry = memory[s.fingerprint()];
        if (entry.labels.empty()) entry.labels = s.labels();
        entry.iterators.push_back(d.chunk->Iterator(opts));
        entry.memory_iterators = entry.iterators.size();
        stats_.ingester_chunks_matched++;
      }
    });
  }
  ASSIGN_OR_RETURN(auto refs, querier_->StoreChunkRefs(tenant_, params.matchers, params.start_ns,
                                                       params.end_ns));
  std::sort(refs.begin(), refs.end(),
            [](const auto& a, const auto& b) { return a.fingerprint < b.fingerprint; });
  if (limits_.max_chunks_per_query > 0) {
    size_t total = 0;
    for (const auto& r : refs) total += r.chunks.size();
    if (total > static_cast<size_t>(limits_.max_chunks_per_query)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("the query hit the max number of chunks limit (limit: %d chunks)",
                          limits_.max_chunks_per_query));
    }
  }

  // Store chunks are fetched a batch of series at a time (bounded memory, parallel fetches),
  // and each stream is merged with its ingester chunks and pushed before the next batch.
  constexpr size_t kChunksPerBatch = 64;
  EntryBatch entries;
  size_t stream_no = 0;
  auto mem_it = memory.begin();
  auto flush_memory_before = [&](Fingerprint fp, bool all) -> absl::Status {
    for (; mem_it != memory.end() && (all || mem_it->first < fp); ++mem_it) {
      const size_t id = stream_no++;
      RETURN_IF_ERROR(MergeAndPush(
          mem_it->second, opts.direction,
          [&](const Labels& l, EntryBatch& b) { return emit_to(l, id, b); }, stats_, entries));
    }
    return absl::OkStatus();
  };
  size_t next = 0;
  while (next < refs.size()) {
    if (stop()) return absl::OkStatus();  // The query is over; the engine has its status.
    size_t end = next;
    size_t chunks = 0;
    std::vector<ChunkToFetch> batch;
    while (end < refs.size() && (end == next || chunks + refs[end].chunks.size() <= kChunksPerBatch)) {
      for (const auto& ref : refs[end].chunks) batch.push_back(ChunkToFetch{refs[end].fingerprint, ref});
      chunks += refs[end].chunks.size();
      ++end;
    }
    stats_.store_chunks_ref += static_cast<int64_t>(batch.size());
    // With needles, only the blocks that may hold them are read.
    ASSIGN_OR_RETURN(auto fetched,
                     params.line_filter_needles.empty()
                         ? querier_->FetchChunks(tenant_, batch, &stats_)
                         : querier_->FetchChunksForNeedles(tenant_, batch,
                                                           params.line_filter_needles,
                                                           params.start_ns, params.end_ns,
                                                           &stats_));
    size_t k = 0;
    for (size_t i = next; i < end; ++i) {
      auto& series = refs[i];
      RETURN_IF_ERROR(flush_memory_before(series.fingerprint, false));
      StreamIterators s;
      if (mem_it != memory.end() && mem_it->first == series.fingerprint) {
        s = std::move(mem_it->second);
        ++mem_it;
      }
      if (s.labels.empty()) s.labels = std::move(series.labels);
      s.without_lines =
          !params.lines_needed && s.iterators.empty() && TimeDisjoint(series.chunks);
      chunk::IteratorOptions chunk_opts = opts;
      chunk_opts.lines = !s.without_lines;
      for (size_t c = 0; c < series.chunks.size(); ++c, ++k) {
        s.iterators.push_back(fetched[k]->Iterator(chunk_opts));
        s.store_chunks.push_back(std::move(fetched[k]));
      }
      const size_t id = stream_no++;
      RETURN_IF_ERROR(MergeAndPush(
          s, opts.direction, [&](const Labels& l, EntryBatch& b) { return emit_to(l, id, b); },
          stats_, entries));
    }
    next = end;
  }
  return flush_memory_before(0, true);
}

void AddStats(const logql_engine::SourceStats& a, logql_engine::SourceStats& sum) {
  auto add_chunk = [](const logql_engine::ChunkReadStats& x, logql_engine::ChunkReadStats& y) {
    y.head_chunk_bytes += x.head_chunk_bytes;
    y.head_chunk_lines += x.head_chunk_lines;
    y.decompressed_bytes += x.decompressed_bytes;
    y.decompressed_lines += x.decompressed_lines;
    y.compressed_bytes += x.compressed_bytes;
    y.total_duplicates += x.total_duplicates;
  };
  sum.ingester_total_reached = std::max(sum.ingester_total_reached, a.ingester_total_reached);
  sum.ingester_chunks_matched += a.ingester_chunks_matched;
  sum.ingester_batches += a.ingester_batches;
  sum.ingester_lines_sent += a.ingester_lines_sent;
  add_chunk(a.ingester_chunk, sum.ingester_chunk);
  sum.store_chunks_ref += a.store_chunks_ref;
  sum.store_chunks_downloaded += a.store_chunks_downloaded;
  sum.store_download_time_ns += a.store_download_time_ns;
  add_chunk(a.store_chunk, sum.store_chunk);
  sum.chunk_cache_requests += a.chunk_cache_requests;
  sum.chunk_cache_entries_requested += a.chunk_cache_entries_requested;
  sum.chunk_cache_entries_found += a.chunk_cache_entries_found;
  sum.chunk_cache_bytes_received += a.chunk_cache_bytes_received;
  sum.chunk_cache_bytes_sent += a.chunk_cache_bytes_sent;
}

std::vector<std::string> SelectTenants(const std::vector<std::string>& tenants,
                                       std::vector<logql::syntax::Matcher>& matchers) {
  std::vector<logql::syntax::Matcher> tenant_matchers;
  std::vector<logql::syntax::Matcher> rest;
  for (auto& m : matchers) {
    (m.name() == kTenantLabel ? tenant_matchers : rest).push_back(std::move(m));
  }
  matchers = std::move(rest);
  std::vector<std::string> out;
  for (const auto& t : tenants) {
    bool ok = true;
    for (const auto& m : tenant_matchers) ok = ok && m.Matches(t);
    if (ok) out.push_back(t);
  }
  return out;
}

namespace {

// Adds `__tenant_id__` to every stream on its way to the engine (labels built once per stream).
class TenantLabelSink : public logql_engine::EntrySink {
 public:
  TenantLabelSink(std::string_view tenant, logql_engine::EntrySink& inner)
      : tenant_(tenant), inner_(inner) {}
  bool Push(const Labels& stream, std::span<const logql_engine::EntryRef> entries) override {
    Fingerprint fp = stream.Hash();
    auto it = labels_.find(fp);
    if (it == labels_.end()) {
      std::vector<Label> pairs(stream.begin(), stream.end());
      pairs.push_back(Label{std::string(kTenantLabel), tenant_});
      it = labels_.emplace(fp, Labels(std::move(pairs))).first;
    }
    return inner_.Push(it->second, entries);
  }

 private:
  std::string tenant_;
  logql_engine::EntrySink& inner_;
  std::map<Fingerprint, Labels> labels_;
};

}  // namespace

absl::Status MultiTenantEntrySource::SelectLogs(const logql_engine::SelectParams& params,
                                                logql_engine::EntrySink& sink) {
  if (tenants_.size() == 1) {
    TenantEntrySource one(querier_, tenants_[0], limits_);
    absl::Status st = one.SelectLogs(params, sink);
    AddStats(one.stats(), stats_);
    return st;
  }
  logql_engine::SelectParams own = params;
  std::vector<std::string> selected = SelectTenants(tenants_, own.matchers);
  for (const auto& tenant : selected) {
    TenantLabelSink labelled(tenant, sink);
    TenantEntrySource one(querier_, tenant, limits_);
    absl::Status st = one.SelectLogs(own, labelled);
    AddStats(one.stats(), stats_);
    RETURN_IF_ERROR(st);
  }
  return absl::OkStatus();
}

}  // namespace norn::querier
