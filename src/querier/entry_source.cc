#include "querier/entry_source.h"

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "common/status.h"
#include "ingester/ingester.h"
#include "querier/querier.h"
#include "storage/chunk/memchunk.h"
#include "storage/index/object_key.h"

namespace norn::querier {
namespace {

struct StreamIterators {
  Labels labels;
  std::vector<std::shared_ptr<const chunk::MemChunk>> store_chunks;  // Keep decoded chunks alive.
  std::vector<std::unique_ptr<chunk::ChunkIterator>> iterators;
};

// Merges one stream's chunk iterators in direction order, dropping identical entries, and
// pushes them to the sink one at a time (a view is valid only until its iterator advances).
absl::Status MergeAndPush(StreamIterators& s, chunk::Direction direction,
                          logql_engine::EntrySink& sink) {
  const bool forward = direction == chunk::Direction::kForward;
  std::vector<chunk::ChunkIterator*> heap;
  for (auto& it : s.iterators) {
    if (it->Next()) {
      heap.push_back(it.get());
    } else if (!it->status().ok()) {
      return it->status();
    }
  }
  auto later = [forward](chunk::ChunkIterator* a, chunk::ChunkIterator* b) {
    return forward ? a->entry().timestamp_ns > b->entry().timestamp_ns
                   : a->entry().timestamp_ns < b->entry().timestamp_ns;
  };
  std::make_heap(heap.begin(), heap.end(), later);
  int64_t last_ts = 0;
  bool have_last = false;
  std::vector<std::string> lines_at_last_ts;  // To drop duplicates across chunks.
  std::vector<Label> metadata;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    chunk::ChunkIterator* it = heap.back();
    const chunk::EntryView& e = it->entry();
    bool duplicate = false;
    if (have_last && e.timestamp_ns == last_ts) {
      duplicate = std::find(lines_at_last_ts.begin(), lines_at_last_ts.end(), e.line) !=
                  lines_at_last_ts.end();
    } else {
      lines_at_last_ts.clear();
      last_ts = e.timestamp_ns;
      have_last = true;
    }
    if (!duplicate) {
      lines_at_last_ts.emplace_back(e.line);
      metadata.clear();
      for (const auto& m : e.metadata) metadata.push_back(Label{std::string(m.name), std::string(m.value)});
      logql_engine::EntryRef ref{e.timestamp_ns, e.line, metadata};
      if (!sink.Push(s.labels, std::span<const logql_engine::EntryRef>(&ref, 1))) return absl::OkStatus();
    }
    if (it->Next()) {
      std::push_heap(heap.begin(), heap.end(), later);
    } else {
      if (!it->status().ok()) return it->status();
      heap.pop_back();
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status TenantEntrySource::SelectLogs(const logql_engine::SelectParams& params,
                                           logql_engine::EntrySink& sink) {
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
    ing->ForEachStream(tenant_, [&](ingester::Stream& s) {
      if (!logql_engine::MatchesAll(params.matchers, s.labels())) return;
      for (const auto& d : s.chunks) {
        if (d.chunk->Stats().entries == 0) continue;
        auto [from, through] = d.chunk->Bounds();
        if (from >= params.end_ns || through < params.start_ns) continue;
        auto& entry = memory[s.fingerprint()];
        if (entry.labels.empty()) entry.labels = s.labels();
        entry.iterators.push_back(d.chunk->Iterator(opts));
      }
    });
  }
  ASSIGN_OR_RETURN(auto refs, querier_->StoreChunkRefs(tenant_, params.matchers, params.start_ns,
                                                       params.end_ns));
  std::sort(refs.begin(), refs.end(),
            [](const auto& a, const auto& b) { return a.fingerprint < b.fingerprint; });

  // Store chunks are fetched a batch of series at a time (bounded memory, parallel fetches),
  // and each stream is merged with its ingester chunks and pushed before the next batch.
  constexpr size_t kChunksPerBatch = 64;
  auto mem_it = memory.begin();
  auto flush_memory_before = [&](Fingerprint fp, bool all) -> absl::Status {
    for (; mem_it != memory.end() && (all || mem_it->first < fp); ++mem_it) {
      RETURN_IF_ERROR(MergeAndPush(mem_it->second, opts.direction, sink));
    }
    return absl::OkStatus();
  };
  size_t next = 0;
  while (next < refs.size()) {
    size_t end = next;
    size_t chunks = 0;
    std::vector<ChunkToFetch> batch;
    while (end < refs.size() && (end == next || chunks + refs[end].chunks.size() <= kChunksPerBatch)) {
      for (const auto& ref : refs[end].chunks) batch.push_back(ChunkToFetch{refs[end].fingerprint, ref});
      chunks += refs[end].chunks.size();
      ++end;
    }
    ASSIGN_OR_RETURN(auto fetched, querier_->FetchChunks(tenant_, batch));
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
      for (size_t c = 0; c < series.chunks.size(); ++c, ++k) {
        s.iterators.push_back(fetched[k]->Iterator(opts));
        s.store_chunks.push_back(std::move(fetched[k]));
      }
      RETURN_IF_ERROR(MergeAndPush(s, opts.direction, sink));
    }
    next = end;
  }
  return flush_memory_before(0, true);
}

}  // namespace norn::querier
