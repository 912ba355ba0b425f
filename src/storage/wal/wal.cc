#include "storage/wal/wal.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"

namespace norn::wal {

using internal::ErrnoStatus;

namespace internal {

// The WAL's metrics: Loki's names where Loki has the metric, norn_ otherwise.
struct WalMetrics {
  explicit WalMetrics(metrics::Registry& r)
      : records_logged(
            r.Counter("loki_ingester_wal_records_logged_total", "Records written to the WAL.")
                .Get()),
        logged_bytes(
            r.Counter("loki_ingester_wal_logged_bytes_total", "Bytes written to WAL segments.")
                .Get()),
        disk_full(r.Counter("loki_ingester_wal_disk_full_failures_total",
                            "WAL writes that failed because the disk was full.")
                      .Get()),
        write_failures(r.Counter("norn_ingester_wal_write_failures_total",
                                 "WAL writes, fsyncs or segment creations that failed.")
                           .Get()),
        fsync_duration(r.Histogram("norn_ingester_wal_fsync_duration_seconds",
                                   "Duration of WAL segment fdatasync calls.", {},
                                   metrics::ExponentialBuckets(0.0001, 2, 16))
                           .Get()),
        group_appends(r.Histogram("norn_ingester_wal_group_commit_appends",
                                  "Append calls written together by one group commit.", {},
                                  metrics::ExponentialBuckets(1, 2, 10))
                          .Get()),
        segment_current(
            r.Gauge("norn_ingester_wal_segment_current", "Number of the WAL segment being written.")
                .Get()),
        checkpoint_creations(
            r.Counter("loki_ingester_checkpoint_creations_total", "Checkpoint creations attempted.")
                .Get()),
        checkpoint_creations_failed(r.Counter("loki_ingester_checkpoint_creations_failed_total",
                                              "Checkpoint creations that failed.")
                                        .Get()),
        checkpoint_deletions(
            r.Counter("loki_ingester_checkpoint_deletions_total", "Checkpoint deletions attempted.")
                .Get()),
        checkpoint_deletions_failed(r.Counter("loki_ingester_checkpoint_deletions_failed_total",
                                              "Checkpoint deletions that failed.")
                                        .Get()),
        checkpoint_duration(r.Histogram("loki_ingester_checkpoint_duration_seconds",
                                        "Time taken to create a checkpoint.", {},
                                        metrics::ExponentialBuckets(0.01, 2, 14))
                                .Get()),
        checkpoint_logged_bytes(r.Counter("loki_ingester_checkpoint_logged_bytes_total",
                                          "Bytes written to checkpoints.")
                                    .Get()) {}

  metrics::Counter& records_logged;
  metrics::Counter& logged_bytes;
  metrics::Counter& disk_full;
  metrics::Counter& write_failures;
  metrics::Histogram& fsync_duration;
  metrics::Histogram& group_appends;
  metrics::Gauge& segment_current;
  metrics::Counter& checkpoint_creations;
  metrics::Counter& checkpoint_creations_failed;
  metrics::Counter& checkpoint_deletions;
  metrics::Counter& checkpoint_deletions_failed;
  metrics::Histogram& checkpoint_duration;
  metrics::Counter& checkpoint_logged_bytes;
};

}  // namespace internal

namespace {

metrics::Registry& RegistryOr(metrics::Registry* r) {
  return r != nullptr ? *r : metrics::Registry::Default();
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  return absl::StrCat(AV(dir), "/", AV(name));
}

// Writes all of [data, data+n) at `off`, retrying short writes. Returns 0 or an errno.
int PwriteAll(int fd, const char* data, size_t n, uint64_t off) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return errno;
    if (w == 0)
      return EIO;
    data += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return 0;
}

// Creates `path` holding only the file header, fdatasync'ed. Returns the fd or -errno.
int CreateWithHeader(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  int err = PwriteAll(fd, kSegmentMagic.data(), kSegmentMagic.size(), 0);
  if (err == 0 && ::fdatasync(fd) != 0)
    err = errno;
  if (err != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return -err;
  }
  return fd;
}

bool IsDiskFull(int err) {
  return err == ENOSPC || err == EDQUOT;
}

// Frames no bigger than a quarter segment, so small test segments still hold several.
size_t FrameTarget(uint64_t segment_size) {
  return static_cast<size_t>(std::clamp<uint64_t>(segment_size / 4, 256, kFrameTargetBytes));
}

}  // namespace

// One queued request: an append batch, or a control operation executed by the leader in order.
struct Wal::Writer {
  enum class Op : uint8_t { kAppend, kSync, kRotate, kClose };
  explicit Writer(Op o) : op(o) {}

  const Op op;
  internal::FrameBuilder* frames = nullptr;  // kAppend.
  size_t records = 0;                        // kAppend.
  uint64_t rotated_from = 0;                 // kRotate result.
  absl::Status status;
  bool done = false;
  absl::CondVar cv;
};

// ---------------------------------------------------------------------------------------------
// Open and recovery

Wal::Wal(WalOptions options, std::unique_ptr<internal::WalMetrics> metrics)
    : options_(std::move(options)), metrics_(std::move(metrics)) {}

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(WalOptions options) {
  if (options.dir.empty())
    return absl::InvalidArgumentError("wal: dir is empty");
  if (options.segment_size < 1024) {
    return absl::InvalidArgumentError("wal: segment_size must be at least 1024 bytes");
  }
  if (options.sync_policy == SyncPolicy::kInterval &&
      options.sync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("wal: sync_interval must be positive");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("wal: create directory ", options.dir, ": ", ec.message()));
  }
  auto metrics = std::make_unique<internal::WalMetrics>(RegistryOr(options.registry));
  std::unique_ptr<Wal> wal(new Wal(std::move(options), std::move(metrics)));
  RETURN_IF_ERROR(wal->Recover());
  if (wal->options_.sync_policy == SyncPolicy::kInterval) {
    Wal* w = wal.get();
    wal->syncer_ = std::jthread([w] { w->SyncLoop(); });
  }
  return wal;
}

absl::Status Wal::Recover() {
  ASSIGN_OR_RETURN(internal::DirListing ls, internal::ListDir(options_.dir));
  for (const std::string& tmp : ls.tmp_checkpoints) {
    absl::Status s = internal::RemoveTree(JoinPath(options_.dir, tmp));
    if (!s.ok()) {
      NORN_LOG(Warn).Msg("wal: cannot remove unfinished checkpoint").Err(s);
    }
  }
  const uint64_t base = ls.checkpoints.empty() ? 0 : ls.checkpoints.back();
  if (ls.segments.empty() || ls.segments.back() <= base) {
    // Nothing to resume (segments <= the checkpoint are never replayed again).
    segment_.store(ls.segments.empty() ? base : std::max(base, ls.segments.back()));
    return CreateSegment(CurrentSegment() + 1);
  }

  const uint64_t last = ls.segments.back();
  const std::string name = SegmentName(last);
  const std::string path = PathOf(last);
  ASSIGN_OR_RETURN(internal::ScanResult scan,
                   internal::ScanFile(path, name, /*strict=*/false,
                                      [](std::string_view, uint64_t) { return absl::OkStatus(); }));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return ErrnoStatus(errno, absl::StrCat("open ", name));
  uint64_t end = scan.valid_end;
  int err = 0;
  if (scan.torn) {
    NORN_LOG(Warn)
        .Msg("wal: truncating torn write at the end of the last segment")
        .Kv("segment", name)
        .Kv("offset", end)
        .Kv("dropped_bytes", scan.file_size - end);
  }
  if (end < kSegmentHeaderSize) {  // Crashed while creating it: write the header again.
    if (::ftruncate(fd, 0) != 0)
      err = errno;
    if (err == 0)
      err = PwriteAll(fd, kSegmentMagic.data(), kSegmentMagic.size(), 0);
    end = kSegmentHeaderSize;
  } else if (end != scan.file_size && ::ftruncate(fd, static_cast<off_t>(end)) != 0) {
    err = errno;
  }
  // Also makes durable what a killed predecessor left in the page cache: new frames will claim
  // everything before them as synced.
  if (err == 0 && ::fdatasync(fd) != 0)
    err = errno;
  if (err != 0) {
    ::close(fd);
    return ErrnoStatus(err, absl::StrCat("recover ", name));
  }
  // The predecessor may have died before making the segment's directory entry durable.
  if (absl::Status s = internal::SyncDir(options_.dir); !s.ok()) {
    ::close(fd);
    return s;
  }
  segment_.store(last, std::memory_order_release);
  metrics_->segment_current.Set(static_cast<double>(last));
  // With direct I/O appends must start on a block boundary: continue in a new segment.
  if (end >= options_.segment_size || options_.direct_io) {
    ::close(fd);
    return CreateSegment(last + 1);
  }
  fd_ = fd;
  direct_ = false;
  data_start_ = kSegmentHeaderSize;
  offset_ = durable_ = end;
  dirty_ = false;
  return absl::OkStatus();
}

Wal::~Wal() {
  Close().IgnoreError();
}

std::string Wal::PathOf(uint64_t segment) const {
  return JoinPath(options_.dir, SegmentName(segment));
}

int Wal::Inject(IoOp op) const {
  return options_.fault_injector ? options_.fault_injector(op) : 0;
}

// ---------------------------------------------------------------------------------------------
// Group commit

absl::Status Wal::Append(std::span<const Record> records) {
  if (records.empty())
    return absl::OkStatus();
  // Encode and checksum outside any lock, so concurrent pushers do it in parallel.
  size_t estimate = 0;
  for (const Record& r : records) {
    estimate += 32 + r.tenant.size();
    for (const Entry& e : r.entries) {
      estimate += 16 + e.line.size();
      for (const Label& l : e.structured_metadata)
        estimate += 4 + l.name.size() + l.value.size();
    }
    for (const EntryView& e : r.entry_views) {
      estimate += 16 + e.line.size();
      for (const LabelView& l : e.structured_metadata) {
        estimate += 4 + l.name.size() + l.value.size();
      }
    }
  }
  internal::FrameBuilder frames(FrameTarget(options_.segment_size), options_.compress_frames);
  frames.mutable_buffer().reserve(estimate + estimate / 64 + kFrameHeaderSize);
  size_t n = 0;
  for (const Record& r : records)
    n += frames.Add(r);
  frames.Finish();
  Writer w(Writer::Op::kAppend);
  w.frames = &frames;
  w.records = n;
  return Submit(&w);
}

absl::Status Wal::Sync() {
  Writer w(Writer::Op::kSync);
  return Submit(&w);
}

absl::Status Wal::Close() {
  absl::MutexLock close_lock(&close_mu_);  // Serializes Close calls (and the join below).
  {
    absl::MutexLock l(&stop_mu_);
    stop_ = true;
    stop_cv_.SignalAll();
  }
  if (syncer_.joinable())
    syncer_.join();
  {
    absl::MutexLock l(&mu_);
    if (closed_)
      return absl::OkStatus();
  }
  Writer w(Writer::Op::kClose);
  return Submit(&w);
}

absl::Status Wal::Submit(Writer* w) {
  mu_.Lock();
  if (closed_) {
    mu_.Unlock();
    return absl::FailedPreconditionError("wal: closed");
  }
  writers_.push_back(w);
  while (!w->done && writers_.front() != w)
    w->cv.Wait(&mu_);
  if (w->done) {
    absl::Status s = w->status;
    mu_.Unlock();
    return s;
  }
  // This thread leads: it owns the file state until it pops its group.
  std::vector<Writer*> group{w};
  absl::Status s;
  if (closed_) {
    s = absl::FailedPreconditionError("wal: closed");
  } else {
    if (w->op == Writer::Op::kAppend) {
      size_t bytes = w->frames->buffer().size();
      for (size_t i = 1; i < writers_.size(); ++i) {
        Writer* x = writers_[i];
        if (x->op != Writer::Op::kAppend)
          break;
        const size_t b = x->frames->buffer().size();
        if (bytes + b > options_.max_group_bytes)
          break;
        bytes += b;
        group.push_back(x);
      }
    }
    mu_.Unlock();
    s = Execute(group);
    mu_.Lock();
    if (w->op == Writer::Op::kClose)
      closed_ = true;
  }
  for (size_t i = 0; i < group.size(); ++i) {
    Writer* x = writers_.front();
    writers_.pop_front();
    x->status = s;
    x->done = true;
    if (x != w)
      x->cv.Signal();
  }
  if (!writers_.empty())
    writers_.front()->cv.Signal();
  mu_.Unlock();
  return s;
}

absl::Status Wal::Execute(std::span<Writer* const> group) {
  Writer* first = group.front();
  switch (first->op) {
    case Writer::Op::kAppend:
      return WriteGroup(group);
    case Writer::Op::kSync:
      if (fd_ >= 0 && dirty_)
        return SyncFile();
      return absl::OkStatus();
    case Writer::Op::kRotate:
      first->rotated_from = CurrentSegment();
      RETURN_IF_ERROR(CloseSegment());
      return EnsureSegment();
    case Writer::Op::kClose:
      return CloseSegment();
  }
  return absl::InternalError("wal: unknown operation");
}

absl::Status Wal::WriteGroup(std::span<Writer* const> group) {
  RETURN_IF_ERROR(EnsureSegment());
  std::vector<iovec> iov;
  size_t pending = 0;
  size_t records = 0;
  size_t bytes = 0;
  for (Writer* w : group) {
    records += w->records;
    std::string& buf = w->frames->mutable_buffer();
    for (size_t start : w->frames->frames()) {
      char* f = buf.data() + start;
      const size_t len = internal::FrameLength(f);
      if (offset_ + pending + len > options_.segment_size && offset_ + pending > data_start_) {
        // Rotate at a frame boundary; the closed segment is always synced first.
        RETURN_IF_ERROR(FlushIov(iov, pending));
        bytes += pending;
        iov.clear();
        pending = 0;
        RETURN_IF_ERROR(CloseSegment());
        RETURN_IF_ERROR(EnsureSegment());
      }
      internal::SealFrame(f, durable_);
      if (!iov.empty() && static_cast<char*>(iov.back().iov_base) + iov.back().iov_len == f) {
        iov.back().iov_len += len;
      } else {
        iov.push_back(iovec{f, len});
      }
      pending += len;
    }
  }
  RETURN_IF_ERROR(FlushIov(iov, pending));
  bytes += pending;
  if (options_.sync_policy == SyncPolicy::kBatch)
    RETURN_IF_ERROR(SyncFile());
  metrics_->records_logged.Inc(static_cast<double>(records));
  metrics_->logged_bytes.Inc(static_cast<double>(bytes));
  metrics_->group_appends.Observe(static_cast<double>(group.size()));
  return absl::OkStatus();
}

absl::Status Wal::FlushIov(std::span<const iovec> iov_in, size_t bytes) {
  if (bytes == 0)
    return absl::OkStatus();
  if (const int err = Inject(IoOp::kWrite))
    return Fail(err, "write", offset_);
  if (direct_) {
    // One write of whole blocks from an aligned buffer: the frames, then zeros.
    const size_t padded = (bytes + kPaddingBlock - 1) / kPaddingBlock * kPaddingBlock;
    if (staging_size_ < padded) {
      void* p = std::aligned_alloc(kPaddingBlock, padded);
      if (p == nullptr)
        return Fail(ENOMEM, "write", offset_);
      staging_.reset(static_cast<char*>(p));
      staging_size_ = padded;
    }
    char* out = staging_.get();
    for (const iovec& v : iov_in) {
      std::memcpy(out, v.iov_base, v.iov_len);
      out += v.iov_len;
    }
    std::memset(out, 0, padded - bytes);
    int err = Inject(IoOp::kDirectWrite);
    if (err == 0)
      err = PwriteAll(fd_, staging_.get(), padded, offset_);
    if (err == EINVAL) {
      // Some filesystems (FUSE, network) open files with O_DIRECT but refuse the writes: drop
      // O_DIRECT for good and write the same blocks buffered.
      const int flags = ::fcntl(fd_, F_GETFL);
      if (flags >= 0 && ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) == 0) {
        NORN_LOG(Warn)
            .Msg("wal: the filesystem refused a direct write; writing through the page cache")
            .Kv("dir", options_.dir);
        direct_ = false;
        direct_refused_ = true;
        err = PwriteAll(fd_, staging_.get(), padded, offset_);
      }
    }
    if (err != 0)
      return Fail(err, "write", offset_);
    offset_ += padded;
    dirty_ = true;
    return absl::OkStatus();
  }
  std::vector<iovec> iov(iov_in.begin(), iov_in.end());
  size_t idx = 0;
  uint64_t done = 0;
  while (idx < iov.size()) {
    const int cnt = static_cast<int>(std::min<size_t>(iov.size() - idx, IOV_MAX));
    const ssize_t n = ::pwritev(fd_, &iov[idx], cnt, static_cast<off_t>(offset_ + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return Fail(errno, "write", offset_);
    if (n == 0)
      return Fail(EIO, "write", offset_);
    done += static_cast<uint64_t>(n);
    size_t rem = static_cast<size_t>(n);
    while (idx < iov.size() && rem >= iov[idx].iov_len) {
      rem -= iov[idx].iov_len;
      ++idx;
    }
    if (rem > 0) {
      iov[idx].iov_base = static_cast<char*>(iov[idx].iov_base) + rem;
      iov[idx].iov_len -= rem;
    }
  }
  offset_ += bytes;
  dirty_ = true;
  return absl::OkStatus();
}

absl::Status Wal::SyncFile() {
  if (const int err = Inject(IoOp::kSync))
    return Fail(err, "fdatasync", durable_);
  const absl::Time t0 = absl::Now();
  if (::fdatasync(fd_) != 0)
    return Fail(errno, "fdatasync", durable_);
  metrics_->fsync_duration.Observe(absl::ToDoubleSeconds(absl::Now() - t0));
  durable_ = offset_;
  dirty_ = false;
  return absl::OkStatus();
}

absl::Status Wal::Fail(int err, std::string_view what, uint64_t good_offset) {
  metrics_->write_failures.Inc();
  if (IsDiskFull(err))
    metrics_->disk_full.Inc();
  const std::string name = SegmentName(CurrentSegment());
  absl::Status s = ErrnoStatus(err, absl::StrCat(AV(what), " ", name, " at offset ", offset_));
  // After a failed write or fdatasync the kernel's view of the file is unknown (a failed fsync
  // may even have dropped dirty pages), so cut the segment back to what is known good and
  // never write to it again: the next append starts a new segment.
  bool repaired = false;
  if (fd_ >= 0) {
    repaired = ::ftruncate(fd_, static_cast<off_t>(good_offset)) == 0 && ::fdatasync(fd_) == 0;
    ::close(fd_);
    fd_ = -1;
    if (!repaired) {
      repair_pending_ = true;
      repair_segment_ = CurrentSegment();
      repair_offset_ = good_offset;
    }
  }
  NORN_LOG(Error)
      .Msg("wal: write failed; the segment is abandoned")
      .Kv("segment", name)
      .Kv("good_offset", good_offset)
      .Kv("repaired", repaired)
      .Err(s);
  offset_ = durable_ = 0;
  dirty_ = false;
  return s;
}

absl::Status Wal::EnsureSegment() {
  if (repair_pending_) {
    const std::string name = SegmentName(repair_segment_);
    const int fd = ::open(PathOf(repair_segment_).c_str(), O_WRONLY | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0) {
      if (::ftruncate(fd, static_cast<off_t>(repair_offset_)) != 0 || ::fdatasync(fd) != 0) {
        err = errno;
      }
      ::close(fd);
    }
    if (err != 0 && err != ENOENT) {
      metrics_->write_failures.Inc();
      return ErrnoStatus(err, absl::StrCat("repair ", name, " after an earlier write error"));
    }
    repair_pending_ = false;
    NORN_LOG(Info).Msg("wal: repaired segment after write error").Kv("segment", name);
  }
  if (fd_ < 0)
    return CreateSegment(CurrentSegment() + 1);
  return absl::OkStatus();
}

absl::Status Wal::CreateSegment(uint64_t segment) {
  const std::string name = SegmentName(segment);
  int err = Inject(IoOp::kCreate);
  int fd = -1;
  if (err == 0) {
    fd = CreateWithHeader(PathOf(segment));
    if (fd < 0)
      err = -fd;
  }
  if (err == 0) {
    absl::Status s = internal::SyncDir(options_.dir);
    if (!s.ok()) {
      ::close(fd);
      ::unlink(PathOf(segment).c_str());
      metrics_->write_failures.Inc();
      return s;
    }
  }
  if (err != 0) {
    metrics_->write_failures.Inc();
    if (IsDiskFull(err))
      metrics_->disk_full.Inc();
    return ErrnoStatus(err, absl::StrCat("create segment ", name));
  }
  // Appends go through the segment reopened with O_DIRECT when the filesystem allows it; the
  // header block's bytes 8..4095 stay a zero hole that readers skip.
  direct_ = false;
  data_start_ = kSegmentHeaderSize;
  if (options_.direct_io && !direct_refused_) {
    const int direct = ::open(PathOf(segment).c_str(), O_WRONLY | O_CLOEXEC | O_DIRECT);
    if (direct >= 0) {
      ::close(fd);
      fd = direct;
      direct_ = true;
      data_start_ = kPaddingBlock;
    }
  }
  fd_ = fd;
  offset_ = durable_ = data_start_;
  dirty_ = false;
  segment_.store(segment, std::memory_order_release);
  metrics_->segment_current.Set(static_cast<double>(segment));
  return absl::OkStatus();
}

absl::Status Wal::CloseSegment() {
  if (fd_ < 0)
    return absl::OkStatus();
  if (dirty_)
    RETURN_IF_ERROR(SyncFile());  // On failure the segment is already closed.
  ::close(fd_);
  fd_ = -1;
  return absl::OkStatus();
}

void Wal::SyncLoop() {
  absl::MutexLock l(&stop_mu_);
  while (!stop_) {
    const bool timed_out =
        stop_cv_.WaitWithDeadline(&stop_mu_, absl::Now() + options_.sync_interval);
    if (stop_ || !timed_out)
      continue;
    stop_mu_.Unlock();
    absl::Status s = Sync();
    stop_mu_.Lock();
    if (!s.ok()) {
      NORN_LOG(Warn).Msg("wal: periodic fdatasync failed").Err(s);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints and truncation

absl::StatusOr<CheckpointWriter> Wal::BeginCheckpoint() {
  {
    absl::MutexLock l(&mu_);
    if (closed_)
      return absl::FailedPreconditionError("wal: closed");
    if (checkpoint_active_) {
      return absl::FailedPreconditionError("wal: a checkpoint is already in progress");
    }
    checkpoint_active_ = true;
  }
  metrics_->checkpoint_creations.Inc();
  auto fail = [this](absl::Status s) {
    absl::MutexLock l(&mu_);
    checkpoint_active_ = false;
    metrics_->checkpoint_creations_failed.Inc();
    return s;
  };
  Writer w(Writer::Op::kRotate);
  absl::Status s = Submit(&w);
  if (!s.ok())
    return fail(s);
  const uint64_t n = w.rotated_from;
  absl::StatusOr<internal::DirListing> ls = internal::ListDir(options_.dir);
  if (!ls.ok())
    return fail(ls.status());
  for (const std::string& tmp : ls->tmp_checkpoints) {
    internal::RemoveTree(JoinPath(options_.dir, tmp)).IgnoreError();
  }
  std::string tmp = JoinPath(options_.dir, absl::StrCat(CheckpointName(n), ".tmp"));
  if (::mkdir(tmp.c_str(), 0755) != 0) {
    return fail(ErrnoStatus(errno, absl::StrCat("create ", tmp)));
  }
  return CheckpointWriter(this, n, std::move(tmp), JoinPath(options_.dir, CheckpointName(n)));
}

absl::Status Wal::Truncate(uint64_t segment) {
  const uint64_t limit = std::min(segment, CurrentSegment());
  return DeleteObsolete(limit, limit);
}

absl::Status Wal::DeleteObsolete(uint64_t segment_below, uint64_t checkpoint_below) {
  ASSIGN_OR_RETURN(internal::DirListing ls, internal::ListDir(options_.dir));
  absl::Status first_error;
  // Checkpoints first: a crash in between must not leave a checkpoint followed by a gap.
  for (uint64_t c : ls.checkpoints) {
    if (c >= checkpoint_below)
      continue;
    metrics_->checkpoint_deletions.Inc();
    absl::Status s = internal::RemoveTree(JoinPath(options_.dir, CheckpointName(c)));
    if (!s.ok()) {
      metrics_->checkpoint_deletions_failed.Inc();
      if (first_error.ok())
        first_error = s;
    }
  }
  const uint64_t current = CurrentSegment();
  for (uint64_t seg : ls.segments) {  // Ascending: never leaves a hole.
    if (seg >= segment_below || seg >= current)
      break;
    if (::unlink(PathOf(seg).c_str()) != 0 && errno != ENOENT) {
      absl::Status s = ErrnoStatus(errno, absl::StrCat("delete segment ", SegmentName(seg)));
      if (first_error.ok())
        first_error = s;
      break;
    }
  }
  absl::Status s = internal::SyncDir(options_.dir);
  if (first_error.ok())
    first_error = s;
  return first_error;
}

CheckpointWriter::CheckpointWriter(Wal* wal, uint64_t segment, std::string tmp_dir,
                                   std::string final_dir)
    : wal_(wal),
      segment_(segment),
      tmp_dir_(std::move(tmp_dir)),
      final_dir_(std::move(final_dir)),
      builder_(FrameTarget(wal->options_.segment_size), wal->options_.compress_frames),
      start_(absl::Now()) {}

CheckpointWriter::CheckpointWriter(CheckpointWriter&& o) noexcept
    : wal_(o.wal_),
      segment_(o.segment_),
      tmp_dir_(std::move(o.tmp_dir_)),
      final_dir_(std::move(o.final_dir_)),
      builder_(std::move(o.builder_)),
      fd_(std::exchange(o.fd_, -1)),
      file_index_(o.file_index_),
      file_offset_(o.file_offset_),
      bytes_(o.bytes_),
      start_(o.start_),
      active_(std::exchange(o.active_, false)) {}

CheckpointWriter::~CheckpointWriter() {
  if (active_)
    Abort();
}

absl::Status CheckpointWriter::Write(std::span<const Record> records) {
  if (!active_)
    return absl::FailedPreconditionError("wal: checkpoint already finished");
  for (const Record& r : records)
    builder_.Add(r);
  if (builder_.buffer().size() >= (4u << 20)) {
    builder_.Finish();
    absl::Status s = Flush();
    if (!s.ok()) {
      Abort();
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckpointWriter::Flush() {
  std::string& buf = builder_.mutable_buffer();
  const uint64_t limit = wal_->options_.segment_size;
  for (size_t start : builder_.frames()) {
    char* f = buf.data() + start;
    const size_t len = internal::FrameLength(f);
    if (fd_ < 0 || (file_offset_ + len > limit && file_offset_ > kSegmentHeaderSize)) {
      RETURN_IF_ERROR(CloseFile(/*sync=*/true));
      const std::string path = JoinPath(tmp_dir_, SegmentName(file_index_));
      const int fd = CreateWithHeader(path);
      if (fd < 0)
        return ErrnoStatus(-fd, absl::StrCat("create ", path));
      fd_ = fd;
      ++file_index_;
      file_offset_ = kSegmentHeaderSize;
    }
    // Every checkpoint byte is synced before the checkpoint becomes visible.
    internal::SealFrame(f, file_offset_);
    if (const int err = PwriteAll(fd_, f, len, file_offset_)) {
      return ErrnoStatus(err, absl::StrCat("write checkpoint ", tmp_dir_));
    }
    file_offset_ += len;
    bytes_ += len;
  }
  builder_.Clear();
  return absl::OkStatus();
}

absl::Status CheckpointWriter::CloseFile(bool sync) {
  if (fd_ < 0)
    return absl::OkStatus();
  int err = 0;
  if (sync && ::fdatasync(fd_) != 0)
    err = errno;
  ::close(fd_);
  fd_ = -1;
  if (err != 0)
    return ErrnoStatus(err, absl::StrCat("fdatasync checkpoint ", tmp_dir_));
  return absl::OkStatus();
}

absl::Status CheckpointWriter::Commit() {
  if (!active_)
    return absl::FailedPreconditionError("wal: checkpoint already finished");
  builder_.Finish();
  absl::Status s = Flush();
  if (s.ok())
    s = CloseFile(/*sync=*/true);
  if (s.ok())
    s = internal::SyncDir(tmp_dir_);
  if (s.ok())
    s = internal::RemoveTree(final_dir_);  // A leftover of an interrupted commit.
  if (s.ok() && ::rename(tmp_dir_.c_str(), final_dir_.c_str()) != 0) {
    s = ErrnoStatus(errno, absl::StrCat("rename ", tmp_dir_));
  }
  if (s.ok())
    s = internal::SyncDir(wal_->options_.dir);
  if (!s.ok()) {
    Abort();
    return s;
  }
  active_ = false;
  internal::WalMetrics& m = *wal_->metrics_;
  m.checkpoint_duration.Observe(absl::ToDoubleSeconds(absl::Now() - start_));
  m.checkpoint_logged_bytes.Inc(static_cast<double>(bytes_));
  {
    absl::MutexLock l(&wal_->mu_);
    wal_->checkpoint_active_ = false;
  }
  // The checkpoint is durable; failing to delete what it supersedes only wastes disk.
  absl::Status d = wal_->DeleteObsolete(segment_ + 1, segment_);
  if (!d.ok()) {
    NORN_LOG(Warn).Msg("wal: cannot delete data superseded by checkpoint").Err(d);
  }
  return absl::OkStatus();
}

void CheckpointWriter::Abort() {
  if (!active_)
    return;
  active_ = false;
  CloseFile(/*sync=*/false).IgnoreError();
  absl::Status s = internal::RemoveTree(tmp_dir_);
  if (!s.ok()) {
    NORN_LOG(Warn).Msg("wal: cannot remove aborted checkpoint").Err(s);
  }
  wal_->metrics_->checkpoint_creations_failed.Inc();
  absl::MutexLock l(&wal_->mu_);
  wal_->checkpoint_active_ = false;
}

// ---------------------------------------------------------------------------------------------
// Replay

absl::StatusOr<ReplayStats> Replay(const std::string& dir, const ReplayCallbacks& callbacks,
                                   metrics::Registry* registry) {
  metrics::Registry& reg = RegistryOr(registry);
  metrics::Gauge& active = reg.Gauge("loki_ingester_wal_replay_active",
                                     "Whether the WAL is being replayed (1) or not (0).")
                               .Get();
  metrics::Gauge& duration = reg.Gauge("loki_ingester_wal_replay_duration_seconds",
                                       "Time taken by the last WAL replay (checkpoint and "
                                       "segments).")
                                 .Get();
  metrics::Counter& corruptions =
      reg.Counter("loki_ingester_wal_corruptions_total", "WAL corruptions found by replay.").Get();
  active.Set(1);
  struct Reset {
    metrics::Gauge& g;
    ~Reset() { g.Set(0); }
  } reset{active};

  const absl::Time start = absl::Now();
  ReplayStats st;
  struct stat dst;
  if (::stat(dir.c_str(), &dst) != 0 && errno == ENOENT)
    return st;  // Nothing logged yet.

  RecordDecoder dec;
  std::string display;
  auto on_payload = [&](std::string_view payload, uint64_t off) -> absl::Status {
    while (!payload.empty()) {
      RecordType type;
      absl::Status s = dec.Decode(&payload, &type);
      if (!s.ok()) {
        return absl::DataLossError(
            absl::StrCat(s.message(), " in ", display, " (frame at offset ", off, ")"));
      }
      if (type == RecordType::kSeries) {
        ++st.series_records;
        if (callbacks.on_series) {
          const SeriesView& v = dec.series();
          RETURN_IF_ERROR(callbacks.on_series(v.tenant, v.fingerprint, ToLabels(v.labels)));
        }
      } else {
        const EntriesView& v = dec.entries();
        ++st.entries_records;
        st.entries += v.entries.size();
        if (callbacks.on_entries) {
          RETURN_IF_ERROR(callbacks.on_entries(v.tenant, v.fingerprint, v.entries));
        }
      }
    }
    return absl::OkStatus();
  };
  auto failed = [&](absl::Status s) {
    if (absl::IsDataLoss(s))
      corruptions.Inc();
    NORN_LOG(Error).Msg("wal: replay failed").Kv("dir", dir).Err(s);
    return s;
  };

  absl::StatusOr<internal::DirListing> ls = internal::ListDir(dir);
  if (!ls.ok())
    return failed(ls.status());
  uint64_t base = 0;
  if (!ls->checkpoints.empty()) {
    base = ls->checkpoints.back();
    st.checkpoint = base;
    const std::string cname = CheckpointName(base);
    const std::string cdir = JoinPath(dir, cname);
    absl::StatusOr<internal::DirListing> cls = internal::ListDir(cdir);
    if (!cls.ok())
      return failed(cls.status());
    for (size_t i = 0; i < cls->segments.size(); ++i) {
      if (cls->segments[i] != i) {
        return failed(
            absl::DataLossError(absl::StrCat("wal: ", cname, " is missing file ", SegmentName(i))));
      }
      display = absl::StrCat(cname, "/", SegmentName(i));
      absl::StatusOr<internal::ScanResult> r =
          internal::ScanFile(JoinPath(cdir, SegmentName(i)), display, /*strict=*/true, on_payload);
      if (!r.ok())
        return failed(r.status());
      st.bytes += r->valid_end;
      ++st.checkpoint_files;
    }
  }
  std::vector<uint64_t> segs;
  for (uint64_t s : ls->segments) {
    if (s > base)
      segs.push_back(s);
  }
  for (size_t i = 0; i < segs.size(); ++i) {
    const bool first = i == 0;
    if ((first && st.checkpoint && segs[0] != base + 1) || (!first && segs[i] != segs[i - 1] + 1)) {
      const uint64_t missing = first ? base + 1 : segs[i - 1] + 1;
      return failed(
          absl::DataLossError(absl::StrCat("wal: segment ", SegmentName(missing),
                                           " is missing (found ", SegmentName(segs[i]), ")")));
    }
    const bool last = i + 1 == segs.size();
    display = SegmentName(segs[i]);
    absl::StatusOr<internal::ScanResult> r =
        internal::ScanFile(JoinPath(dir, display), display, /*strict=*/!last, on_payload);
    if (!r.ok())
      return failed(r.status());
    st.bytes += r->valid_end;
    ++st.segments;
    if (r->torn) {
      st.torn_bytes = r->file_size - r->valid_end;
      NORN_LOG(Warn)
          .Msg("wal: ignoring torn write at the end of the last segment")
          .Kv("segment", display)
          .Kv("offset", r->valid_end)
          .Kv("dropped_bytes", st.torn_bytes);
    }
  }
  st.duration = absl::Now() - start;
  duration.Set(absl::ToDoubleSeconds(st.duration));
  NORN_LOG(Info)
      .Msg("wal: replay done")
      .Kv("dir", dir)
      .Kv("checkpoint", st.checkpoint ? static_cast<int64_t>(*st.checkpoint) : int64_t{-1})
      .Kv("segments", st.segments)
      .Kv("entries", st.entries)
      .Kv("bytes", st.bytes)
      .Kv("duration", st.duration);
  return st;
}

}  // namespace norn::wal
