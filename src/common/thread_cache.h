// Threads kept for reuse by work that needs a thread of its own right away.
//
// A query's readers block until its engine threads take their batches, so they cannot wait in
// a bounded pool's queue behind other queries' readers: each task needs a thread at once. Starting
// a thread per task gives that, but in a VM the clone, the stack's mapping and the exit cost
// about a tenth of a short query's CPU. RunOnThread hands a task to an idle cached thread, or
// starts a new one when none is idle, so a task never waits for another task. Threads idle for
// kThreadCacheIdleTimeout exit.
//
// Thread-safe. Tasks must not throw.
#pragma once

#include <chrono>
#include <functional>

namespace norn {

inline constexpr std::chrono::seconds kThreadCacheIdleTimeout{30};

// Runs `task` on a cached thread (or a new one) without waiting behind other tasks.
void RunOnThread(std::function<void()> task);

// Threads alive and threads idle right now (tests).
struct ThreadCacheCounts {
  size_t threads = 0;
  size_t idle = 0;
};
ThreadCacheCounts GetThreadCacheCounts();

}  // namespace norn
