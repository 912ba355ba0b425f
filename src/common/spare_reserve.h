// SpareReserve: a few objects whose buffers have grown, left by one user for the next (a
// query's decoded blocks and reader batches for the next query), so the next one does not
// allocate, page-fault and zero-fill them again. Bounded in count and in each object's size,
// so it never holds more than max_items x max_item_bytes. Thread-safe.
//
// T needs Clear() (empties it, keeping its buffers) and MemoryBytes() (the heap bytes they
// hold).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace norn {

template <typename T>
class SpareReserve {
 public:
  SpareReserve(size_t max_items, size_t max_item_bytes)
      : max_items_(max_items), max_item_bytes_(max_item_bytes) {}

  // A spare object, or a new one.
  std::unique_ptr<T> Take() {
    std::lock_guard lock(mu_);
    if (spare_.empty())
      return std::make_unique<T>();
    std::unique_ptr<T> item = std::move(spare_.back());
    spare_.pop_back();
    return item;
  }
  // Keeps `item`, cleared, if there is room and its buffers are small enough; else frees it.
  void Give(std::unique_ptr<T> item) {
    if (item == nullptr || item->MemoryBytes() > max_item_bytes_)
      return;
    item->Clear();
    std::lock_guard lock(mu_);
    if (spare_.size() < max_items_)
      spare_.push_back(std::move(item));
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return spare_.size();
  }

 private:
  const size_t max_items_;
  const size_t max_item_bytes_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<T>> spare_;
};

}  // namespace norn
