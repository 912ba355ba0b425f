// Stream: one tenant stream held by the ingester: its labels, the chunks not yet in the store
// (the last one, while open, is the head chunk entries are appended to), and the state the push
// path checks (newest timestamp for the out-of-order window, per-stream rate limiter).
//
// Thread-safety: every mutable member is guarded by `mu`; the push path, the flush loop, the
// checkpointer and queries lock it briefly. Chunk bytes are read outside the lock through
// MemChunk iterators (snapshots) or after a chunk is closed (immutable).
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "common/labels.h"
#include "storage/chunk/memchunk.h"
#include "storage/index/types.h"
#include "validation/rate_limiter.h"

namespace norn::ingester {

struct ChunkDesc {
  std::unique_ptr<chunk::MemChunk> chunk;
  bool closed = false;
  // A flush op owns the chunk (uploading it); nobody else flushes it meanwhile.
  bool flushing = false;
  // Set once the chunk object is in the store; `stored` once an index file names it too. Only a
  // stored chunk may leave memory (and the WAL): before that a crash must be able to replay it.
  std::optional<index::ChunkRef> ref;
  bool stored = false;
  absl::Time stored_at;
  absl::Time last_updated;
};

class Stream {
 public:
  Stream(Labels labels, Fingerprint fp, int64_t now_ns)
      : labels_(std::move(labels)), fp_(fp), rate_limiter_(0, 0, now_ns) {}

  const Labels& labels() const { return labels_; }
  // `{a="b", c="d"}`, made when asked (error messages only: kept per stream it was 2.5 MB
  // with 20,000 streams).
  std::string labels_text() const { return labels_.ToString(); }
  Fingerprint fingerprint() const { return fp_; }

  std::mutex mu;
  // Guarded by mu; oldest first. A list: the flush loop keeps pointers to chunks while pushes
  // add more, and an empty one allocates nothing (a deque allocated ~600 bytes up front, 12 MB
  // with 20,000 streams).
  std::list<ChunkDesc> chunks;
  int64_t newest_ts = INT64_MIN;                    // Guarded by mu.
  absl::Time last_push;                             // Guarded by mu.
  // This stream's share of Ingester::head_memory_ (its open chunk's HeadMemoryBytes() when last
  // counted). Guarded by mu.
  uint64_t counted_head_memory = 0;
  validation::TokenBucket& rate_limiter() { return rate_limiter_; }  // Guarded by mu.
  // True once a series record for this stream is durable in the WAL; until then every push to
  // it logs the series record again so acknowledged entries never replay without their labels.
  std::atomic<bool> series_logged{false};

 private:
  const Labels labels_;
  const Fingerprint fp_;
  validation::TokenBucket rate_limiter_;
};

}  // namespace norn::ingester
