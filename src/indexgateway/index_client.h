// IndexClient: the index look-ups a querier needs for flushed data (series, chunk refs, label
// names and values, stats) for one tenant and an inclusive time range [from_ns, through_ns].
//
// Two implementations: StoreIndexClient reads the index files from object storage itself (what
// an index gateway runs, and what a single binary uses in-process), RemoteIndexClient asks an
// index gateway over gRPC. Queriers only see this interface.
//
// Thread-safe: every method may be called concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/index/matcher.h"
#include "storage/index/types.h"

namespace norn::indexgateway {

class IndexClient {
 public:
  virtual ~IndexClient() = default;

  // Sorted, unique.
  virtual absl::StatusOr<std::vector<std::string>> LabelNames(
      std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
      int64_t through_ns) = 0;
  // Sorted, unique.
  virtual absl::StatusOr<std::vector<std::string>> LabelValues(
      std::string_view tenant, std::string_view name, std::span<const index::Matcher> matchers,
      int64_t from_ns, int64_t through_ns) = 0;
  virtual absl::StatusOr<std::vector<index::SeriesInfo>> Series(
      std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
      int64_t through_ns) = 0;
  // Series with the chunk refs that overlap the range (refs sorted by ChunkRef::KeyLess,
  // duplicates across index files removed).
  virtual absl::StatusOr<std::vector<index::SeriesChunks>> ChunkRefs(
      std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
      int64_t through_ns) = 0;
  virtual absl::StatusOr<index::IndexStats> Stats(std::string_view tenant,
                                                  std::span<const index::Matcher> matchers,
                                                  int64_t from_ns, int64_t through_ns) = 0;
};

}  // namespace norn::indexgateway
