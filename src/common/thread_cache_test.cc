#include "common/thread_cache.h"

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace norn {
namespace {

// Waits until `done` or fails the test after a generous bound (a deadlock would hang).
void WaitOrFail(std::latch& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done.try_wait()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "tasks did not finish";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(ThreadCacheTest, RunsEveryTask) {
  std::atomic<int> sum{0};
  std::latch done(100);
  for (int i = 1; i <= 100; ++i) {
    RunOnThread([&, i] {
      sum += i;
      done.count_down();
    });
  }
  WaitOrFail(done);
  EXPECT_EQ(sum.load(), 5050);
}

// Each task blocks until the task started after it runs: with threads taken from a bounded
// queue this would deadlock; every task must get a thread at once.
TEST(ThreadCacheTest, TaskWaitingForALaterTaskDoesNotDeadlock) {
  constexpr int kTasks = 64;
  std::vector<std::promise<void>> started(kTasks);
  std::latch done(kTasks);
  for (int i = 0; i < kTasks; ++i) {
    RunOnThread([&, i] {
      started[i].set_value();
      if (i + 1 < kTasks)
        started[i + 1].get_future().wait();
      done.count_down();
    });
  }
  WaitOrFail(done);
}

TEST(ThreadCacheTest, IdleThreadsAreReused) {
  // Warm: one task, then wait until its thread is idle.
  std::latch first(1);
  RunOnThread([&] { first.count_down(); });
  WaitOrFail(first);
  while (GetThreadCacheCounts().idle == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const size_t threads = GetThreadCacheCounts().threads;
  for (int round = 0; round < 20; ++round) {
    std::latch one(1);
    RunOnThread([&] { one.count_down(); });
    WaitOrFail(one);
    while (GetThreadCacheCounts().idle == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(GetThreadCacheCounts().threads, threads) << "sequential tasks started new threads";
}

}  // namespace
}  // namespace norn
