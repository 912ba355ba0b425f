// SortUnique: a vector sorted with repeats dropped, for merging answers of several sources
// (index files, ingester and store). An answer that is one source's already comes sorted, so
// checking for that first costs one pass instead of a sort.
#pragma once

#include <algorithm>
#include <vector>

namespace norn {

template <typename T>
void SortUnique(std::vector<T>& v) {
  if (!std::is_sorted(v.begin(), v.end())) std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace norn
