// The LogQL query model (what /loki/api/v1/query and /query_range ask for), the engine's limits
// and its results (streams, matrix, vector, scalar) with per-query statistics.
//
// Plain value types; safe to share const between threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/labels.h"

namespace norn::logql_engine {

enum class Direction : uint8_t { kForward, kBackward };

// One query, in Loki's HTTP semantics (all times in Unix nanoseconds):
//   - log queries select entries in [start_ns, end_ns), ordered by `direction`, at most `limit`;
//   - instant queries (`instant`) evaluate at end_ns only (start_ns == end_ns); an instant log
//     query looks back kInstantLogLookbackNs;
//   - range (metric) queries evaluate at start, start+step, ... <= end; a range vector `[r]` at
//     evaluation time t covers (t - r, t] (Loki 2.7.7 leaves the entry at exactly t out of an
//     instant query).
struct LogQuery {
  std::string query;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  int64_t step_ns = 0;  // range queries; > 0
  // Log queries only: keep an entry only if it is at least this far (in query direction) from
  // the previously kept one, across all streams (Loki's `interval` parameter).
  int64_t interval_ns = 0;
  Direction direction = Direction::kBackward;
  uint32_t limit = 100;
  bool instant = false;
  // Optional cancellation flag (set by another thread, e.g. when the client went away) and
  // deadline (Unix ns, 0 = none): checked between batches; the query then fails with
  // kCancelled / kDeadlineExceeded.
  const std::atomic<bool>* cancelled = nullptr;
  int64_t deadline_unix_ns = 0;
};

inline constexpr int64_t kInstantLogLookbackNs = 30'000'000'000;

// Limits the engine enforces (Loki's limits_config names).
struct EngineOptions {
  int max_query_series = 500;  // distinct series of a metric result
  // Largest `limit` a log query may ask for (Loki's max_entries_limit_per_query); 0 = none.
  uint32_t max_entries_limit_per_query = 5000;
  // Samples one query may keep in memory before failing (guards against a range query over a
  // huge window); 0 = unlimited.
  int64_t max_samples = 0;
};

// --- Results --------------------------------------------------------------------------------

struct StreamEntry {
  int64_t ts_ns = 0;
  std::string line;
};

struct Stream {
  Labels labels;
  std::vector<StreamEntry> entries;  // in the query's direction
};

struct Point {
  int64_t t_ms = 0;  // Prometheus model: milliseconds
  double v = 0;
};

struct Series {
  Labels metric;
  std::vector<Point> points;  // ascending time
};

struct Sample {
  Labels metric;
  Point point;
};

enum class ResultType : uint8_t { kStreams, kMatrix, kVector, kScalar };
std::string_view ResultTypeName(ResultType t);  // "streams", "matrix", "vector", "scalar"

// Chunk-level work of one data source (Loki's stats "chunk" objects).
struct ChunkReadStats {
  int64_t head_chunk_bytes = 0;    // bytes read from open (unflushed) chunks in memory
  int64_t head_chunk_lines = 0;
  int64_t decompressed_bytes = 0;  // line bytes decoded from chunks
  int64_t decompressed_lines = 0;
  int64_t compressed_bytes = 0;    // chunk objects fetched (store) or cut (ingester)
  int64_t total_duplicates = 0;    // identical entries dropped in the merge
};

// What the data sources did for a query; filled by the source (the querier), rendered as
// Loki's "querier", "ingester" and "cache" stats objects.
struct SourceStats {
  // Ingesters (recent data in memory).
  int64_t ingester_total_reached = 0;
  int64_t ingester_chunks_matched = 0;
  int64_t ingester_batches = 0;
  int64_t ingester_lines_sent = 0;
  ChunkReadStats ingester_chunk;
  // Object store.
  int64_t store_chunks_ref = 0;
  int64_t store_chunks_downloaded = 0;
  int64_t store_download_time_ns = 0;
  ChunkReadStats store_chunk;
  // Chunk cache.
  int64_t chunk_cache_requests = 0;
  int64_t chunk_cache_entries_requested = 0;
  int64_t chunk_cache_entries_found = 0;
  int64_t chunk_cache_bytes_received = 0;
  int64_t chunk_cache_bytes_sent = 0;
  // Entries the source dropped with SelectParams::line_filter: processed, but not pushed.
  int64_t filtered_lines = 0;
  int64_t filtered_bytes = 0;
};

// Work done by one query (Loki's stats "summary" plus the sources' counters).
struct QueryStats {
  int64_t exec_time_ns = 0;
  int64_t total_lines_processed = 0;   // entries the pipeline saw
  int64_t total_bytes_processed = 0;   // their line bytes
  int64_t total_entries_returned = 0;  // entries (log queries) or points (metric queries)
  SourceStats source;
};

struct QueryResult {
  ResultType type = ResultType::kStreams;
  std::vector<Stream> streams;  // kStreams
  std::vector<Series> matrix;   // kMatrix, sorted by labels
  std::vector<Sample> vector;   // kVector
  Point scalar;                 // kScalar
  QueryStats stats;
};

}  // namespace norn::logql_engine
