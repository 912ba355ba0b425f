// Set operations on postings lists (sorted, duplicate-free series ids) used to evaluate
// matchers: intersection for `=`/`=~`, subtraction for `!=`/`!~`, and a bitmap for unions of
// many lists (e.g. every value of a label for `=~".+"`).
//
// Internal to norn::index; pure functions on caller-owned vectors.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace norn::index::internal {

// acc := acc ∩ other. Gallops through the longer side when sizes differ a lot.
void IntersectInto(std::vector<uint32_t>* acc, std::span<const uint32_t> other);

// Whether a and b share an element (stops at the first one).
bool Intersects(std::span<const uint32_t> a, std::span<const uint32_t> b);

// acc := acc \ other.
void SubtractInto(std::vector<uint32_t>* acc, std::span<const uint32_t> other);

// A fixed-size bit set over series ids [0, n), for unions of many lists.
class Bitmap {
 public:
  explicit Bitmap(uint32_t n) : words_((static_cast<size_t>(n) + 63) / 64, 0) {}
  void Set(uint32_t id) { words_[id >> 6] |= uint64_t{1} << (id & 63); }
  // Appends the set ids in increasing order.
  void AppendTo(std::vector<uint32_t>* out) const;

 private:
  std::vector<uint64_t> words_;
};

}  // namespace norn::index::internal
