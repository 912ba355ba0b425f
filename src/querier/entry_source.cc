#include "querier/entry_source.h"

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_format.h"
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
    return TenantEntrySource(querier_, tenants_[0], limits_).SelectLogs(params, sink);
  }
  logql_engine::SelectParams own = params;
  std::vector<std::string> selected = SelectTenants(tenants_, own.matchers);
  for (const auto& tenant : selected) {
    TenantLabelSink labelled(tenant, sink);
    RETURN_IF_ERROR(TenantEntrySource(querier_, tenant, limits_).SelectLogs(own, labelled));
  }
  return absl::OkStatus();
}

}  // namespace norn::querier
