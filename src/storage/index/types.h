// Value types shared by the index writer, reader and multi-file view: a chunk reference as the
// index stores it, the per-series query results, and the /index/stats counters.
//
// Plain values; safe to share const between threads.
#pragma once

#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include "common/labels.h"

namespace norn::index {

// Query time bounds meaning "no restriction".
inline constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

// One flushed chunk of a stream. [from_ns, through_ns] are the timestamps of its first and last
// entry (both inclusive). (from_ns, through_ns, checksum) identify the chunk within its stream;
// together with tenant and fingerprint they name its object (see object_key.h).
struct ChunkRef {
  int64_t from_ns = 0;
  int64_t through_ns = 0;
  uint32_t checksum = 0;            // the chunk's own checksum, also part of its object key
  uint32_t size_bytes = 0;          // compressed size of the chunk object
  uint32_t entries = 0;             // number of log entries
  uint64_t uncompressed_bytes = 0;  // sum of raw line bytes (what /index/stats calls "bytes")

  // True when [from_ns, through_ns] intersects the inclusive query range [from, through].
  bool Overlaps(int64_t from, int64_t through) const {
    return from_ns <= through && through_ns >= from;
  }
  // Order used inside a series (and for de-duplication on the (from, through, checksum) key).
  static bool KeyLess(const ChunkRef& a, const ChunkRef& b) {
    return std::tie(a.from_ns, a.through_ns, a.checksum) <
           std::tie(b.from_ns, b.through_ns, b.checksum);
  }
  static bool KeyEqual(const ChunkRef& a, const ChunkRef& b) {
    return a.from_ns == b.from_ns && a.through_ns == b.through_ns && a.checksum == b.checksum;
  }
  friend bool operator==(const ChunkRef&, const ChunkRef&) = default;
};

// A series selected by a query: its labels and fingerprint.
struct SeriesInfo {
  Labels labels;
  Fingerprint fingerprint = 0;
  friend bool operator==(const SeriesInfo&, const SeriesInfo&) = default;
};

// A series with the chunk refs that overlap the query range, sorted by ChunkRef::KeyLess.
struct SeriesChunks {
  Labels labels;
  Fingerprint fingerprint = 0;
  std::vector<ChunkRef> chunks;
};

// Loki's /loki/api/v1/index/stats answer: {"streams":..,"chunks":..,"bytes":..,"entries":..}.
// A chunk that overlaps the range counts whole (no pro-rating); bytes are uncompressed bytes.
struct IndexStats {
  uint64_t streams = 0;
  uint64_t chunks = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;
  friend bool operator==(const IndexStats&, const IndexStats&) = default;
};

}  // namespace norn::index
