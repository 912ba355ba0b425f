#include "common/memory_trim.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace norn {
namespace {

constexpr std::chrono::milliseconds kQuietPeriod(500);
// A burst of requests is not waited out once the resident set has grown this much since the
// last trim: memory freed into one arena is not reused by the others, so a burst that never
// pauses would otherwise climb well above any single request's working set.
constexpr long kGrowthBeforeTrim = 32l << 20;
// TuneMalloc's thresholds (why: memory_trim.h).
[[maybe_unused]] constexpr int kMmapThreshold = 32 << 20;
[[maybe_unused]] constexpr int kTrimThreshold = 8 << 20;

class Trimmer {
 public:
  Trimmer() : thread_([this] { Run(); }) { thread_.detach(); }

  void Request(TrimWhen when) {
    std::lock_guard lock(mu_);
    pending_ = true;
    trim_when_grown_ = trim_when_grown_ || when == TrimWhen::kQuietOrGrown;
    cv_.notify_one();
  }

 private:
  // Lives as long as the process (the Trimmer is never destroyed).
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return pending_; });
      // Trim once requests have stopped for kQuietPeriod: back-to-back queries keep reusing
      // the memory the previous one freed instead of faulting it in again (2-9% of a query's
      // time on the benchmark), and an idle process still gives it back.
      do {
        pending_ = false;
      } while (cv_.wait_for(lock, kQuietPeriod, [this] { return pending_; }) &&
               !(trim_when_grown_ && ResidentBytes() >= trimmed_resident_ + kGrowthBeforeTrim));
      trim_when_grown_ = false;
      lock.unlock();
      TrimMemoryNow();
      const long resident = ResidentBytes();
      lock.lock();
      trimmed_resident_ = resident;
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool trim_when_grown_ = false;  // a request since the last trim allows kQuietOrGrown
  long trimmed_resident_ = 0;  // resident bytes right after the last trim
  std::thread thread_;
};

}  // namespace

long ResidentBytes() {
  long size = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr)
    return 0;
  if (std::fscanf(f, "%ld %ld", &size, &resident) != 2)
    resident = 0;
  std::fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}

void TrimMemoryNow() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

void TuneMalloc() {
#ifdef __GLIBC__
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    mallopt(M_ARENA_MAX, static_cast<int>(2 * cores));
  }
  const bool tunables = std::getenv("GLIBC_TUNABLES") != nullptr;
  if (!tunables && std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr)
    mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  if (!tunables && std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr)
    mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
#endif
}

void RequestMemoryTrim(TrimWhen when) {
  // Leaked on purpose: the detached thread uses it until the process exits.
  static Trimmer* const trimmer = new Trimmer();
  trimmer->Request(when);
}

}  // namespace norn
