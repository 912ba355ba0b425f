#include "storage/index/postings.h"

#include <algorithm>

namespace norn::index::internal {
namespace {

// First position in [lo, s.size()) whose value is >= v, by exponential then binary search.
size_t Gallop(std::span<const uint32_t> s, size_t lo, uint32_t v) {
  size_t step = 1, hi = lo;
  while (hi < s.size() && s[hi] < v) {
    lo = hi + 1;
    hi += step;
    step <<= 1;
  }
  hi = std::min(hi, s.size());
  return static_cast<size_t>(std::lower_bound(s.begin() + lo, s.begin() + hi, v) - s.begin());
}

}  // namespace

void IntersectInto(std::vector<uint32_t>* acc, std::span<const uint32_t> other) {
  std::vector<uint32_t>& a = *acc;
  size_t out = 0;
  if (a.size() * 16 < other.size()) {
    // Few candidates against a long list: skip through the long one.
    size_t j = 0;
    for (size_t i = 0; i < a.size() && j < other.size(); ++i) {
      j = Gallop(other, j, a[i]);
      if (j < other.size() && other[j] == a[i])
        a[out++] = a[i];
    }
  } else {
    size_t i = 0, j = 0;
    while (i < a.size() && j < other.size()) {
      if (a[i] < other[j]) {
        ++i;
      } else if (other[j] < a[i]) {
        ++j;
      } else {
        a[out++] = a[i];
        ++i;
        ++j;
      }
    }
  }
  a.resize(out);
}

bool Intersects(std::span<const uint32_t> a, std::span<const uint32_t> b) {
  if (a.size() > b.size())
    std::swap(a, b);
  size_t j = 0;
  for (uint32_t v : a) {
    j = Gallop(b, j, v);
    if (j == b.size())
      return false;
    if (b[j] == v)
      return true;
  }
  return false;
}

void SubtractInto(std::vector<uint32_t>* acc, std::span<const uint32_t> other) {
  std::vector<uint32_t>& a = *acc;
  size_t out = 0, j = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    j = Gallop(other, j, a[i]);
    if (j < other.size() && other[j] == a[i])
      continue;
    a[out++] = a[i];
  }
  a.resize(out);
}

void Bitmap::AppendTo(std::vector<uint32_t>* out) const {
  for (size_t w = 0; w < words_.size(); ++w) {
    uint64_t bits = words_[w];
    while (bits != 0) {
      out->push_back(static_cast<uint32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits))));
      bits &= bits - 1;
    }
  }
}

}  // namespace norn::index::internal
