// CachingIndexClient: storage_config.index_queries_cache_config in front of an IndexClient.
// Answers about ranges that ended before `now - freshness` are cached (their index files no
// longer change: newer data is answered by the ingesters); fresher ranges always go to the
// index. Answers are stored as the gateway's protobuf messages; a cache failure is a miss.
//
// Thread-safe if the wrapped client and cache are.
#pragma once

#include <memory>

#include "absl/time/time.h"
#include "indexgateway/index_client.h"

namespace norn::cache {
class Cache;
}

namespace norn::indexgateway {

class CachingIndexClient : public IndexClient {
 public:
  CachingIndexClient(std::shared_ptr<IndexClient> inner, std::shared_ptr<cache::Cache> cache,
                     absl::Duration freshness);

  absl::StatusOr<std::vector<std::string>> LabelNames(std::string_view tenant,
                                                      std::span<const index::Matcher> matchers,
                                                      int64_t from_ns,
                                                      int64_t through_ns) override;
  absl::StatusOr<std::vector<std::string>> LabelValues(std::string_view tenant,
                                                       std::string_view name,
                                                       std::span<const index::Matcher> matchers,
                                                       int64_t from_ns,
                                                       int64_t through_ns) override;
  absl::StatusOr<std::vector<index::SeriesInfo>> Series(std::string_view tenant,
                                                        std::span<const index::Matcher> matchers,
                                                        int64_t from_ns,
                                                        int64_t through_ns) override;
  absl::StatusOr<std::vector<index::SeriesChunks>> ChunkRefs(
      std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
      int64_t through_ns) override;
  absl::StatusOr<index::IndexStats> Stats(std::string_view tenant,
                                          std::span<const index::Matcher> matchers,
                                          int64_t from_ns, int64_t through_ns) override;

 private:
  bool Cacheable(int64_t through_ns) const;

  std::shared_ptr<IndexClient> inner_;
  std::shared_ptr<cache::Cache> cache_;
  absl::Duration freshness_;
};

}  // namespace norn::indexgateway
