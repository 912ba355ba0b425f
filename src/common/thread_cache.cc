#include "common/thread_cache.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

namespace norn {
namespace {

class ThreadCache {
 public:
  void Run(std::function<void()> task) {
    std::unique_lock lock(mu_);
    tasks_.push_back(std::move(task));
    // Every waiting task must have an idle thread of its own to take it: otherwise it could
    // wait for a task that in turn waits for it.
    if (idle_ >= tasks_.size()) {
      cv_.notify_one();
      return;
    }
    ++threads_;
    lock.unlock();
    try {
      std::thread([this] { Work(); }).detach();
    } catch (const std::system_error&) {
      // Out of threads: the task stays queued for the next thread that finishes a task (or
      // that a later call starts), which takes the oldest first.
      std::lock_guard relock(mu_);
      --threads_;
    }
  }

  ThreadCacheCounts Counts() {
    std::lock_guard lock(mu_);
    return ThreadCacheCounts{threads_, idle_};
  }

 private:
  void Work() {
    std::unique_lock lock(mu_);
    while (true) {
      if (!tasks_.empty()) {
        std::function<void()> task = std::move(tasks_.front());
        tasks_.pop_front();
        lock.unlock();
        task();
        task = nullptr;  // its captures die outside the lock
        lock.lock();
        continue;
      }
      ++idle_;
      const bool woken =
          cv_.wait_for(lock, kThreadCacheIdleTimeout, [this] { return !tasks_.empty(); });
      --idle_;
      if (!woken) {
        --threads_;
        return;
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  size_t idle_ = 0;     // threads waiting for a task
  size_t threads_ = 0;  // threads alive
};

// Leaked on purpose: detached threads use it until the process exits.
ThreadCache& Cache() {
  static ThreadCache* const cache = new ThreadCache();
  return *cache;
}

}  // namespace

void RunOnThread(std::function<void()> task) {
  Cache().Run(std::move(task));
}

ThreadCacheCounts GetThreadCacheCounts() {
  return Cache().Counts();
}

}  // namespace norn
