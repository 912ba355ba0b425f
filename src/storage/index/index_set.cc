#include "storage/index/index_set.h"

#include "common/sort_unique.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "common/status.h"

namespace norn::index {
namespace {


}  // namespace

absl::StatusOr<std::vector<std::string_view>> IndexSet::LabelNames(
    std::span<const Matcher> matchers, int64_t from, int64_t through) const {
  std::vector<std::string_view> out;
  for (const auto& r : readers_) {
    ASSIGN_OR_RETURN(auto names, r->LabelNames(matchers, from, through));
    out.insert(out.end(), names.begin(), names.end());
  }
  SortUnique(out);
  return out;
}

absl::StatusOr<std::vector<std::string_view>> IndexSet::LabelValues(
    std::string_view name, std::span<const Matcher> matchers, int64_t from, int64_t through) const {
  std::vector<std::string_view> out;
  for (const auto& r : readers_) {
    ASSIGN_OR_RETURN(auto values, r->LabelValues(name, matchers, from, through));
    out.insert(out.end(), values.begin(), values.end());
  }
  SortUnique(out);
  return out;
}

absl::StatusOr<std::vector<SeriesChunks>> IndexSet::ChunkRefs(std::span<const Matcher> matchers,
                                                              int64_t from, int64_t through) const {
  std::vector<SeriesChunks> out;
  // fingerprint -> positions in `out` (more than one only on a fingerprint collision).
  absl::flat_hash_map<Fingerprint, std::vector<size_t>> by_fp;
  std::vector<bool> merged;  // series that received chunks from more than one file
  for (const auto& r : readers_) {
    if (Skip(*r, from, through))
      continue;
    ASSIGN_OR_RETURN(auto part, r->ChunkRefs(matchers, from, through));
    for (SeriesChunks& s : part) {
      auto& slots = by_fp[s.fingerprint];
      auto it = std::find_if(slots.begin(), slots.end(),
                             [&](size_t i) { return out[i].labels == s.labels; });
      if (it == slots.end()) {
        slots.push_back(out.size());
        out.push_back(std::move(s));
        merged.push_back(false);
      } else {
        auto& dst = out[*it].chunks;
        dst.insert(dst.end(), s.chunks.begin(), s.chunks.end());
        merged[*it] = true;
      }
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (!merged[i])
      continue;  // one file's list is already sorted and unique
    auto& c = out[i].chunks;
    std::stable_sort(c.begin(), c.end(), ChunkRef::KeyLess);
    c.erase(std::unique(c.begin(), c.end(), ChunkRef::KeyEqual), c.end());
  }
  if (readers_.size() > 1) {
    std::sort(out.begin(), out.end(),
              [](const SeriesChunks& a, const SeriesChunks& b) { return a.labels < b.labels; });
  }
  return out;
}

absl::StatusOr<std::vector<SeriesInfo>> IndexSet::Series(std::span<const Matcher> matchers,
                                                         int64_t from, int64_t through) const {
  std::vector<SeriesInfo> out;
  absl::flat_hash_map<Fingerprint, std::vector<size_t>> by_fp;
  for (const auto& r : readers_) {
    if (Skip(*r, from, through))
      continue;
    ASSIGN_OR_RETURN(auto part, r->Series(matchers, from, through));
    for (SeriesInfo& s : part) {
      auto& slots = by_fp[s.fingerprint];
      bool dup = std::any_of(slots.begin(), slots.end(),
                             [&](size_t i) { return out[i].labels == s.labels; });
      if (dup)
        continue;
      slots.push_back(out.size());
      out.push_back(std::move(s));
    }
  }
  if (readers_.size() > 1) {
    std::sort(out.begin(), out.end(),
              [](const SeriesInfo& a, const SeriesInfo& b) { return a.labels < b.labels; });
  }
  return out;
}

absl::StatusOr<IndexStats> IndexSet::Stats(std::span<const Matcher> matchers, int64_t from,
                                           int64_t through) const {
  IndexStats st;
  size_t live = 0;
  const IndexReader* only = nullptr;
  for (const auto& r : readers_) {
    if (!Skip(*r, from, through)) {
      ++live;
      only = r.get();
    }
  }
  if (live == 0)
    return st;
  // One file cannot contain duplicates: count without materialising labels.
  if (live == 1)
    return only->Stats(matchers, from, through);
  ASSIGN_OR_RETURN(auto series, ChunkRefs(matchers, from, through));
  for (const SeriesChunks& s : series) {
    ++st.streams;
    for (const ChunkRef& c : s.chunks) {
      ++st.chunks;
      st.entries += c.entries;
      st.bytes += c.uncompressed_bytes;
    }
  }
  return st;
}

}  // namespace norn::index
