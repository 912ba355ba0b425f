// Log queries: pipeline per stream, grouping by final labels, direction + limit with a bounded
// heap across streams.
#include <algorithm>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "common/status.h"
#include "logql/engine/eval_internal.h"
#include "logql/engine/pipeline_builder.h"
#include "logql/log/pipeline.h"

namespace norn::logql_engine::internal {

namespace {

struct Candidate {
  int64_t ts;
  uint32_t stream;  // index into LogCollector::labels_
  std::string line;
};

class LogCollector : public EntrySink {
 public:
  LogCollector(logql_log::Pipeline* p, const LogQuery& q)
      : pipeline_(p),
        forward_(q.direction == Direction::kForward),
        // With an interval every entry may matter (which ones survive depends on the ones
        // before), so nothing is cut while reading.
        limit_(q.interval_ns > 0 ? std::numeric_limits<uint32_t>::max() : q.limit),
        out_limit_(q.limit),
        interval_(q.interval_ns),
        interrupt_(q) {
    heap_.reserve(std::min<uint32_t>(limit_, 4096));
  }

  bool Done() const override { return !interrupt_.status().ok(); }
  const absl::Status& status() const { return interrupt_.status(); }

  bool Push(const Labels& stream, std::span<const EntryRef> entries) override {
    if (interrupt_.Check())
      return false;
    logql_log::StreamPipeline* sp = pipeline_->ForStream(stream);
    for (const EntryRef& e : entries) {
      // A stream's entries come in direction order: once one is past the worst kept
      // candidate, so are the rest. (An equal timestamp may still win on labels or line.)
      if (Full() && BetterTs(heap_.front().ts, e.ts_ns))
        return false;
      lines_processed_++;
      bytes_processed_ += static_cast<int64_t>(e.line.size());
      std::string_view out;
      if (!sp->Process(e.ts_ns, e.line, e.structured_metadata, &out))
        continue;
      Fingerprint h = sp->builder().Hash();
      auto [it, inserted] = ids_.try_emplace(h, static_cast<uint32_t>(labels_.size()));
      if (inserted)
        labels_.push_back(sp->builder().CachedLabels());
      Add(e.ts_ns, it->second, out);
    }
    return true;
  }

  // Takes over the candidates of a collector that read other streams of the same query. The
  // result does not depend on how streams were spread: candidates are ranked by timestamp,
  // then labels, then line.
  void MergeFrom(LogCollector& other) {
    lines_processed_ += other.lines_processed_;
    bytes_processed_ += other.bytes_processed_;
    // other's stream ids -> ours (the same labels get the same id).
    std::vector<uint32_t> ids(other.labels_.size());
    for (const auto& [h, other_id] : other.ids_) {
      auto [it, inserted] = ids_.try_emplace(h, static_cast<uint32_t>(labels_.size()));
      if (inserted)
        labels_.push_back(std::move(other.labels_[other_id]));
      ids[other_id] = it->second;
    }
    // The best `limit_` of both sets of candidates (as Add()ing each would keep), moved, not
    // copied: a log query's two collectors hold up to `limit` lines each.
    heap_.reserve(heap_.size() + other.heap_.size());
    for (Candidate& c : other.heap_) {
      c.stream = ids[c.stream];
      heap_.push_back(std::move(c));
    }
    other.heap_.clear();
    auto better = [this](const Candidate& a, const Candidate& b) { return Better(a, b); };
    if (heap_.size() > limit_) {
      std::nth_element(heap_.begin(), heap_.begin() + limit_, heap_.end(), better);
      heap_.resize(limit_);
    }
    std::make_heap(heap_.begin(), heap_.end(), better);
  }

  void Account(QueryStats* stats) const {
    stats->total_lines_processed += lines_processed_;
    stats->total_bytes_processed += bytes_processed_;
  }

  std::vector<Stream> Finish() {
    if (interval_ > 0)
      ApplyInterval();
    std::vector<Stream> out(labels_.size());
    for (size_t i = 0; i < labels_.size(); ++i)
      out[i].labels = std::move(labels_[i]);
    for (auto& c : heap_)
      out[c.stream].entries.push_back({c.ts, std::move(c.line)});
    std::vector<Stream> result;
    for (auto& s : out) {
      if (s.entries.empty())
        continue;
      auto cmp = [&](const StreamEntry& a, const StreamEntry& b) {
        if (a.ts_ns != b.ts_ns)
          return forward_ ? a.ts_ns < b.ts_ns : a.ts_ns > b.ts_ns;
        return a.line < b.line;
      };
      std::sort(s.entries.begin(), s.entries.end(), cmp);
      // Replicas of one entry (same stream, timestamp and line) count once, as in Loki.
      auto last = std::unique(s.entries.begin(), s.entries.end(),
                              [](const StreamEntry& a, const StreamEntry& b) {
                                return a.ts_ns == b.ts_ns && a.line == b.line;
                              });
      s.entries.erase(last, s.entries.end());
      result.push_back(std::move(s));
    }
    // Streams in the order of their label strings, as Loki answers (and independent of which
    // stream a parallel read happened to deliver first).
    std::vector<std::pair<std::string, size_t>> order;
    order.reserve(result.size());
    for (size_t i = 0; i < result.size(); ++i)
      order.emplace_back(result[i].labels.ToString(), i);
    std::sort(order.begin(), order.end());
    std::vector<Stream> sorted;
    sorted.reserve(result.size());
    for (const auto& [text, i] : order)
      sorted.push_back(std::move(result[i]));
    return sorted;
  }

 private:
  bool Full() const { return heap_.size() >= limit_; }

  // Loki's readStreams with an interval: walk all entries in direction order (across streams)
  // and keep one only when it is at least `interval` past the last kept one.
  void ApplyInterval() {
    std::sort(heap_.begin(), heap_.end(),
              [this](const Candidate& a, const Candidate& b) { return Better(a, b); });
    std::vector<Candidate> kept;
    bool first = true;
    int64_t last = 0;
    for (auto& c : heap_) {
      if (kept.size() >= out_limit_)
        break;
      bool ok = first || (forward_ ? c.ts >= last + interval_ : c.ts <= last - interval_);
      if (!ok)
        continue;
      first = false;
      last = c.ts;
      kept.push_back(std::move(c));
    }
    heap_ = std::move(kept);
  }
  // Whether an entry at `ts` ranks before one at `than` in the query direction.
  bool BetterTs(int64_t ts, int64_t than) const { return forward_ ? ts < than : ts > than; }
  // The total order of candidates: direction order of timestamps; ties (rare, and only
  // relevant at the limit) by labels as Loki's merge does, then by line, so that which
  // candidates survive never depends on the order streams were read in.
  bool Better(const Candidate& a, const Candidate& b) const {
    if (a.ts != b.ts)
      return BetterTs(a.ts, b.ts);
    return Better(a.stream, a.line, b);
  }
  bool Better(uint32_t stream, std::string_view line, const Candidate& b) const {
    if (stream != b.stream) {
      const auto order = labels_[stream] <=> labels_[b.stream];
      if (order != 0)
        return order < 0;
    }
    return line < b.line;
  }

  void Add(int64_t ts, uint32_t stream, std::string_view line) {
    // Heap order: the worst candidate (last in the total order) on top.
    auto less = [this](const Candidate& a, const Candidate& b) { return Better(a, b); };
    if (!Full()) {
      heap_.push_back(Candidate{ts, stream, std::string(line)});
      std::push_heap(heap_.begin(), heap_.end(), less);
      return;
    }
    const Candidate& worst = heap_.front();
    if (ts != worst.ts ? !BetterTs(ts, worst.ts) : !Better(stream, line, worst))
      return;
    std::pop_heap(heap_.begin(), heap_.end(), less);
    Candidate& c = heap_.back();
    c.ts = ts;
    c.stream = stream;
    c.line.assign(line.data(), line.size());  // reuses the evicted line's buffer
    std::push_heap(heap_.begin(), heap_.end(), less);
  }

  logql_log::Pipeline* pipeline_;
  bool forward_;
  uint32_t limit_;
  uint32_t out_limit_;
  int64_t interval_;
  Interrupt interrupt_;
  int64_t lines_processed_ = 0;
  int64_t bytes_processed_ = 0;
  std::vector<Candidate> heap_;
  absl::flat_hash_map<Fingerprint, uint32_t> ids_;
  std::vector<Labels> labels_;
};

}  // namespace

absl::StatusOr<QueryResult> EvalLogQuery(const logql::syntax::LogSelectorExpr& e, const LogQuery& q,
                                         EntrySource& source, QueryStats* stats) {
  const bool source_filters = source.AppliesLineFilter();
  ASSIGN_OR_RETURN(auto stages, BuildStages(e.pipeline, source_filters));
  logql_log::Pipeline pipeline(std::move(stages));
  SelectParams p;
  p.matchers = e.matchers;
  p.start_ns = q.instant ? q.end_ns - kInstantLogLookbackNs : q.start_ns;
  p.end_ns = q.end_ns;
  p.direction = q.direction;
  p.line_filter_needles = LineFilterNeedles(e.pipeline);
  p.line_filter = LeadingLineFilter(e.pipeline);
  // Without an interval the answer holds at most `limit` entries of any stream: the first ones
  // in direction order, as long as nothing after the source's line filter drops entries.
  if (q.interval_ns == 0 && OnlyLineFilters(e.pipeline))
    p.max_entries_per_stream = q.limit;
  // Without stages nothing drops an entry: the answer is the first `limit` of all streams.
  if (q.interval_ns == 0 && e.pipeline.empty())
    p.max_entries = q.limit;
  QueryResult r;
  r.type = ResultType::kStreams;
  if (q.limit == 0 || p.end_ns <= p.start_ns)
    return r;
  // One collector (and pipeline: stages keep per-stream state) per reader the source can run;
  // every stream goes to one of them, and the candidates are merged afterwards.
  const size_t parallel = std::max<size_t>(1, source.Parallelism());
  std::vector<std::unique_ptr<logql_log::Pipeline>> more_pipelines;
  std::vector<std::unique_ptr<LogCollector>> collectors;
  std::vector<EntrySink*> sinks;
  for (size_t k = 0; k < parallel; ++k) {
    logql_log::Pipeline* pk = &pipeline;
    if (k > 0) {
      ASSIGN_OR_RETURN(auto more_stages, BuildStages(e.pipeline, source_filters));
      more_pipelines.push_back(std::make_unique<logql_log::Pipeline>(std::move(more_stages)));
      pk = more_pipelines.back().get();
    }
    collectors.push_back(std::make_unique<LogCollector>(pk, q));
    sinks.push_back(collectors.back().get());
  }
  absl::Status selected =
      parallel > 1 ? source.SelectLogsParallel(p, sinks) : source.SelectLogs(p, *sinks[0]);
  LogCollector& collector = *collectors[0];
  for (size_t k = 1; k < parallel; ++k)
    collector.MergeFrom(*collectors[k]);
  collector.Account(stats);
  RETURN_IF_ERROR(selected);
  for (const auto& c : collectors)
    RETURN_IF_ERROR(c->status());
  r.streams = collector.Finish();
  for (const auto& s : r.streams)
    stats->total_entries_returned += static_cast<int64_t>(s.entries.size());
  return r;
}

}  // namespace norn::logql_engine::internal
