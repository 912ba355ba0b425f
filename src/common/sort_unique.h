// SortUnique: a vector sorted with repeats dropped, for merging answers of several sources
// (index files, ingester and store). An answer that is one source's already comes sorted, so
// checking for that first costs one pass instead of a sort.
#pragma once

#include <algorithm>
#include <vector>

namespace norn {

template <typename T>
void SortUnique(std::vector<T>& v) {
  // Strictly increasing already (one source's answer): sorted, and nothing repeats.
  if (std::adjacent_find(v.begin(), v.end(), [](const T& a, const T& b) { return !(a < b); }) ==
      v.end())
    return;
  if (!std::is_sorted(v.begin(), v.end())) std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace norn
