// IndexSet: one query view over several index files of a tenant (one per ingester and period,
// or compacted ones), as the querier and index-gateway need it. Results are merged: series are
// de-duplicated by (fingerprint, labels) (replicas write one stream to several files) and
// chunk refs by (from, through, checksum), so replicated chunks are counted once in Stats too.
// Files whose time span does not overlap a query's range are skipped without decoding.
//
// Holds shared ownership of the readers; string_views it returns point into them and stay valid
// while the set (or the readers) live. Add() is not thread-safe; the const queries are.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/index/index_reader.h"
#include "storage/index/matcher.h"
#include "storage/index/types.h"

namespace norn::index {

class IndexSet {
 public:
  IndexSet() = default;
  explicit IndexSet(std::vector<std::shared_ptr<const IndexReader>> readers)
      : readers_(std::move(readers)) {}

  void Add(std::shared_ptr<const IndexReader> reader) { readers_.push_back(std::move(reader)); }
  size_t size() const { return readers_.size(); }
  const std::vector<std::shared_ptr<const IndexReader>>& readers() const { return readers_; }

  absl::StatusOr<std::vector<std::string_view>> LabelNames(std::span<const Matcher> matchers = {},
                                                           int64_t from = kMinTime,
                                                           int64_t through = kMaxTime) const;
  absl::StatusOr<std::vector<std::string_view>> LabelValues(std::string_view name,
                                                            std::span<const Matcher> matchers = {},
                                                            int64_t from = kMinTime,
                                                            int64_t through = kMaxTime) const;
  // Sorted by labels.
  absl::StatusOr<std::vector<SeriesInfo>> Series(std::span<const Matcher> matchers, int64_t from,
                                                 int64_t through) const;
  // Sorted by labels; each series' chunks sorted by (from, through, checksum), unique.
  absl::StatusOr<std::vector<SeriesChunks>> ChunkRefs(std::span<const Matcher> matchers,
                                                      int64_t from, int64_t through) const;
  absl::StatusOr<IndexStats> Stats(std::span<const Matcher> matchers, int64_t from,
                                   int64_t through) const;

 private:
  bool Skip(const IndexReader& r, int64_t from, int64_t through) const {
    return r.series_count() == 0 || from > r.max_time() || through < r.min_time();
  }
  std::vector<std::shared_ptr<const IndexReader>> readers_;
};

}  // namespace norn::index
