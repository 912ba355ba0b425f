#include "common/memory_trim.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
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

// A requested trim happens on the background thread, with no further call (here at once:
// the freed memory is more than the growth the trimmer waits out).
TEST(MemoryTrimTest, RequestedTrimHappensInTheBackground) {
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
  GTEST_SKIP() << "glibc's allocator is not the one in use";
#else
  TrimMemoryNow();
  const long before = ResidentBytes();
  std::vector<char*> kept = FragmentAnArena();
  const long freed = ResidentBytes();
  ASSERT_GT(freed, before + (80l << 20));
  for (int i = 0; i < 5; ++i)
    RequestMemoryTrim();
  long now = freed;
  for (int waited_ms = 0; waited_ms < 10000 && now > before + (40l << 20); waited_ms += 50) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    now = ResidentBytes();
  }
  EXPECT_LT(now, before + (40l << 20)) << "before " << before << " freed " << freed;
  for (char* p : kept)
    free(p);
#endif
}

}  // namespace
}  // namespace norn
