// Throughput of WAL appends with fsync-per-batch (SyncPolicy::kBatch).
//
//   wal_bench [dir] [seconds-per-case] [batch|interval] [realistic|fill] [compress|plain]
//             [max-batch-bytes] [min-batch-bytes]
//
// For each case (batch size x concurrent appenders) appends batches of log lines for the given
// time and prints appends/s, MB/s of entry bytes, MB/s actually written to segments (after
// frame compression) and fsyncs per append. Lines are realistic by default (the chunk module's
// nginx/JSON/logfmt generators, ~250 B each); "fill" uses the old ~1 KiB single-letter lines
// (unrealistically compressible). The directory (default: under $TMPDIR or /tmp) must be on
// the disk under test; it is emptied per case. "plain" turns frame compression off;
// max/min-batch-bytes skip cases (e.g. "1048576 1048576": only the 1 MiB cases).
// It also reports the process CPU time (user+sys) per MB of entries, over all cases run.
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "storage/chunk/testdata.h"
#include "storage/wal/wal.h"

namespace {

namespace fs = std::filesystem;
using norn::Entry;
using norn::wal::Record;
using norn::wal::Wal;
using norn::wal::WalOptions;

struct Result {
  double appends_per_s;
  double mb_per_s;
  double disk_mb_per_s;
  double fsyncs_per_append;
};

Result RunCase(const std::string& dir, size_t batch_bytes, int threads, double seconds,
               norn::wal::SyncPolicy policy, bool realistic,
               bool compress) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  norn::metrics::Registry reg;
  WalOptions o;
  o.dir = dir;
  o.registry = &reg;
  o.sync_policy = policy;
  o.compress_frames = compress;
  auto wal = Wal::Open(o);
  if (!wal.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(wal.status().message()).c_str());
    std::exit(1);
  }
  // Each thread's batch is built once (outside the timed loop) to about batch_bytes of entries.
  std::vector<std::vector<Entry>> batches(threads);
  size_t batch_payload = 0;
  for (int t = 0; t < threads; ++t) {
    norn::chunk::testdata::LogGenerator gen(42 + t);
    size_t bytes = 0;
    for (size_t i = 0; bytes < batch_bytes || batches[t].empty(); ++i) {
      Entry e;
      e.timestamp_ns = 1700000000000000000 + static_cast<int64_t>(i) * 1000000;
      e.line = realistic ? gen.Line(3, e.timestamp_ns)
                         : std::string(1024 - 40, 'a' + static_cast<char>(i % 26));
      bytes += e.line.size() + (realistic ? 16 : 40);
      batches[t].push_back(std::move(e));
    }
    batch_payload = bytes;
  }
  std::vector<std::thread> ts;
  std::vector<uint64_t> counts(threads, 0);
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Seconds(seconds);
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      const Record rec = Record::Entries("fake", 1000 + t, batches[t]);
      while (absl::Now() < deadline) {
        if (!(*wal)->Append(std::span<const Record>(&rec, 1)).ok())
          std::exit(2);
        ++counts[t];
      }
    });
  }
  for (std::thread& th : ts)
    th.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  uint64_t appends = 0;
  for (uint64_t c : counts)
    appends += c;
  (*wal)->Close().IgnoreError();
  double fsyncs = 0;
  const std::string text = reg.Render();
  const std::string key = "norn_ingester_wal_fsync_duration_seconds_count ";
  if (size_t p = text.find(key); p != std::string::npos) {
    fsyncs = std::strtod(text.c_str() + p + key.size(), nullptr);
  }
  double disk = 0;
  const std::string disk_key = "\nloki_ingester_wal_logged_bytes_total ";
  if (size_t p = text.find(disk_key); p != std::string::npos)
    disk = std::strtod(text.c_str() + p + disk_key.size(), nullptr);
  const double bytes = static_cast<double>(appends) * static_cast<double>(batch_payload);
  fs::remove_all(dir, ec);
  return {appends / elapsed, bytes / elapsed / 1e6, disk / elapsed / 1e6,
          fsyncs / static_cast<double>(appends)};
}

}  // namespace

int main(int argc, char** argv) {
  norn::log::SetLevel(norn::log::Level::kWarn);
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = argc > 1 ? argv[1] : absl::StrCat(tmp ? tmp : "/tmp", "/norn_wal_bench");
  const double seconds = argc > 2 ? std::atof(argv[2]) : 5;
  const auto policy = argc > 3 && std::string_view(argv[3]) == "interval"
                          ? norn::wal::SyncPolicy::kInterval
                          : norn::wal::SyncPolicy::kBatch;
  const bool realistic = !(argc > 4 && std::string_view(argv[4]) == "fill");
  const bool compress = !(argc > 5 && std::string_view(argv[5]) == "plain");
  const size_t max_batch = argc > 6 ? std::strtoull(argv[6], nullptr, 10) : SIZE_MAX;
  const size_t min_batch = argc > 7 ? std::strtoull(argv[7], nullptr, 10) : 0;
  double total_mb = 0;
  std::printf("%-10s %-8s %12s %10s %12s %14s\n", "batch", "threads", "appends/s", "MB/s",
              "disk MB/s", "fsyncs/append");
  struct Case {
    size_t bytes;
    int threads;
  };
  for (const Case c : {Case{1 << 20, 1}, Case{1 << 20, 4}, Case{16 << 10, 1}, Case{16 << 10, 8},
                       Case{1 << 10, 1}, Case{1 << 10, 8}}) {
    if (c.bytes > max_batch || c.bytes < min_batch)
      continue;
    const Result r = RunCase(dir, c.bytes, c.threads, seconds, policy, realistic, compress);
    std::printf("%-10s %-8d %12.0f %10.1f %12.1f %14.2f\n",
                c.bytes >= (1 << 20) ? absl::StrCat(c.bytes >> 20, " MiB").c_str()
                                     : absl::StrCat(c.bytes >> 10, " KiB").c_str(),
                c.threads, r.appends_per_s, r.mb_per_s, r.disk_mb_per_s, r.fsyncs_per_append);
    std::fflush(stdout);
    total_mb += r.mb_per_s * seconds;
  }
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  const double sys = static_cast<double>(ru.ru_stime.tv_sec) +
                     static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
  std::printf("cpu %.2f s (sys %.2f s) for %.0f MB of entries: %.2f ms cpu per MB (sys %.2f)\n",
              cpu, sys, total_mb, cpu / total_mb * 1e3, sys / total_mb * 1e3);
  return 0;
}
