// The ingester's write-ahead log: every acknowledged push is on disk before the ingester answers,
// so it survives `kill -9` and a machine crash.
//
// Layout of `dir` (format in docs/formats.md, "WAL"):
//   00000007, 00000008, ...    segments of framed, checksummed records, rotated at segment_size
//   checkpoint.00000006/       the ingester's in-memory state covering segments <= 6
//   checkpoint.00000009.tmp/   a checkpoint being written (ignored and removed on start)
//
// Life cycle (ingester):
//   1. Replay(dir, callbacks): latest checkpoint, then every segment after it, in order.
//   2. Wal::Open(options): checks the last segment, truncates a torn tail (with a warning) and
//      resumes writing after it (or starts a new segment).
//   3. Append(records) for every push; acknowledge the push only if it returns OK.
//   4. Periodically BeginCheckpoint() -> write the in-memory state -> Commit(); and
//      Truncate(n) when everything in segments < n is flushed to the store.
//   5. Close() on shutdown.
//
// Durability: with SyncPolicy::kBatch (default) Append() returns OK only after the records were
// written and fdatasync'ed. Concurrent Append() callers share the work (group commit): the
// first waiting caller becomes the leader, writes every queued batch with one writev(2) and
// issues one fdatasync for all of them, then wakes the others. With SyncPolicy::kInterval,
// Append() returns once the data is in the kernel (one write per group) and a background thread
// fdatasyncs every sync_interval: a machine crash (not a process crash) can lose up to that
// interval of acknowledged pushes.
//
// Write errors (ENOSPC, EIO, EFBIG, ...): Append() returns kUnavailable and nothing in the
// failed group is acknowledged. The WAL cuts the current segment back to its last good offset
// (ftruncate + fdatasync) and abandons it; the next Append() starts a new segment, so a retry
// after space is freed succeeds. If even the cut-back fails, every Append() first retries it and
// fails until it succeeds. No Append() is acknowledged while the log might hold garbage before
// its data.
//
// Checkpoints and concurrent pushes: BeginCheckpoint() cuts a new segment and names the
// checkpoint after the last closed one, N. The snapshot written into the checkpoint must contain
// every record whose Append() returned before BeginCheckpoint() returned (the ingester applies a
// push to memory before/atomically with its Append, or holds its stream locks accordingly).
// Records appended after that may also be in the snapshot: they are replayed again from segment
// N+1, so replay consumers must tolerate duplicates (Loki's ingester ignores an entry equal to
// the stream's last one).
//
// Thread-safety: Append, Sync, CurrentSegment, BeginCheckpoint and Truncate are thread-safe.
// Close is thread-safe and idempotent; calls after it fail with kFailedPrecondition. A
// CheckpointWriter is used by one thread and must not outlive its Wal. Replay() must not run
// on a directory a Wal is writing.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/labels.h"
#include "common/metrics.h"
#include "storage/wal/record.h"
#include "storage/wal/segment.h"

namespace norn::wal {

enum class SyncPolicy : uint8_t {
  kBatch,     // fdatasync before Append() returns (group commit). The default.
  kInterval,  // fdatasync every sync_interval in the background.
};

// The file operations a fault injector can fail (tests).
// kDirectWrite: an O_DIRECT write, after kWrite passed (tests return EINVAL to play a
// filesystem that opens files with O_DIRECT but refuses the writes).
enum class IoOp : uint8_t { kWrite, kSync, kCreate, kDirectWrite };

struct WalOptions {
  std::string dir;  // Created if missing.
  uint64_t segment_size = 128ull << 20;
  SyncPolicy sync_policy = SyncPolicy::kBatch;
  absl::Duration sync_interval = absl::Seconds(1);  // kInterval only.
  // Upper bound of bytes written by one group commit (a single larger batch still goes alone).
  size_t max_group_bytes = 16u << 20;
  // Snappy-compress frames (type 2) when that saves space; replay reads both types either way.
  // Off by default: on the ingest benchmark it wrote 2.9x fewer bytes but cost ~40% more CPU
  // per MB than the kernel copy it saved (docs/benchmarks.md), and CPU is the scarcer resource.
  bool compress_frames = false;
  // Write segments with O_DIRECT: appends bypass the page cache (the WAL is read back only
  // after a crash), each group commit padded with zeros to a multiple of kPaddingBlock. Saves
  // the kernel's copy of every logged byte into fresh page-cache pages (17% of the server's
  // CPU on the ingest benchmark). Falls back to buffered writes where the filesystem refuses
  // O_DIRECT (tmpfs).
  bool direct_io = true;
  // Null means metrics::Registry::Default().
  metrics::Registry* registry = nullptr;
  // Tests only: called before each segment write, fdatasync and creation; a nonzero return is
  // used as the errno of a failure of that operation (nothing is written).
  std::function<int(IoOp)> fault_injector;
};

namespace internal {
struct WalMetrics;
}

class Wal;

// Writes one checkpoint: records go to checkpoint.<N>.tmp/, Commit() makes it
// checkpoint.<N> and deletes what it supersedes. Dropping it uncommitted removes the tmp dir.
// Move-only; not thread-safe; must not outlive the Wal that made it.
class CheckpointWriter {
 public:
  CheckpointWriter(CheckpointWriter&& other) noexcept;
  CheckpointWriter& operator=(CheckpointWriter&&) = delete;
  CheckpointWriter(const CheckpointWriter&) = delete;
  ~CheckpointWriter();

  // The checkpoint's number: it covers segments <= segment().
  uint64_t segment() const { return segment_; }

  // Appends series/entries records (buffered; written in ~4 MiB writes, no fsync until Commit).
  [[nodiscard]] absl::Status Write(std::span<const Record> records);
  // Flushes and fsyncs every file and the tmp dir, renames it to checkpoint.<N>, fsyncs the WAL
  // dir, then deletes segments <= N and older checkpoints. Further calls fail.
  [[nodiscard]] absl::Status Commit();
  // Discards the checkpoint (also done by the destructor when not committed).
  void Abort();

 private:
  friend class Wal;
  CheckpointWriter(Wal* wal, uint64_t segment, std::string tmp_dir, std::string final_dir);
  absl::Status Flush();
  absl::Status CloseFile(bool sync);

  Wal* wal_;
  uint64_t segment_;
  std::string tmp_dir_;
  std::string final_dir_;
  internal::FrameBuilder builder_;
  int fd_ = -1;
  uint64_t file_index_ = 0;
  uint64_t file_offset_ = 0;
  uint64_t bytes_ = 0;
  absl::Time start_;
  bool active_ = true;
};

class Wal {
 public:
  static absl::StatusOr<std::unique_ptr<Wal>> Open(WalOptions options);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Logs `records` as one batch (the caller's records are encoded before any lock is taken).
  // Returns OK only once they are durable per the sync policy. Empty input is a no-op.
  [[nodiscard]] absl::Status Append(std::span<const Record> records);
  // Makes everything appended so far durable (an fdatasync if anything is pending).
  [[nodiscard]] absl::Status Sync();
  // Syncs and closes the current segment. Idempotent.
  [[nodiscard]] absl::Status Close();

  // The number of the segment being written (or last written, after a write error).
  uint64_t CurrentSegment() const { return segment_.load(std::memory_order_acquire); }
  const std::string& dir() const { return options_.dir; }

  // Starts a checkpoint: cuts a new segment and returns a writer for checkpoint.<N>, N being the
  // segment just closed. One checkpoint at a time (kFailedPrecondition otherwise).
  absl::StatusOr<CheckpointWriter> BeginCheckpoint();

  // "Everything in segments < `segment` is flushed": deletes those segments and the checkpoints
  // numbered below `segment`. Never deletes the current segment (the bound is clamped to it).
  [[nodiscard]] absl::Status Truncate(uint64_t segment);

 private:
  friend class CheckpointWriter;
  struct Writer;

  Wal(WalOptions options, std::unique_ptr<internal::WalMetrics> metrics);

  absl::Status Recover();
  absl::Status Submit(Writer* w);
  absl::Status Execute(std::span<Writer* const> group);
  // Leader-only helpers (see the state comment below).
  absl::Status WriteGroup(std::span<Writer* const> group);
  absl::Status FlushIov(std::span<const iovec> iov, size_t bytes);
  absl::Status SyncFile();
  absl::Status EnsureSegment();
  absl::Status CreateSegment(uint64_t segment);
  absl::Status CloseSegment();
  absl::Status Fail(int err, std::string_view what, uint64_t good_offset);
  int Inject(IoOp op) const;
  std::string PathOf(uint64_t segment) const;
  // Deletes segments < `segment_below` and checkpoints < `checkpoint_below`.
  absl::Status DeleteObsolete(uint64_t segment_below, uint64_t checkpoint_below);
  void SyncLoop();

  const WalOptions options_;
  const std::unique_ptr<internal::WalMetrics> metrics_;

  absl::Mutex mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool checkpoint_active_ ABSL_GUARDED_BY(mu_) = false;

  // File state, touched only by the current leader (the thread whose Writer is at the front of
  // writers_), or by Open before any Append: leadership is the lock.
  int fd_ = -1;           // -1: the next write creates segment_ + 1.
  bool direct_ = false;   // fd_ has O_DIRECT: writes are whole padding blocks.
  bool direct_refused_ = false;  // The filesystem refused an O_DIRECT write: stay buffered.
  uint64_t data_start_ = 0;      // Where the current segment's frames begin.
  uint64_t offset_ = 0;   // Bytes written to the current segment.
  uint64_t durable_ = 0;  // Bytes of it known fdatasync'ed.
  bool dirty_ = false;    // offset_ > durable_.
  bool repair_pending_ = false;
  uint64_t repair_segment_ = 0;
  uint64_t repair_offset_ = 0;
  std::atomic<uint64_t> segment_{0};
  // Block-aligned staging buffer of direct writes (kept: fresh memory is costly to fault in).
  std::unique_ptr<char, void (*)(void*)> staging_{nullptr, &std::free};
  size_t staging_size_ = 0;

  absl::Mutex close_mu_;
  absl::Mutex stop_mu_;
  absl::CondVar stop_cv_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::jthread syncer_;
};

// Replay callbacks. Views are valid only during the call. A non-OK return stops the replay and
// is returned by Replay().
struct ReplayCallbacks {
  std::function<absl::Status(std::string_view tenant, Fingerprint fp, const Labels& labels)>
      on_series;
  std::function<absl::Status(std::string_view tenant, Fingerprint fp,
                             std::span<const EntryView> entries)>
      on_entries;
};

struct ReplayStats {
  std::optional<uint64_t> checkpoint;  // The checkpoint loaded, if any.
  uint64_t checkpoint_files = 0;
  uint64_t segments = 0;  // Segments read after the checkpoint.
  uint64_t series_records = 0;
  uint64_t entries_records = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;       // Valid bytes read (checkpoint + segments).
  uint64_t torn_bytes = 0;  // Bytes ignored at the torn tail of the last segment.
  absl::Duration duration;
};

// Reads the latest checkpoint, then every later segment in order, calling `callbacks`. Streams
// with a bounded buffer (~1 MiB, up to the largest frame). Never modifies files. A torn tail of
// the last segment is logged (warn) and ignored; any other damage, a missing segment or an
// undecodable record is kDataLoss naming the file and offset. Sets Loki's replay metrics in
// `registry` (null: the default registry).
absl::StatusOr<ReplayStats> Replay(const std::string& dir, const ReplayCallbacks& callbacks,
                                   metrics::Registry* registry = nullptr);

}  // namespace norn::wal
