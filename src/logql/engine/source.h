// EntrySource: where the engine reads log entries from. The querier implements it over ingesters
// (recent data) and the chunk store (old data); MemorySource below serves tests and the
// conformance runner.
//
// Push model: the engine calls SelectLogs once per log selector of a query; the source finds the
// streams whose labels satisfy every matcher and pushes their entries inside the time range to
// the sink in batches. Contract for sources:
//   - a batch belongs to one stream; batches of different streams may interleave;
//   - within one stream, entries of all its batches come in `direction` order (ascending
//     timestamps for kForward, descending for kBackward) with replica duplicates removed
//     (identical timestamp and line);
//   - only entries with start_ns <= ts < end_ns;
//   - `line_filter_needles` are substrings every useful line contains: a source may skip blocks
//     or chunks that cannot contain one of them (never required: the engine filters anyway);
//   - `line_filter` (may be null) is the pipeline's leading line filters: a source may drop the
//     entries it rejects instead of pushing them (the engine would drop them first thing),
//     counting them in SourceStats::filtered_lines/filtered_bytes;
//   - when `lines_needed` is false the engine looks only at timestamps, line lengths and
//     metadata: a source may pass lines whose bytes are unspecified (but whose size is exact)
//     if that saves work, e.g. not decompressing them;
//   - when the sink returns false from Push, the source should stop sending that stream (the
//     engine has all it needs from it, e.g. a log query's limit is reached); sending more is
//     harmless;
//   - EntryRef views need only stay valid during the Push call.
// Thread-safety: SelectLogs may be called from several query threads at once if the source
// allows it (MemorySource does); one SelectLogs call pushes from the calling thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/entry.h"
#include "common/labels.h"
#include "logql/engine/query.h"
#include "logql/log/line_filter.h"
#include "logql/syntax/ast.h"

namespace norn::logql_engine {

struct EntryRef {
  int64_t ts_ns = 0;
  std::string_view line;
  std::span<const Label> structured_metadata;
};

struct SelectParams {
  std::vector<logql::syntax::Matcher> matchers;
  int64_t start_ns = 0;  // inclusive
  int64_t end_ns = 0;    // exclusive
  Direction direction = Direction::kForward;
  std::vector<std::string> line_filter_needles;
  std::shared_ptr<const logql_log::LineFilter> line_filter;
  bool lines_needed = true;
  // No more than this many of a stream's entries (in direction order, after line_filter) can
  // be in the answer, plus any that share the last one's timestamp: a log query with a limit
  // whose pipeline only filters lines. A source may stop reading a stream there (0 = all).
  uint32_t max_entries_per_stream = 0;
  // No more than this many entries of all streams together (the first ones in direction
  // order) can be in the answer, and every entry the source gives is a candidate: a log query
  // with a limit and no pipeline stages. A source may skip entries that at least this many
  // others precede (0 = none).
  uint32_t max_entries = 0;
};

class EntrySink {
 public:
  virtual ~EntrySink() = default;
  // Returns false when no more entries of `stream` are wanted.
  virtual bool Push(const Labels& stream, std::span<const EntryRef> entries) = 0;
  // True once the query has stopped for good (cancelled, past its deadline): a source may
  // stop reading altogether.
  virtual bool Done() const { return false; }
};

class EntrySource {
 public:
  virtual ~EntrySource() = default;
  [[nodiscard]] virtual absl::Status SelectLogs(const SelectParams& params, EntrySink& sink) = 0;
  // Like SelectLogs, but every selected stream goes to exactly one of `sinks` (all its
  // batches to the same one), and different sinks may be pushed to concurrently from different
  // threads (each sink from one thread at a time). The engine uses it when the result does not
  // depend on how streams are spread, merging the sinks afterwards.
  [[nodiscard]] virtual absl::Status SelectLogsParallel(const SelectParams& params,
                                                        std::span<EntrySink* const> sinks) {
    return SelectLogs(params, *sinks[0]);
  }
  // How many sinks SelectLogsParallel can keep busy (1: it is SelectLogs).
  virtual size_t Parallelism() const { return 1; }
  // True when the source drops every entry SelectParams::line_filter rejects (never "may"):
  // the engine then leaves those leading line filters out of the pipeline it runs.
  virtual bool AppliesLineFilter() const { return false; }
  // What the source read so far (Loki's per-source stats), or null when it keeps no count.
  // Engine::Evaluate puts it in the result's stats.
  virtual const SourceStats* stats() const { return nullptr; }
};

// True when `labels` satisfy every matcher (an absent label counts as "").
bool MatchesAll(const std::vector<logql::syntax::Matcher>& matchers, const Labels& labels);

// An immutable in-memory set of streams. Entries of a stream are sorted by timestamp at
// construction. Thread-safe for concurrent SelectLogs.
class MemorySource : public EntrySource {
 public:
  struct StreamData {
    Labels labels;
    std::vector<Entry> entries;
  };
  explicit MemorySource(std::vector<StreamData> streams, size_t batch_size = 512);

  [[nodiscard]] absl::Status SelectLogs(const SelectParams& params, EntrySink& sink) override;

  const std::vector<StreamData>& streams() const { return streams_; }

 private:
  std::vector<StreamData> streams_;
  size_t batch_size_;
};

}  // namespace norn::logql_engine
