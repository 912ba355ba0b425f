// Throughput of WAL appends with fsync-per-batch (SyncPolicy::kBatch).
//
//   wal_bench [dir] [seconds-per-case] [batch|interval]
//
// For each case (batch size x concurrent appenders) appends batches of 1 KiB lines for the
// given time and prints appends/s, MB/s and fsyncs per append. The directory (default: under
// $TMPDIR or /tmp) must be on the disk under test; it is emptied per case.
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
  double fsyncs_per_append;
};

Result RunCase(const std::string& dir, size_t batch_bytes, int threads, double seconds,
               norn::wal::SyncPolicy policy) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  norn::metrics::Registry reg;
  WalOptions o;
  o.dir = dir;
  o.registry = &reg;
  o.sync_policy = policy;
  auto wal = Wal::Open(o);
  if (!wal.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(wal.status().message()).c_str());
    std::exit(1);
  }
  const size_t lines = std::max<size_t>(1, batch_bytes / 1024);
  std::vector<std::thread> ts;
  std::vector<uint64_t> counts(threads, 0);
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Seconds(seconds);
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::vector<Entry> entries(lines);
      for (size_t i = 0; i < lines; ++i) {
        entries[i].timestamp_ns = static_cast<int64_t>(i);
        entries[i].line = std::string(1024 - 40, 'a' + static_cast<char>(i % 26));
      }
      const Record rec = Record::Entries("fake", 1000 + t, entries);
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
  const double bytes = static_cast<double>(appends) * static_cast<double>(lines) * 1024;
  fs::remove_all(dir, ec);
  return {appends / elapsed, bytes / elapsed / 1e6, fsyncs / static_cast<double>(appends)};
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
  std::printf("%-10s %-8s %12s %10s %14s\n", "batch", "threads", "appends/s", "MB/s",
              "fsyncs/append");
  struct Case {
    size_t bytes;
    int threads;
  };
  for (const Case c : {Case{1 << 20, 1}, Case{1 << 20, 4}, Case{16 << 10, 1}, Case{16 << 10, 8},
                       Case{1 << 10, 1}, Case{1 << 10, 8}}) {
    const Result r = RunCase(dir, c.bytes, c.threads, seconds, policy);
    std::printf("%-10s %-8d %12.0f %10.1f %14.2f\n",
                c.bytes >= (1 << 20) ? absl::StrCat(c.bytes >> 20, " MiB").c_str()
                                     : absl::StrCat(c.bytes >> 10, " KiB").c_str(),
                c.threads, r.appends_per_s, r.mb_per_s, r.fsyncs_per_append);
    std::fflush(stdout);
  }
  return 0;
}
