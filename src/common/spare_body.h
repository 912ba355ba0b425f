// Response bodies of finished requests, kept for the next ones to render into. A log query's
// answer is a few hundred KB; rendered into a fresh buffer right after a large query freed its
// memory (and the allocator handed it back to the system), it was faulted in page by page: on
// the 2-core VM the benchmarks run on a page fault costs 12-19 us, ~2 ms for 500 KB. Bodies from
// 64 KiB to 4 MiB are kept, four at most (16 MiB). Thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "common/spare_reserve.h"

namespace norn {

struct SpareBody {
  std::string bytes;
  void Clear() { bytes.clear(); }
  size_t MemoryBytes() const { return bytes.capacity(); }
};

inline SpareReserve<SpareBody>& SpareBodies() {
  static auto* const spare =  // never destroyed: used at exit
      new SpareReserve<SpareBody>(/*max_items=*/4, /*max_item_bytes=*/4 << 20);
  return *spare;
}

// An empty string with a kept body's capacity, or a new empty string.
inline std::string TakeSpareBody() {
  return std::move(SpareBodies().Take()->bytes);
}

// Keeps `body`'s buffer for a later TakeSpareBody when it is at least 64 KiB (smaller ones cost
// little to make) and at most 4 MiB.
inline void GiveSpareBody(std::string&& body) {
  if (body.capacity() < (64 << 10))
    return;
  auto spare = std::make_unique<SpareBody>();
  spare->bytes = std::move(body);
  SpareBodies().Give(std::move(spare));
}

}  // namespace norn
