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

  std::map<Fingerprint, StreamIterators> streams;
  ingester::Ingester* ing = querier_->ingester();
  if (ing != nullptr && querier_->UseIngesters(params.end_ns)) {
    ing->ForEachStream(tenant_, [&](ingester::Stream& s) {
      if (!logql_engine::MatchesAll(params.matchers, s.labels())) return;
      for (const auto& d : s.chunks) {
        if (d.chunk->Stats().entries == 0) continue;
        auto [from, through] = d.chunk->Bounds();
        if (from >= params.end_ns || through < params.start_ns) continue;
        auto& entry = streams[s.fingerprint()];
        if (entry.labels.empty()) entry.labels = s.labels();
        entry.iterators.push_back(d.chunk->Iterator(opts));
      }
    });
  }
  ASSIGN_OR_RETURN(auto index_set, querier_->StoreIndex(tenant_, params.start_ns, params.end_ns));
  ASSIGN_OR_RETURN(auto index_matchers, ToIndexMatchers(params.matchers));
  ASSIGN_OR_RETURN(auto refs, index_set.ChunkRefs(index_matchers, params.start_ns,
                                                  params.end_ns - 1));
  for (auto& series : refs) {
    auto& entry = streams[series.fingerprint];
    if (entry.labels.empty()) entry.labels = series.labels;
    for (const auto& ref : series.chunks) {
      ASSIGN_OR_RETURN(auto chunk, querier_->FetchChunk(tenant_, series.fingerprint, ref));
      entry.iterators.push_back(chunk->Iterator(opts));
      entry.store_chunks.push_back(std::move(chunk));
    }
  }
  for (auto& [fp, s] : streams) {
    RETURN_IF_ERROR(MergeAndPush(s, opts.direction, sink));
  }
  return absl::OkStatus();
}

}  // namespace norn::querier
