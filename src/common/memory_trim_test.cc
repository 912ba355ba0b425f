#include "common/memory_trim.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace norn {
namespace {

// Resident set size in bytes (second field of /proc/self/statm, in pages).
long ResidentBytes() {
  long size = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}

TEST(MemoryTrimTest, FreedArenaMemoryLeavesTheProcess) {
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
  GTEST_SKIP() << "glibc's allocator is not the one in use";
#else
  const long before = ResidentBytes();
  ASSERT_GT(before, 0);
  // Fill a thread's arena with 128 MiB, then free all but every 16th block: the kept blocks pin
  // the arena, so only a trim can return the freed pages between them.
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
  const long freed = ResidentBytes();
  TrimMemoryNow();
  const long trimmed = ResidentBytes();
  EXPECT_LE(trimmed, freed);
  EXPECT_LT(trimmed, before + (40l << 20)) << "before " << before << " freed " << freed;
  for (char* p : kept) free(p);
  RequestMemoryTrim();  // the background path: must not block or crash
#endif
}

}  // namespace
}  // namespace norn
