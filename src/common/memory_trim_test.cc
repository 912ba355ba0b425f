#include "common/memory_trim.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace norn {
namespace {

// Fills a thread's arena with 128 MiB, then frees all but every 16th block: the kept blocks pin
// the arena, so only a trim can return the freed pages between them. Returns the kept blocks.
// (Unused where the tests are skipped: ASan replaces glibc's allocator.)
[[maybe_unused]] std::vector<char*> FragmentAnArena() {
  std::vector<char*> kept;
  std::thread([&] {
    std::vector<char*> blocks;
    for (int i = 0; i < 2048; ++i) {
      char* p = static_cast<char*>(malloc(64 << 10));
      std::memset(p, 1, 64 << 10);
      blocks.push_back(p);
    }
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (i % 16 == 0) {
        kept.push_back(blocks[i]);
      } else {
        free(blocks[i]);
      }
    }
  }).join();
  return kept;
}

// Waits up to 10 s for a background trim to bring the resident set within 40 MiB of `before`;
// returns the last reading.
long WaitForTrim(long before) {
  long now = ResidentBytes();
  for (int waited_ms = 0; waited_ms < 10000 && now > before + (40l << 20); waited_ms += 50) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    now = ResidentBytes();
  }
  return now;
}

TEST(MemoryTrimTest, FreedArenaMemoryLeavesTheProcess) {
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
  GTEST_SKIP() << "glibc's allocator is not the one in use";
#else
  const long before = ResidentBytes();
  ASSERT_GT(before, 0);
  std::vector<char*> kept = FragmentAnArena();
  const long freed = ResidentBytes();
  TrimMemoryNow();
  const long trimmed = ResidentBytes();
  EXPECT_LE(trimmed, freed);
  EXPECT_LT(trimmed, before + (40l << 20)) << "before " << before << " freed " << freed;
  for (char* p : kept) free(p);
#endif
}

// A thread's arena fragmented by FragmentAnArena right after a trim, for the background trims.
class BackgroundTrimTest : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
    GTEST_SKIP() << "glibc's allocator is not the one in use";
#else
    TrimMemoryNow();
    before_ = ResidentBytes();
    kept_ = FragmentAnArena();
    freed_ = ResidentBytes();
    ASSERT_GT(freed_, before_ + (80l << 20));
#endif
  }
  void TearDown() override {
    for (char* p : kept_)
      free(p);
  }

  long before_ = 0;
  long freed_ = 0;
  std::vector<char*> kept_;
};

// A requested trim happens on the background thread, with no further call (here at once:
// the freed memory is more than the growth the trimmer waits out).
TEST_F(BackgroundTrimTest, RequestedTrimHappensInTheBackground) {
  for (int i = 0; i < 5; ++i)
    RequestMemoryTrim();
  EXPECT_LT(WaitForTrim(before_), before_ + (40l << 20))
      << "before " << before_ << " freed " << freed_;
}

// Page faults taken so far by the calling thread.
[[maybe_unused]] long ThreadMinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

// With TuneMalloc, a freed request-sized buffer is reused by the next one as it is: glibc's
// defaults would map it afresh (or give the heap's top back) and fault in every page again.
TEST(MemoryTrimTest, TunedMallocReusesFreedBuffersWithoutPageFaults) {
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
  GTEST_SKIP() << "glibc's allocator is not the one in use";
#else
  if (std::getenv("GLIBC_TUNABLES") != nullptr ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr)
    GTEST_SKIP() << "the environment sets malloc's thresholds";
  TuneMalloc();
  constexpr size_t kBuffer = 4 << 20;  // 1,024 pages
  long faults = 0;
  std::thread([&] {
    for (int round = 0; round < 3; ++round) {
      const long before = ThreadMinorFaults();
      char* p = static_cast<char*>(malloc(kBuffer));
      std::memset(p, round, kBuffer);
      // Keeps the compiler from dropping the memset of a buffer it frees unread.
      EXPECT_EQ(p[kBuffer - 1], static_cast<char>(round));
      free(p);
      if (round > 0)
        faults += ThreadMinorFaults() - before;
    }
  }).join();
  EXPECT_LT(faults, 64) << "page faults in two reuses of a freed 4 MiB buffer";
#endif
}

// Queries' requests wait for a pause however much memory was freed: a burst keeps reusing it.
// Once they stop, the trim comes.
TEST_F(BackgroundTrimTest, QueryRequestsWaitForAPause) {
  // A burst of 1.5 s, a request every 100 ms (under the half-second pause).
  for (int i = 0; i < 15; ++i) {
    RequestMemoryTrim(TrimWhen::kQuiet);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GT(ResidentBytes(), before_ + (80l << 20)) << "trimmed during the burst";
  EXPECT_LT(WaitForTrim(before_), before_ + (40l << 20))
      << "before " << before_ << " freed " << freed_;
}

}  // namespace
}  // namespace norn
