#include "logql/engine/source.h"

#include <algorithm>

namespace norn::logql_engine {

bool MatchesAll(const std::vector<logql::syntax::Matcher>& matchers, const Labels& labels) {
  for (const auto& m : matchers) {
    if (!m.Matches(labels.Get(m.name())))
      return false;
  }
  return true;
}

MemorySource::MemorySource(std::vector<StreamData> streams, size_t batch_size)
    : streams_(std::move(streams)), batch_size_(batch_size == 0 ? 1 : batch_size) {
  for (auto& s : streams_) {
    std::stable_sort(s.entries.begin(), s.entries.end(), [](const Entry& a, const Entry& b) {
      return a.timestamp_ns < b.timestamp_ns;
    });
  }
}

absl::Status MemorySource::SelectLogs(const SelectParams& p, EntrySink& sink) {
  std::vector<EntryRef> batch;
  batch.reserve(batch_size_);
  auto by_ts = [](const Entry& e, int64_t t) { return e.timestamp_ns < t; };
  for (const auto& s : streams_) {
    if (!MatchesAll(p.matchers, s.labels))
      continue;
    auto lo = std::lower_bound(s.entries.begin(), s.entries.end(), p.start_ns, by_ts);
    auto hi = std::lower_bound(lo, s.entries.end(), p.end_ns, by_ts);
    if (lo >= hi)
      continue;
    size_t n = static_cast<size_t>(hi - lo);
    bool more = true;
    for (size_t i = 0; i < n && more;) {
      batch.clear();
      for (; i < n && batch.size() < batch_size_; ++i) {
        const Entry& e =
            p.direction == Direction::kForward ? lo[i] : hi[-1 - static_cast<ptrdiff_t>(i)];
        batch.push_back(EntryRef{e.timestamp_ns, e.line, e.structured_metadata});
      }
      more = sink.Push(s.labels, batch);
    }
  }
  return absl::OkStatus();
}

}  // namespace norn::logql_engine
