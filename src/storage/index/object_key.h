// Object-store keys for chunks and index files (DESIGN.md "Object store layout"):
//
//   chunk:  <tenant>/chunks/<fingerprint: 16 hex>/<from hex>-<through hex>-<checksum: 8 hex>
//   index:  index/<prefix><period>/<tenant>/<file>
//
// Hex digits are lowercase; from/through are nanoseconds written as the shortest hex of their
// two's-complement uint64 value (no padding). The period is the 24h index period number,
// floor(unix_seconds / 86400), e.g. `index/index_19723/fake/ingester-1-1704067200.nidx`, the same
// table naming Loki uses for 24h periods with prefix "index_".
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/labels.h"

namespace norn::index {

inline constexpr int64_t kPeriodNs = int64_t{86400} * 1000 * 1000 * 1000;
inline constexpr std::string_view kDefaultIndexPrefix = "index_";

std::string ChunkObjectKey(std::string_view tenant, Fingerprint fp, int64_t from_ns,
                           int64_t through_ns, uint32_t checksum);

struct ChunkKey {
  std::string tenant;
  Fingerprint fingerprint = 0;
  int64_t from_ns = 0;
  int64_t through_ns = 0;
  uint32_t checksum = 0;
  friend bool operator==(const ChunkKey&, const ChunkKey&) = default;
};

// Inverse of ChunkObjectKey; InvalidArgument unless `key` is exactly what ChunkObjectKey would
// produce (canonical form), so parse(format(x)) == x and format(parse(k)) == k.
absl::StatusOr<ChunkKey> ParseChunkObjectKey(std::string_view key);

// floor(unix_ns / 24h) (floor, also for times before 1970).
int64_t PeriodNumber(int64_t unix_ns);
// First nanosecond of `period`; the period is [PeriodStartNs(p), PeriodStartNs(p + 1)).
int64_t PeriodStartNs(int64_t period);

std::string IndexObjectKey(int64_t period, std::string_view tenant, std::string_view file_name,
                           std::string_view prefix = kDefaultIndexPrefix);

struct IndexKey {
  int64_t period = 0;
  std::string tenant;
  std::string file_name;
  friend bool operator==(const IndexKey&, const IndexKey&) = default;
};

// Inverse of IndexObjectKey for the given prefix.
absl::StatusOr<IndexKey> ParseIndexObjectKey(std::string_view key,
                                             std::string_view prefix = kDefaultIndexPrefix);

}  // namespace norn::index
