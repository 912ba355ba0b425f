// Builds answers for Loki's `GET /loki/api/v1/patterns` from log entries.
//
// PatternStream is the per-stream state a pattern ingester keeps: entries are fed in timestamp
// order, the stream's log format is detected from its first line and each level gets its own
// Drain. PatternMerger collects the series of many streams (or remote ingesters) for one query,
// sums identical (pattern, level) series, and applies the querier's pruning: patterns with fewer
// than min_cluster_size lines in range are dropped, the rest are sorted by volume and capped at
// max_patterns. DetectPatterns does all of it for a batch of entries of one stream.
//
// Thread-safety: none; callers lock a PatternStream (Loki holds a per-stream mutex) and use a
// PatternMerger from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "pattern/drain.h"

namespace norn::pattern {

// Level used for entries that carry none (Loki's constants.LogLevelUnknown).
inline constexpr std::string_view kUnknownLevel = "unknown";

struct PatternEntry {
  int64_t timestamp_ns = 0;
  std::string_view line;
  std::string_view level;  // detected_level; empty means kUnknownLevel
};

struct PatternQuery {
  int64_t start_ns = 0;  // inclusive
  int64_t end_ns = 0;    // exclusive
  // Bucket width. <= 0 means DefaultPatternStepNs(start, end). Rounded down to whole
  // milliseconds and raised to the 10s sample interval, as Loki does.
  int64_t step_ns = 0;
  int64_t min_cluster_size = 30;  // Loki's querier drops patterns below this many lines
  size_t max_patterns = 300;      // and keeps at most this many; 0 = no cap
};

struct PatternSeries {
  std::string pattern;
  std::string level;
  std::vector<PatternSample> samples;  // ascending timestamps, unique
  int64_t total = 0;                   // sum of sample values
};

struct PatternResult {
  std::vector<PatternSeries> series;  // by total descending, then pattern, then level
};

// Loki's default step for range requests without `step`: max(floor(range / 250), 1) seconds.
int64_t DefaultPatternStepNs(int64_t start_ns, int64_t end_ns);

// The request checks Loki applies to `step` (HTTP 400 on failure): it must be positive and
// give at most 11,000 points over [start, end].
absl::Status ValidatePatternStep(int64_t start_ns, int64_t end_ns, int64_t step_ns);

// The query's effective step (see PatternQuery::step_ns).
int64_t EffectivePatternStepNs(const PatternQuery& query);

class PatternMerger;

class PatternStream {
 public:
  explicit PatternStream(DrainConfig config = {});
  ~PatternStream();
  PatternStream(const PatternStream&) = delete;
  PatternStream& operator=(const PatternStream&) = delete;

  // Trains the entry's level Drain. Entries older than the newest one pushed are ignored
  // (Loki does the same), so feed in timestamp order.
  void Push(int64_t timestamp_ns, std::string_view line, std::string_view level = {});
  void Push(const PatternEntry& entry) { Push(entry.timestamp_ns, entry.line, entry.level); }

  // Detected from the first pushed line; kUnknown before any push.
  LogFormat format() const { return format_; }
  // Clusters across all levels.
  size_t num_clusters() const;
  // Combined statistics of all levels' Drains.
  DrainStats stats() const;
  // The Drain of one level, or nullptr (tests, debugging).
  const Drain* drain(std::string_view level) const;

  // Adds this stream's series for `merger`'s query.
  void CollectInto(PatternMerger* merger) const;

  // Forgets samples older than `older_than_ns` and the clusters left empty. Returns true if
  // the stream holds no pattern any more (the caller may drop it).
  bool Prune(int64_t older_than_ns);

 private:
  DrainConfig config_;
  LogFormat format_ = LogFormat::kUnknown;
  bool has_format_ = false;
  bool has_last_ts_ = false;
  int64_t last_ts_ns_ = 0;
  StringMap<std::unique_ptr<Drain>> by_level_;
};

class PatternMerger {
 public:
  explicit PatternMerger(const PatternQuery& query);

  // Normalized query bounds (ms precision) and effective step.
  int64_t start_ns() const { return start_ns_; }
  int64_t end_ns() const { return end_ns_; }
  int64_t step_ns() const { return step_ns_; }

  void AddStream(const PatternStream& stream) { stream.CollectInto(this); }
  // Adds one cluster's samples restricted to the query range and re-bucketed to its step.
  void AddCluster(const LogCluster& cluster, std::string_view level);
  // Adds already bucketed samples (e.g. from another ingester). Samples before start_ns() or
  // at/after end_ns() are ignored.
  void AddSeries(std::string_view pattern, std::string_view level,
                 std::span<const PatternSample> samples);

  // Sums samples per (pattern, level) and timestamp, prunes, sorts and caps.
  PatternResult Finish();

 private:
  struct Acc {
    std::string pattern;
    std::string level;
    std::vector<PatternSample> samples;
  };
  Acc* Find(std::string_view pattern, std::string_view level);

  PatternQuery query_;
  int64_t start_ns_;
  int64_t end_ns_;
  int64_t step_ns_;
  std::vector<Acc> accs_;
  StringMap<size_t> index_;  // pattern + '\0' + level -> accs_ index
  std::string key_buf_;
  std::vector<PatternSample> buf_;
};

// One stream's entries (any order; they are ordered by timestamp first) -> patterns.
PatternResult DetectPatterns(std::span<const PatternEntry> entries, const PatternQuery& query,
                             const DrainConfig& config = {});
PatternResult DetectPatterns(const std::vector<std::pair<int64_t, std::string_view>>& entries,
                             const PatternQuery& query, const DrainConfig& config = {});

// Loki's body: {"status":"success","data":[{"pattern":"...","level":"...","samples":
// [[<unix s>,<count>],...]},...]} followed by a newline. Like Loki, the pattern is written with
// HTML escaping, so `<_>` appears as "\u003c_\u003e".
void AppendPatternsJson(const PatternResult& result, std::string* out);
std::string RenderPatternsJson(const PatternResult& result);

}  // namespace norn::pattern
