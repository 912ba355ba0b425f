#include "storage/wal/wal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/strings.h"
#include "storage/wal/coding.h"

namespace norn::wal {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// ---- helpers ----

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "norn_wal_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr)
      std::abort();
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string wal() const { return path_ + "/wal"; }

 private:
  std::string path_;
};

std::mutex g_log_mu;
std::vector<std::string>* g_logs = nullptr;

void CaptureSink(std::string_view line) {
  std::lock_guard<std::mutex> l(g_log_mu);
  if (g_logs)
    g_logs->emplace_back(line);
}

class LogCapture {
 public:
  LogCapture() {
    std::lock_guard<std::mutex> l(g_log_mu);
    g_logs = &lines_;
    log::SetSinkForTesting(&CaptureSink);
  }
  ~LogCapture() {
    std::lock_guard<std::mutex> l(g_log_mu);
    g_logs = nullptr;
    log::SetSinkForTesting(nullptr);
  }
  bool Contains(std::string_view needle) {
    std::lock_guard<std::mutex> l(g_log_mu);
    for (const std::string& s : lines_) {
      if (s.find(needle) != std::string::npos)
        return true;
    }
    return false;
  }
  void Clear() {
    std::lock_guard<std::mutex> l(g_log_mu);
    lines_.clear();
  }

 private:
  std::vector<std::string> lines_;
};

// A batch of `n` entries whose lines name the batch; every third has structured metadata.
std::vector<Entry> MakeEntries(const std::string& tag, int n, int64_t ts0 = 1000) {
  std::vector<Entry> out;
  for (int i = 0; i < n; ++i) {
    Entry e;
    e.timestamp_ns = ts0 + i;
    e.line = absl::StrCat(tag, "#", i);
    if (i % 3 == 0)
      e.structured_metadata = {{"trace_id", absl::StrCat("t", i)}, {"ü", "ñ"}};
    out.push_back(std::move(e));
  }
  return out;
}

std::string Describe(const EntryView& e) {
  std::string s = absl::StrCat(e.timestamp_ns, " ", AV(e.line));
  for (const LabelView& l : e.structured_metadata)
    absl::StrAppend(&s, " ", AV(l.name), "=", AV(l.value));
  return s;
}
std::string Describe(const Entry& e) {
  std::string s = absl::StrCat(e.timestamp_ns, " ", e.line);
  for (const Label& l : e.structured_metadata)
    absl::StrAppend(&s, " ", l.name, "=", l.value);
  return s;
}

struct Replayed {
  absl::Status status;
  ReplayStats stats;
  std::vector<std::string> series;  // "tenant fp labels"
  std::vector<std::string> lines;   // "tenant fp ts line md..."
};

Replayed ReplayDir(const std::string& dir, metrics::Registry* reg = nullptr) {
  Replayed r;
  ReplayCallbacks cb;
  cb.on_series = [&](std::string_view tenant, Fingerprint fp, const Labels& labels) {
    r.series.push_back(absl::StrCat(AV(tenant), " ", fp, " ", labels.ToString()));
    return absl::OkStatus();
  };
  cb.on_entries = [&](std::string_view tenant, Fingerprint fp, std::span<const EntryView> es) {
    for (const EntryView& e : es)
      r.lines.push_back(absl::StrCat(AV(tenant), " ", fp, " ", Describe(e)));
    return absl::OkStatus();
  };
  absl::StatusOr<ReplayStats> st = Replay(dir, cb, reg);
  r.status = st.status();
  if (st.ok())
    r.stats = *st;
  return r;
}

std::vector<std::string> Expected(const std::string& tenant, Fingerprint fp,
                                  const std::vector<Entry>& entries) {
  std::vector<std::string> out;
  for (const Entry& e : entries)
    out.push_back(absl::StrCat(tenant, " ", fp, " ", Describe(e)));
  return out;
}

void AppendTo(std::vector<std::string>* v, const std::vector<std::string>& more) {
  v->insert(v->end(), more.begin(), more.end());
}

std::vector<uint64_t> Segments(const std::string& dir) {
  absl::StatusOr<internal::DirListing> ls = internal::ListDir(dir);
  return ls.ok() ? ls->segments : std::vector<uint64_t>{};
}
std::vector<uint64_t> Checkpoints(const std::string& dir) {
  absl::StatusOr<internal::DirListing> ls = internal::ListDir(dir);
  return ls.ok() ? ls->checkpoints : std::vector<uint64_t>{};
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}
void FlipByte(const std::string& path, uint64_t off) {
  std::string data = ReadFile(path);
  ASSERT_LT(off, data.size());
  data[off] = static_cast<char>(data[off] ^ 0x5a);
  WriteFile(path, data);
}
uint64_t FileSize(const std::string& path) {
  return fs::file_size(path);
}

// Reads a sample value from a registry's exposition ("name value" or "name{...} value").
double MetricValue(metrics::Registry& reg, std::string_view name) {
  std::istringstream in(reg.Render());
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(std::string(name) + " ", 0) == 0)
      return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

WalOptions Options(const std::string& dir, metrics::Registry* reg) {
  WalOptions o;
  o.dir = dir;
  o.registry = reg;
  o.compress_frames = true;  // Exercise the compressed path; tests needing plain frames opt out.
  // Buffered writes: these tests check exact file layouts. WalDirectIoTest covers O_DIRECT.
  o.direct_io = false;
  return o;
}

// Tests of the O_DIRECT writer in `d_`, with `direct_` its options; skipped where the
// filesystem of the test directory refuses O_DIRECT.
class WalDirectIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    direct_ = Options(d_.wal(), nullptr);
    direct_.direct_io = true;
    direct_.compress_frames = false;  // the production default
    fs::create_directories(d_.wal());
    const std::string probe = d_.wal() + "/.direct-probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_DIRECT, 0644);
    if (fd < 0)
      GTEST_SKIP() << "the filesystem of " << d_.wal() << " refuses O_DIRECT";
    ::close(fd);
    ::unlink(probe.c_str());
  }

  TempDir d_;
  WalOptions direct_;
};

const Labels kLabels{{"app", "api"}, {"env", "prod"}, {"note", "日本語"}};

// Opens the WAL in `o.dir` (recovering it), runs `after_open`, appends `more` to stream t/1,
// closes, and checks that a replay gives exactly `want` with no torn tail.
void AppendThenReplay(
    const WalOptions& o, const std::vector<Entry>& more, const std::vector<std::string>& want,
    const std::function<void()>& after_open = [] {}) {
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status();
  after_open();
  const Record recs[] = {Record::Entries("t", 1, more)};
  ASSERT_TRUE((*wal)->Append(recs).ok());
  ASSERT_TRUE((*wal)->Close().ok());
  Replayed r = ReplayDir(o.dir);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.lines, want);
  EXPECT_EQ(r.stats.torn_bytes, 0u);
}

// ---- tests ----

TEST(WalTest, AppendReplayRoundTrip) {
  TempDir d;
  metrics::Registry reg;
  const Fingerprint fp = kLabels.Hash();
  std::vector<Entry> a = MakeEntries("first \xF0\x9F\x98\x80", 10);
  std::vector<Entry> b = MakeEntries("second", 3, -50);
  b.push_back({5, "", {}});
  b.push_back({4, std::string(200000, 'L'), {{"big", "yes"}}});  // Spans frames.
  {
    absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(Options(d.wal(), &reg));
    ASSERT_TRUE(wal.ok()) << wal.status();
    EXPECT_EQ((*wal)->CurrentSegment(), 1u);
    const Record recs[] = {Record::Series("tenant-1", fp, kLabels),
                           Record::Entries("tenant-1", fp, a)};
    ASSERT_TRUE((*wal)->Append(recs).ok());
    const Record recs2[] = {Record::Entries("tenant-1", fp, b)};
    ASSERT_TRUE((*wal)->Append(recs2).ok());
    EXPECT_TRUE((*wal)->Append({}).ok());
    ASSERT_TRUE((*wal)->Close().ok());
    EXPECT_TRUE((*wal)->Close().ok());  // Idempotent.
    EXPECT_EQ((*wal)->Append(recs).code(), absl::StatusCode::kFailedPrecondition);
  }
  Replayed r = ReplayDir(d.wal(), &reg);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0], absl::StrCat("tenant-1 ", fp, " ", kLabels.ToString()));
  std::vector<std::string> want = Expected("tenant-1", fp, a);
  AppendTo(&want, Expected("tenant-1", fp, b));
  EXPECT_EQ(r.lines, want);
  EXPECT_EQ(r.stats.series_records, 1u);
  EXPECT_EQ(r.stats.entries, a.size() + b.size());
  EXPECT_EQ(r.stats.segments, 1u);
  EXPECT_FALSE(r.stats.checkpoint.has_value());
  EXPECT_EQ(r.stats.torn_bytes, 0u);
  // Bytes are stored (possibly compressed) bytes: the 200 KB line shrinks a lot.
  const uint64_t seg_size = FileSize(d.wal() + "/" + SegmentName(1));
  EXPECT_EQ(r.stats.bytes, seg_size);
  EXPECT_GE(MetricValue(reg, "loki_ingester_wal_records_logged_total"), 3);
  EXPECT_EQ(MetricValue(reg, "loki_ingester_wal_logged_bytes_total"),
            static_cast<double>(seg_size - kSegmentHeaderSize));
  EXPECT_GE(MetricValue(reg, "loki_ingester_wal_replay_duration_seconds"), 0);
  EXPECT_EQ(MetricValue(reg, "loki_ingester_wal_replay_active"), 0);
}

// O_DIRECT segments: frames start at the first block, every commit ends on a block boundary,
// and the padding is invisible to replay, also across reopens (which start a new segment) and
// segments written without direct I/O.
TEST_F(WalDirectIoTest, SegmentsPadCommitsToBlocksAndReplay) {
  std::vector<std::string> want;
  {
    auto wal = Wal::Open(Options(d_.wal(), nullptr));  // buffered first
    ASSERT_TRUE(wal.ok());
    std::vector<Entry> e = MakeEntries("buffered", 5);
    const Record recs[] = {Record::Series("t", 7, kLabels), Record::Entries("t", 7, e)};
    ASSERT_TRUE((*wal)->Append(recs).ok());
    AppendTo(&want, Expected("t", 7, e));
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto wal = Wal::Open(direct_);
    ASSERT_TRUE(wal.ok()) << wal.status();
    const uint64_t segment = (*wal)->CurrentSegment();
    EXPECT_EQ(segment, 2u + static_cast<uint64_t>(reopen));  // never resumes a segment
    for (int i = 0; i < 6; ++i) {
      // Commits of ~100 bytes to ~50 KB: within one block, across several, and frame-sized.
      std::vector<Entry> e = MakeEntries(absl::StrCat("direct", reopen, "-", i), 1 + i * i * 20);
      if (i == 5)
        e.push_back({77, std::string(300000, 'D'), {}});
      const Record recs[] = {Record::Entries("t", 7, e)};
      ASSERT_TRUE((*wal)->Append(recs).ok());
      AppendTo(&want, Expected("t", 7, e));
      const std::string seg = d_.wal() + "/" + SegmentName(segment);
      EXPECT_EQ(FileSize(seg) % kPaddingBlock, 0u) << i;
      const std::string head = ReadFile(seg).substr(0, kPaddingBlock);
      EXPECT_EQ(head.substr(0, kSegmentHeaderSize), kSegmentMagic);
      EXPECT_EQ(head.find_first_not_of('\0', kSegmentHeaderSize), std::string::npos);
    }
    ASSERT_TRUE((*wal)->Close().ok());
    Replayed r = ReplayDir(d_.wal());
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.lines, want);
    EXPECT_EQ(r.stats.torn_bytes, 0u);
  }
  // A buffered writer resumes after the padding of a direct segment.
  {
    auto wal = Wal::Open(Options(d_.wal(), nullptr));
    ASSERT_TRUE(wal.ok());
    EXPECT_EQ((*wal)->CurrentSegment(), 3u);
    std::vector<Entry> e = MakeEntries("buffered-again", 3);
    const Record recs[] = {Record::Entries("t", 7, e)};
    ASSERT_TRUE((*wal)->Append(recs).ok());
    AppendTo(&want, Expected("t", 7, e));
  }
  Replayed r = ReplayDir(d_.wal());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.lines, want);
}

// A filesystem that opens files with O_DIRECT but refuses the writes: the commit is written
// through the page cache instead, nothing fails, and later segments stay buffered.
TEST_F(WalDirectIoTest, RefusedByTheFilesystemFallsBackToBuffered) {
  int direct_writes = 0;
  direct_.fault_injector = [&](IoOp op) {
    if (op != IoOp::kDirectWrite)
      return 0;
    return ++direct_writes == 2 ? EINVAL : 0;
  };
  direct_.segment_size = 64 << 10;
  LogCapture logs;
  std::vector<std::string> want;
  {
    auto wal = Wal::Open(direct_);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 12; ++i) {
      std::vector<Entry> e = MakeEntries(absl::StrCat("c", i), 1000);
      const Record recs[] = {Record::Entries("t", 1, e)};
      ASSERT_TRUE((*wal)->Append(recs).ok()) << i;
      AppendTo(&want, Expected("t", 1, e));
    }
    EXPECT_GT((*wal)->CurrentSegment(), 2u);  // rotated after the fallback
  }
  EXPECT_EQ(direct_writes, 2);  // no direct write after the refused one
  EXPECT_TRUE(logs.Contains("refused a direct write"));
  Replayed r = ReplayDir(d_.wal());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.lines, want);
}

// A commit torn anywhere (cut short, or its blocks left as zeros) loses only itself; the next
// open truncates it and writes on in a new segment.
TEST_F(WalDirectIoTest, TornCommitIsTruncated) {
  const std::string seg = d_.wal() + "/" + SegmentName(1);
  std::vector<std::string> base;
  {
    auto wal = Wal::Open(direct_);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 4; ++i) {
      std::vector<Entry> e = MakeEntries(absl::StrCat("keep", i), 3 + i * 40);
      const Record recs[] = {Record::Entries("t", 1, e)};
      ASSERT_TRUE((*wal)->Append(recs).ok());
      AppendTo(&base, Expected("t", 1, e));
    }
  }
  const uint64_t s1 = FileSize(seg);
  ASSERT_EQ(s1 % kPaddingBlock, 0u);
  {
    auto wal = Wal::Open(direct_);  // opens segment 2; move the lost commit into segment 1
    ASSERT_TRUE(wal.ok());
    std::vector<Entry> e = MakeEntries("lost", 800);
    const Record recs[] = {Record::Entries("t", 1, e)};
    ASSERT_TRUE((*wal)->Append(recs).ok());
  }
  const std::string seg2 = d_.wal() + "/" + SegmentName(2);
  const std::string lost = ReadFile(seg2).substr(kPaddingBlock);
  ASSERT_GT(lost.size(), 2 * kPaddingBlock);
  fs::remove(seg2);
  const std::string good = ReadFile(seg).substr(0, s1);
  std::vector<std::string> cuts;
  // The commit's frames end where its zero padding begins: any shorter prefix is torn.
  const uint64_t frames_end = lost.find_last_not_of('\0') + 1;
  ASSERT_GT(frames_end, kPaddingBlock);
  for (uint64_t cut = 1; cut < frames_end; cut += cut < 64 ? 1 : 397)
    cuts.push_back(good + lost.substr(0, cut));
  cuts.push_back(good + std::string(lost.size(), '\0'));  // blocks never written
  cuts.push_back(good + lost.substr(0, kPaddingBlock) +
                 std::string(lost.size() - kPaddingBlock, '\0'));
  std::vector<Entry> more = MakeEntries("more", 2);
  std::vector<std::string> want_after = base;
  AppendTo(&want_after, Expected("t", 1, more));
  for (size_t k = 0; k < cuts.size(); ++k) {
    SCOPED_TRACE(absl::StrCat("case ", k, " size ", cuts[k].size()));
    for (uint64_t s : Segments(d_.wal()))
      if (s > 1)
        fs::remove(d_.wal() + "/" + SegmentName(s));
    WriteFile(seg, cuts[k]);
    Replayed r = ReplayDir(d_.wal());
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.lines, base);
    EXPECT_EQ(r.stats.torn_bytes, cuts[k].size() - s1);
    AppendThenReplay(direct_, more, want_after, [&] {
      EXPECT_EQ(FileSize(seg), s1);  // the torn commit is gone
    });
  }
}

TEST(WalTest, ReplayOfMissingOrEmptyDir) {
  TempDir d;
  Replayed r = ReplayDir(d.path() + "/nope");
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.lines.empty());
  {
    auto wal = Wal::Open(Options(d.wal(), nullptr));
    ASSERT_TRUE(wal.ok());
  }
  r = ReplayDir(d.wal());
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.lines.empty());
}

TEST(WalTest, ReopenResumesInLastSegment) {
  TempDir d;
  std::vector<Entry> a = MakeEntries("a", 5), b = MakeEntries("b", 5);
  for (const auto* batch : {&a, &b}) {
    auto wal = Wal::Open(Options(d.wal(), nullptr));
    ASSERT_TRUE(wal.ok());
    EXPECT_EQ((*wal)->CurrentSegment(), 1u);
    const Record recs[] = {Record::Entries("t", 1, *batch)};
    ASSERT_TRUE((*wal)->Append(recs).ok());
  }
  EXPECT_EQ(Segments(d.wal()), std::vector<uint64_t>{1});
  Replayed r = ReplayDir(d.wal());
  ASSERT_TRUE(r.status.ok()) << r.status;
  std::vector<std::string> want = Expected("t", 1, a);
  AppendTo(&want, Expected("t", 1, b));
  EXPECT_EQ(r.lines, want);
}

TEST(WalTest, RotatesAcrossSegments) {
  TempDir d;
  WalOptions o = Options(d.wal(), nullptr);
  o.segment_size = 1024;
  o.compress_frames = false;  // The segment counts below assume uncompressed sizes.
  std::vector<std::string> want;
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 60; ++i) {
      std::vector<Entry> e = MakeEntries(absl::StrCat("batch", i), 8);
      const Record recs[] = {Record::Entries("t", 7, e)};
      ASSERT_TRUE((*wal)->Append(recs).ok());
      AppendTo(&want, Expected("t", 7, e));
    }
    // One big batch larger than a segment goes into its own oversized segments.
    std::vector<Entry> big = MakeEntries(std::string(3000, 'B'), 4);
    const Record recs[] = {Record::Entries("t", 7, big)};
    ASSERT_TRUE((*wal)->Append(recs).ok());
    AppendTo(&want, Expected("t", 7, big));
    EXPECT_GT((*wal)->CurrentSegment(), 5u);
  }
  const std::vector<uint64_t> segs = Segments(d.wal());
  ASSERT_GT(segs.size(), 5u);
  for (size_t i = 0; i < segs.size(); ++i)
    EXPECT_EQ(segs[i], i + 1);
  int oversized = 0;
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    // Rotation happens before a frame that would overflow, unless the segment is empty (then
    // one frame, here one of the big entries, may exceed the size alone).
    if (FileSize(absl::StrCat(d.wal(), "/", SegmentName(segs[i]))) > 1024)
      ++oversized;
  }
  EXPECT_LE(oversized, 4);
  Replayed r = ReplayDir(d.wal());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.lines, want);
  EXPECT_EQ(r.stats.segments, segs.size());
}

TEST(WalTest, CheckpointReplayAndDeletion) {
  TempDir d;
  metrics::Registry reg;
  WalOptions o = Options(d.wal(), &reg);
  o.segment_size = 1024;
  const Fingerprint fp = kLabels.Hash();
  std::vector<std::string> want;
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    Wal& w = **wal;
    for (int i = 0; i < 30; ++i) {
      std::vector<Entry> e = MakeEntries(absl::StrCat("old", i), 8);
      const Record recs[] = {Record::Series("t", fp, kLabels), Record::Entries("t", fp, e)};
      ASSERT_TRUE(w.Append(recs).ok());
    }
    const uint64_t before = w.CurrentSegment();
    ASSERT_GT(before, 2u);
    absl::StatusOr<CheckpointWriter> cw = w.BeginCheckpoint();
    ASSERT_TRUE(cw.ok()) << cw.status();
    EXPECT_EQ(cw->segment(), before);
    EXPECT_EQ(w.CurrentSegment(), before + 1);
    EXPECT_EQ(w.BeginCheckpoint().status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(fs::exists(absl::StrCat(d.wal(), "/", CheckpointName(before), ".tmp")));

    // Pushes keep flowing while the checkpoint is written.
    std::vector<Entry> during = MakeEntries("during", 6);
    const Record drecs[] = {Record::Entries("t", fp, during)};
    ASSERT_TRUE(w.Append(drecs).ok());

    // The checkpoint: the series plus the state; big enough to span several files.
    std::vector<Entry> state = MakeEntries(std::string(500, 'S'), 40);
    const Record srecs[] = {Record::Series("t", fp, kLabels)};
    ASSERT_TRUE(cw->Write(srecs).ok());
    for (size_t i = 0; i < state.size(); i += 10) {
      const Record erecs[] = {
          Record::Entries("t", fp, std::span<const Entry>(state).subspan(i, 10))};
      ASSERT_TRUE(cw->Write(erecs).ok());
    }
    ASSERT_TRUE(cw->Commit().ok());
    EXPECT_FALSE(cw->Commit().ok());
    AppendTo(&want, Expected("t", fp, state));
    AppendTo(&want, Expected("t", fp, during));

    EXPECT_EQ(Checkpoints(d.wal()), std::vector<uint64_t>{before});
    for (uint64_t s : Segments(d.wal()))
      EXPECT_GT(s, before);
    EXPECT_FALSE(fs::exists(absl::StrCat(d.wal(), "/", CheckpointName(before), ".tmp")));

    std::vector<Entry> after = MakeEntries("after", 4);
    const Record arecs[] = {Record::Entries("t", fp, after)};
    ASSERT_TRUE(w.Append(arecs).ok());
    AppendTo(&want, Expected("t", fp, after));
  }
  Replayed r = ReplayDir(d.wal(), &reg);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.lines, want);
  ASSERT_EQ(r.series.size(), 1u);  // Only the checkpoint's: the old segments are gone.
  EXPECT_TRUE(r.stats.checkpoint.has_value());
  EXPECT_GT(r.stats.checkpoint_files, 1u);
  EXPECT_EQ(MetricValue(reg, "loki_ingester_checkpoint_creations_total"), 1);
  EXPECT_EQ(MetricValue(reg, "loki_ingester_checkpoint_creations_failed_total"), 0);

  // A second checkpoint replaces the first; an abandoned one leaves nothing behind.
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    {
      absl::StatusOr<CheckpointWriter> dropped = (*wal)->BeginCheckpoint();
      ASSERT_TRUE(dropped.ok());
      std::vector<Entry> junk = MakeEntries("junk", 3);
      const Record jrecs[] = {Record::Entries("t", fp, junk)};
      ASSERT_TRUE(dropped->Write(jrecs).ok());
    }
    absl::StatusOr<CheckpointWriter> cw = (*wal)->BeginCheckpoint();
    ASSERT_TRUE(cw.ok()) << cw.status();
    std::vector<Entry> state2 = MakeEntries("state2", 5);
    const Record recs[] = {Record::Series("t", fp, kLabels), Record::Entries("t", fp, state2)};
    ASSERT_TRUE(cw->Write(recs).ok());
    ASSERT_TRUE(cw->Commit().ok());
    EXPECT_EQ(Checkpoints(d.wal()), std::vector<uint64_t>{cw->segment()});
    r = ReplayDir(d.wal());
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.lines, Expected("t", fp, state2));
  }
  for (const auto& e : fs::directory_iterator(d.wal())) {
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  }
}

TEST(WalTest, TruncateDeletesFlushedSegments) {
  TempDir d;
  WalOptions o = Options(d.wal(), nullptr);
  o.segment_size = 1024;
  o.compress_frames = false;  // The segment counts below assume uncompressed sizes.
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok());
  Wal& w = **wal;
  for (int i = 0; i < 20; ++i) {
    std::vector<Entry> e = MakeEntries(absl::StrCat("x", i), 6);
    const Record recs[] = {Record::Entries("t", 1, e)};
    ASSERT_TRUE(w.Append(recs).ok());
  }
  absl::StatusOr<CheckpointWriter> cw = w.BeginCheckpoint();
  ASSERT_TRUE(cw.ok());
  ASSERT_TRUE(cw->Commit().ok());  // An empty checkpoint is valid.
  const uint64_t ckpt = cw->segment();
  std::vector<Entry> tail = MakeEntries("tail", 40);
  const Record recs[] = {Record::Entries("t", 1, tail)};
  ASSERT_TRUE(w.Append(recs).ok());
  const uint64_t cur = w.CurrentSegment();
  ASSERT_GT(cur, ckpt + 1);

  ASSERT_TRUE(w.Truncate(ckpt + 1).ok());  // Nothing below ckpt+1 left but the checkpoint...
  EXPECT_EQ(Checkpoints(d.wal()), std::vector<uint64_t>{});  // ...which is flushed too.
  EXPECT_EQ(Segments(d.wal()).front(), ckpt + 1);
  ASSERT_TRUE(w.Truncate(1'000'000).ok());  // Clamped: the current segment stays.
  EXPECT_EQ(Segments(d.wal()), std::vector<uint64_t>{cur});
  std::vector<Entry> last = MakeEntries("last", 2);
  const Record lrecs[] = {Record::Entries("t", 1, last)};
  ASSERT_TRUE(w.Append(lrecs).ok());
  ASSERT_TRUE(w.Close().ok());
  Replayed r = ReplayDir(d.wal());
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_GE(r.lines.size(), 2u);
  EXPECT_EQ(r.lines.back(), Expected("t", 1, last).back());
}

TEST(WalTest, TornTailAtEveryOffsetIsTruncatedAndWritingResumes) {
  TempDir d;
  const std::string seg = d.wal() + "/" + SegmentName(1);
  std::vector<std::string> base;
  {
    auto wal = Wal::Open(Options(d.wal(), nullptr));
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 10; ++i) {
      std::vector<Entry> e = MakeEntries(absl::StrCat("keep", i), 3);
      const Record recs[] = {Record::Entries("t", 1, e)};
      ASSERT_TRUE((*wal)->Append(recs).ok());
      AppendTo(&base, Expected("t", 1, e));
    }
  }
  const uint64_t s1 = FileSize(seg);
  {
    auto wal = Wal::Open(Options(d.wal(), nullptr));
    ASSERT_TRUE(wal.ok());
    std::vector<Entry> e = MakeEntries("lost", 3);
    const Record recs[] = {Record::Series("t", 1, kLabels), Record::Entries("t", 1, e)};
    ASSERT_TRUE((*wal)->Append(recs).ok());
  }
  const std::string full = ReadFile(seg);
  ASSERT_GT(full.size(), s1 + kFrameHeaderSize);
  std::vector<Entry> more = MakeEntries("more", 2);
  std::vector<std::string> want_after = base;
  AppendTo(&want_after, Expected("t", 1, more));

  LogCapture logs;
  for (uint64_t cut = s1; cut < full.size(); ++cut) {
    SCOPED_TRACE(absl::StrCat("cut at ", cut));
    WriteFile(seg, std::string_view(full).substr(0, cut));
    logs.Clear();
    Replayed r = ReplayDir(d.wal());
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.lines, base);
    EXPECT_TRUE(r.series.empty());
    EXPECT_EQ(r.stats.torn_bytes, cut - s1);
    EXPECT_EQ(logs.Contains("level=warn") && logs.Contains("torn"), cut > s1);

    AppendThenReplay(Options(d.wal(), nullptr), more, want_after);
  }
  // A damaged (not truncated) last frame is a torn write too.
  WriteFile(seg, full);
  FlipByte(seg, full.size() - 3);
  Replayed r = ReplayDir(d.wal());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.lines, base);
  EXPECT_EQ(r.stats.torn_bytes, full.size() - s1);
}

// Writes `n` single-frame batches into segment 1 and returns each frame's start offset.
std::vector<uint64_t> WriteBatches(const WalOptions& o, int n, std::vector<std::string>* want,
                                   int sync_after = -1) {
  std::vector<uint64_t> starts;
  auto wal = Wal::Open(o);
  if (!wal.ok())
    return starts;
  const std::string seg = o.dir + "/" + SegmentName(1);
  for (int i = 0; i < n; ++i) {
    starts.push_back(FileSize(seg));
    std::vector<Entry> e = MakeEntries(absl::StrCat("b", i), 4);
    const Record recs[] = {Record::Entries("t", 1, e)};
    if (!(*wal)->Append(recs).ok())
      return {};
    if (want)
      AppendTo(want, Expected("t", 1, e));
    if (i == sync_after && !(*wal)->Sync().ok())
      return {};
  }
  return starts;
}

TEST(WalTest, MidFileCorruptionIsDataLoss) {
  for (uint64_t where : {30u, 2u, 12u}) {  // Payload byte, length field, synced_offset field.
    SCOPED_TRACE(where);
    TempDir d;
    metrics::Registry reg;
    std::vector<uint64_t> starts = WriteBatches(Options(d.wal(), nullptr), 5, nullptr);
    ASSERT_EQ(starts.size(), 5u);
    FlipByte(d.wal() + "/" + SegmentName(1), starts[2] + where);
    Replayed r = ReplayDir(d.wal(), &reg);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << r.status;
    EXPECT_THAT(std::string(r.status.message()), HasSubstr(SegmentName(1)));
    EXPECT_THAT(std::string(r.status.message()), HasSubstr(absl::StrCat("offset ", starts[2])));
    EXPECT_EQ(MetricValue(reg, "loki_ingester_wal_corruptions_total"), 1);
    // Opening for writing refuses too: it never appends after damaged acknowledged data.
    EXPECT_EQ(Wal::Open(Options(d.wal(), nullptr)).status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(WalTest, CorruptionInNonLastSegmentIsDataLoss) {
  TempDir d;
  WalOptions o = Options(d.wal(), nullptr);
  o.segment_size = 1024;
  o.compress_frames = false;  // The segment counts below assume uncompressed sizes.
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 20; ++i) {
      std::vector<Entry> e = MakeEntries(absl::StrCat("x", i), 6);
      const Record recs[] = {Record::Entries("t", 1, e)};
      ASSERT_TRUE((*wal)->Append(recs).ok());
    }
  }
  ASSERT_GT(Segments(d.wal()).size(), 3u);
  // The very last byte of segment 2: would be a torn tail if segment 2 were the last one.
  const std::string seg2 = d.wal() + "/" + SegmentName(2);
  FlipByte(seg2, FileSize(seg2) - 1);
  Replayed r = ReplayDir(d.wal());
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << r.status;
  EXPECT_THAT(std::string(r.status.message()), HasSubstr(SegmentName(2)));
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("offset "));

  // Truncating a non-last segment is data loss as well.
  WriteFile(seg2, ReadFile(seg2).substr(0, 100));
  r = ReplayDir(d.wal());
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << r.status;

  // And so is a missing segment.
  fs::remove(seg2);
  r = ReplayDir(d.wal());
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << r.status;
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("missing"));
}

TEST(WalTest, IntervalPolicyTellsUnsyncedTailFromSyncedCorruption) {
  {
    // Nothing synced after the header: damage in the middle is part of the torn tail.
    TempDir d;
    WalOptions o = Options(d.wal(), nullptr);
    o.sync_policy = SyncPolicy::kInterval;
    o.sync_interval = absl::Hours(1);
    std::vector<std::string> want;
    std::vector<uint64_t> starts = WriteBatches(o, 5, &want);
    ASSERT_EQ(starts.size(), 5u);
    FlipByte(d.wal() + "/" + SegmentName(1), starts[2] + 30);
    Replayed r = ReplayDir(d.wal());
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.lines, std::vector<std::string>(want.begin(), want.begin() + 8));
  }
  {
    // Synced after batch 1: damage before the sync point is corruption, after it a torn tail.
    TempDir d;
    WalOptions o = Options(d.wal(), nullptr);
    o.sync_policy = SyncPolicy::kInterval;
    o.sync_interval = absl::Hours(1);
    std::vector<std::string> want;
    std::vector<uint64_t> starts = WriteBatches(o, 5, &want, /*sync_after=*/1);
    ASSERT_EQ(starts.size(), 5u);
    const std::string seg = d.wal() + "/" + SegmentName(1);
    const std::string clean = ReadFile(seg);
    FlipByte(seg, starts[1] + 30);
    EXPECT_EQ(ReplayDir(d.wal()).status.code(), absl::StatusCode::kDataLoss);
    WriteFile(seg, clean);
    FlipByte(seg, starts[2] + 30);
    Replayed r = ReplayDir(d.wal());
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.lines, std::vector<std::string>(want.begin(), want.begin() + 8));
  }
}

TEST(WalTest, IntervalPolicySyncsInBackground) {
  TempDir d;
  metrics::Registry reg;
  WalOptions o = Options(d.wal(), &reg);
  o.sync_policy = SyncPolicy::kInterval;
  o.sync_interval = absl::Milliseconds(20);
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok());
  std::vector<Entry> e = MakeEntries("bg", 3);
  const Record recs[] = {Record::Entries("t", 1, e)};
  ASSERT_TRUE((*wal)->Append(recs).ok());
  for (int i = 0; i < 200 && MetricValue(reg, "norn_ingester_wal_fsync_duration_seconds_count") < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(MetricValue(reg, "norn_ingester_wal_fsync_duration_seconds_count"), 1);
  ASSERT_TRUE((*wal)->Close().ok());
}

TEST(WalTest, ConcurrentAppendersShareFsyncs) {
  TempDir d;
  metrics::Registry reg;
  constexpr int kThreads = 8;
  constexpr int kAppends = 100;
  constexpr int kLines = 5;
  {
    auto wal = Wal::Open(Options(d.wal(), &reg));
    ASSERT_TRUE(wal.ok());
    Wal& w = **wal;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const Labels labels{{"thread", std::to_string(t)}};
        for (int i = 0; i < kAppends; ++i) {
          std::vector<Entry> e = MakeEntries(absl::StrCat("t", t, "-", i), kLines, i * 10);
          std::vector<Record> recs;
          if (i == 0)
            recs.push_back(Record::Series("tenant", labels.Hash(), labels));
          recs.push_back(Record::Entries("tenant", labels.Hash(), e));
          if (!w.Append(recs).ok())
            ++failures;
        }
      });
    }
    for (std::thread& th : threads)
      th.join();
    EXPECT_EQ(failures.load(), 0);
  }
  std::map<std::string, int> seen;
  std::map<Fingerprint, int64_t> last_ts;
  bool ordered = true;
  ReplayCallbacks cb;
  int series = 0;
  cb.on_series = [&](std::string_view, Fingerprint, const Labels&) {
    ++series;
    return absl::OkStatus();
  };
  cb.on_entries = [&](std::string_view, Fingerprint fp, std::span<const EntryView> es) {
    for (const EntryView& e : es) {
      ++seen[std::string(e.line)];
      auto it = last_ts.find(fp);
      if (it != last_ts.end() && e.timestamp_ns <= it->second)
        ordered = false;
      last_ts[fp] = e.timestamp_ns;
    }
    return absl::OkStatus();
  };
  absl::StatusOr<ReplayStats> st = Replay(d.wal(), cb);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(series, kThreads);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kAppends * kLines));
  for (const auto& [line, n] : seen)
    EXPECT_EQ(n, 1) << line;
  EXPECT_TRUE(ordered) << "a thread's appends replayed out of order";
  const double groups = MetricValue(reg, "norn_ingester_wal_group_commit_appends_count");
  const double fsyncs = MetricValue(reg, "norn_ingester_wal_fsync_duration_seconds_count");
  std::printf("group commits: %.0f for %d appends; fsyncs %.0f\n", groups, kThreads * kAppends,
              fsyncs);
  EXPECT_LT(groups, kThreads * kAppends);
  EXPECT_LT(fsyncs, kThreads * kAppends);
}

TEST(WalTest, InjectedWriteAndSyncFailuresAreReportedAndRecovered) {
  for (IoOp failing : {IoOp::kWrite, IoOp::kSync}) {
    SCOPED_TRACE(static_cast<int>(failing));
    TempDir d;
    metrics::Registry reg;
    std::atomic<int> fail_next{0};
    std::atomic<int> fail_create{0};
    WalOptions o = Options(d.wal(), &reg);
    o.fault_injector = [&](IoOp op) {
      if (op == failing)
        return fail_next.exchange(0);
      if (op == IoOp::kCreate)
        return fail_create.exchange(0);
      return 0;
    };
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    Wal& w = **wal;
    std::vector<Entry> a = MakeEntries("acked-a", 3), b = MakeEntries("failed-b", 3),
                       c = MakeEntries("acked-c", 3);
    const Record ra[] = {Record::Entries("t", 1, a)};
    const Record rb[] = {Record::Entries("t", 1, b)};
    const Record rc[] = {Record::Entries("t", 1, c)};
    ASSERT_TRUE(w.Append(ra).ok());
    fail_next = failing == IoOp::kWrite ? ENOSPC : EIO;
    absl::Status s = w.Append(rb);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_THAT(std::string(s.message()),
                HasSubstr(failing == IoOp::kWrite ? "No space left" : "Input/output error"));
    EXPECT_EQ(MetricValue(reg, "loki_ingester_wal_disk_full_failures_total"),
              failing == IoOp::kWrite ? 1 : 0);
    // Creating the next segment can fail too (still no space); a later retry succeeds.
    fail_create = ENOSPC;
    EXPECT_EQ(w.Append(rc).code(), absl::StatusCode::kUnavailable);
    ASSERT_TRUE(w.Append(rc).ok());
    EXPECT_EQ(w.CurrentSegment(), 2u);
    ASSERT_TRUE(w.Close().ok());
    Replayed r = ReplayDir(d.wal());
    ASSERT_TRUE(r.status.ok()) << r.status;
    std::vector<std::string> want = Expected("t", 1, a);
    AppendTo(&want, Expected("t", 1, c));
    EXPECT_EQ(r.lines, want);
  }
}

// A real disk-full-like failure: RLIMIT_FSIZE makes write(2) return a short count and then
// EFBIG (SIGXFSZ ignored). Runs in a forked child so the limit does not leak into the test.
TEST(WalTest, FileSizeLimitFailsAppendWithoutAcknowledging) {
  TempDir d;
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    int code = 0;
    auto fail = [&](int c) {
      code = c;
      return c;
    };
    [&] {
      ::signal(SIGXFSZ, SIG_IGN);
      rlimit old;
      ::getrlimit(RLIMIT_FSIZE, &old);
      rlimit lim = old;
      lim.rlim_cur = 256 * 1024;
      if (::setrlimit(RLIMIT_FSIZE, &lim) != 0)
        return fail(10);
      WalOptions o;
      o.dir = d.wal();
      o.direct_io = false;  // the limit is checked on exact frame sizes
      o.segment_size = 1 << 20;
      metrics::Registry reg;
      o.registry = &reg;
      auto wal = Wal::Open(o);
      if (!wal.ok())
        return fail(11);
      int acked = 0;
      absl::Status s;
      for (int i = 0; i < 1000; ++i) {
        std::vector<Entry> e = MakeEntries(absl::StrCat("n", i, std::string(1000, 'x')), 4);
        const Record recs[] = {Record::Entries("t", 1, e)};
        s = (*wal)->Append(recs);
        if (!s.ok())
          break;
        ++acked;
      }
      if (s.ok())
        return fail(12);
      if (s.code() != absl::StatusCode::kUnavailable)
        return fail(13);
      if (std::string(s.message()).find("File too large") == std::string::npos)
        return fail(14);
      if (acked < 50)
        return fail(15);
      // Space comes back: the next append succeeds in a new segment.
      if (::setrlimit(RLIMIT_FSIZE, &old) != 0)
        return fail(16);
      std::vector<Entry> e = MakeEntries("after-recovery", 1);
      const Record recs[] = {Record::Entries("t", 1, e)};
      if (!(*wal)->Append(recs).ok())
        return fail(17);
      ++acked;
      if (!(*wal)->Close().ok())
        return fail(18);
      if (::write(pipefd[1], &acked, sizeof(acked)) != sizeof(acked))
        return fail(19);
      return 0;
    }();
    ::_exit(code);
  }
  ::close(pipefd[1]);
  int acked = -1;
  const ssize_t got = ::read(pipefd[0], &acked, sizeof(acked));
  ::close(pipefd[0]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus));
  ASSERT_EQ(WEXITSTATUS(wstatus), 0) << "child failed at step " << WEXITSTATUS(wstatus);
  ASSERT_EQ(got, static_cast<ssize_t>(sizeof(acked)));
  Replayed r = ReplayDir(d.wal());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.stats.entries_records, static_cast<uint64_t>(acked));  // Exactly the acked ones.
  EXPECT_EQ(r.stats.torn_bytes, 0u);
  EXPECT_EQ(Segments(d.wal()).size(), 2u);
  EXPECT_LE(FileSize(d.wal() + "/" + SegmentName(1)), 256u * 1024);
}

// ---- frame compression ----

// Lines that compress well, like real logs (shared structure, varying fields).
std::vector<Entry> LogLikeEntries(const std::string& tag, int n) {
  std::vector<Entry> out;
  for (int i = 0; i < n; ++i) {
    Entry e;
    e.timestamp_ns = 5000 + i;
    e.line = absl::StrCat("10.0.", i % 7, ".", i % 250, " - - [27/Nov/2023:10:00:", i % 60,
                          " +0000] \"GET /api/v1/", tag, "?id=", i * 7919 % 100000,
                          " HTTP/1.1\" 200 ", i * 31 % 5000, " \"-\" \"curl/7.88.1\"");
    if (i % 5 == 0)
      e.structured_metadata = {{"trace_id", absl::StrCat("abc", i)}};
    out.push_back(std::move(e));
  }
  return out;
}

// The type byte of every frame of a segment/checkpoint file, walking the length chain.
std::vector<int> FrameTypes(const std::string& path, std::vector<uint64_t>* starts = nullptr) {
  const std::string data = ReadFile(path);
  std::vector<int> types;
  uint64_t off = kSegmentHeaderSize;
  while (off + kFrameHeaderSize <= data.size()) {
    if (starts)
      starts->push_back(off);
    types.push_back(static_cast<uint8_t>(data[off + 16]));
    off += kFrameHeaderSize + internal::DecodeFixed32(data.data() + off);
  }
  return types;
}

TEST(WalCompressionTest, CompressibleFramesAreSnappyAndRoundTrip) {
  TempDir d;
  metrics::Registry reg;
  std::vector<Entry> a = LogLikeEntries("orders", 3000);  // ~300 KB: compresses well.
  std::vector<Entry> big = {{7, std::string(3 << 20, 'L'), {}}};  // Spans several frames.
  {
    auto wal = Wal::Open(Options(d.wal(), &reg));
    ASSERT_TRUE(wal.ok()) << wal.status();
    const Record recs[] = {Record::Series("t", 9, kLabels), Record::Entries("t", 9, a),
                           Record::Entries("t", 9, big)};
    ASSERT_TRUE((*wal)->Append(recs).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  const std::string seg = d.wal() + "/" + SegmentName(1);
  const std::vector<int> types = FrameTypes(seg);
  ASSERT_FALSE(types.empty());
  for (int t : types)
    EXPECT_EQ(t, kFrameTypeSnappyRecords);
  // Stored bytes are what the counters and replay stats report, and far below the input.
  EXPECT_LT(FileSize(seg), (3u << 20) / 4);
  EXPECT_EQ(MetricValue(reg, "loki_ingester_wal_logged_bytes_total"),
            static_cast<double>(FileSize(seg) - kSegmentHeaderSize));
  Replayed r = ReplayDir(d.wal());
  ASSERT_TRUE(r.status.ok()) << r.status;
  std::vector<std::string> want = Expected("t", 9, a);
  AppendTo(&want, Expected("t", 9, big));
  EXPECT_EQ(r.lines, want);
  EXPECT_EQ(r.stats.bytes, FileSize(seg));
  EXPECT_EQ(r.series.size(), 1u);
}

TEST(WalCompressionTest, IncompressibleFramesStayUncompressed) {
  TempDir d;
  std::mt19937_64 rng(7);
  std::vector<Entry> e(40);
  for (Entry& x : e) {
    x.line.resize(1000);
    for (char& c : x.line)
      c = static_cast<char>(rng());
  }
  {
    auto wal = Wal::Open(Options(d.wal(), nullptr));
    ASSERT_TRUE(wal.ok());
    const Record recs[] = {Record::Entries("t", 1, e)};
    ASSERT_TRUE((*wal)->Append(recs).ok());
  }
  EXPECT_EQ(FrameTypes(d.wal() + "/" + SegmentName(1)), std::vector<int>{kFrameTypeRecords});
  Replayed r = ReplayDir(d.wal());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.lines, Expected("t", 1, e));
}

TEST(WalCompressionTest, MixedUncompressedAndCompressedFramesReplay) {
  TempDir d;
  const std::string seg = d.wal() + "/" + SegmentName(1);
  std::vector<std::string> want;
  {
    // Type-1 frames as an older writer (or a builder with compression off) wrote them.
    ASSERT_TRUE(fs::create_directories(d.wal()));
    internal::FrameBuilder old(kFrameTargetBytes, /*compress=*/false);
    std::vector<Entry> e = LogLikeEntries("legacy", 500);
    old.Add(Record::Series("t", 3, kLabels));
    old.Add(Record::Entries("t", 3, e));
    old.Finish();
    std::string file(kSegmentMagic);
    uint64_t off = kSegmentHeaderSize;
    std::string& buf = old.mutable_buffer();
    for (size_t start : old.frames()) {
      internal::SealFrame(buf.data() + start, off);
      off += internal::FrameLength(buf.data() + start);
    }
    file += buf;
    WriteFile(seg, file);
    AppendTo(&want, Expected("t", 3, e));
  }
  {
    // A current writer resumes in the same segment and adds compressed frames.
    auto wal = Wal::Open(Options(d.wal(), nullptr));
    ASSERT_TRUE(wal.ok()) << wal.status();
    for (int i = 0; i < 3; ++i) {
      std::vector<Entry> e = LogLikeEntries(absl::StrCat("new", i), 300);
      const Record recs[] = {Record::Entries("t", 3, e)};
      ASSERT_TRUE((*wal)->Append(recs).ok());
      AppendTo(&want, Expected("t", 3, e));
    }
  }
  const std::vector<int> types = FrameTypes(seg);
  EXPECT_EQ(std::count(types.begin(), types.end(), kFrameTypeRecords), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), kFrameTypeSnappyRecords), 3);
  Replayed r = ReplayDir(d.wal());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.lines, want);
}

TEST(WalCompressionTest, CorruptCompressedPayloadIsDataLoss) {
  TempDir d;
  const std::string seg = d.wal() + "/" + SegmentName(1);
  {
    auto wal = Wal::Open(Options(d.wal(), nullptr));
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 4; ++i) {
      std::vector<Entry> e = LogLikeEntries(absl::StrCat("c", i), 200);
      const Record recs[] = {Record::Entries("t", 1, e)};
      ASSERT_TRUE((*wal)->Append(recs).ok());
    }
  }
  std::vector<uint64_t> starts;
  ASSERT_EQ(FrameTypes(seg, &starts), std::vector<int>(4, kFrameTypeSnappyRecords));
  const std::string clean = ReadFile(seg);
  // A flipped byte inside a compressed payload followed by synced frames: kDataLoss.
  FlipByte(seg, starts[1] + kFrameHeaderSize + 100);
  Replayed r = ReplayDir(d.wal());
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << r.status;
  EXPECT_THAT(std::string(r.status.message()), HasSubstr(absl::StrCat("offset ", starts[1])));

  // In the unsynced last frame it is a torn tail, as for uncompressed frames.
  WriteFile(seg, clean);
  FlipByte(seg, starts[3] + kFrameHeaderSize + 100);
  r = ReplayDir(d.wal());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.stats.torn_bytes, clean.size() - starts[3]);

  // A compressed payload whose checksum holds but that is not valid snappy (a writer bug, or
  // a checksum collision): never silently dropped, even as the last frame.
  std::string bad(kSegmentMagic);
  std::string frame(kFrameHeaderSize, '\0');
  const std::string junk = "\xff\xff\xff\xff\x0f not snappy at all";
  internal::EncodeFixed32(frame.data(), static_cast<uint32_t>(junk.size()));
  internal::EncodeFixed32(frame.data() + 4, internal::Checksum(junk));
  frame[16] = static_cast<char>(kFrameTypeSnappyRecords);
  internal::SealFrame(frame.data(), kSegmentHeaderSize);
  bad += frame + junk;
  WriteFile(seg, bad);
  r = ReplayDir(d.wal());
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << r.status;
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("compressed"));
}

TEST(WalCompressionTest, UnknownFrameTypeIsDamage) {
  TempDir d;
  const std::string seg = d.wal() + "/" + SegmentName(1);
  {
    auto wal = Wal::Open(Options(d.wal(), nullptr));
    ASSERT_TRUE(wal.ok());
    std::vector<Entry> e = LogLikeEntries("x", 100);
    const Record recs[] = {Record::Entries("t", 1, e)};
    ASSERT_TRUE((*wal)->Append(recs).ok());
    ASSERT_TRUE((*wal)->Append(recs).ok());
  }
  std::vector<uint64_t> starts;
  FrameTypes(seg, &starts);
  ASSERT_EQ(starts.size(), 2u);
  std::string data = ReadFile(seg);
  data[starts[0] + 16] = 3;  // Header checksum now fails too; either way not a valid frame.
  internal::SealFrame(data.data() + starts[0], 0);
  WriteFile(seg, data);
  Replayed r = ReplayDir(d.wal());
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << r.status;
}

}  // namespace
}  // namespace norn::wal
