// Querier: answers a tenant's queries from the ingesters (recent data in memory) and the store
// (chunks named by index files in object storage), merging and de-duplicating the two.
// This part serves the metadata APIs: label names, label values, series and index stats; log
// and metric queries plug the LogQL engine in on top of the same two sources.
//
// Thread-safe: every method may run concurrently. Index files are immutable, so a reader,
// once fetched, is cached for the life of the process.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/labels.h"
#include "common/strings.h"
#include "logql/syntax/ast.h"
#include "storage/chunk/memchunk.h"
#include "storage/index/index_reader.h"
#include "storage/index/index_set.h"
#include "storage/index/types.h"
#include "storage/objstore/object_client.h"

namespace norn::ingester {
class Ingester;
}

namespace norn::querier {

struct QuerierOptions {
  std::string index_prefix = "index_";
  // Only ask the ingesters about queries whose end is within this of now (0 = always).
  int64_t query_ingesters_within_ns = 0;
  bool query_store_only = false;
  bool query_ingester_only = false;
};

using Matchers = std::vector<logql::syntax::Matcher>;

class Querier {
 public:
  Querier(QuerierOptions options, ingester::Ingester* ingester,
          std::shared_ptr<objstore::ObjectClient> store);

  // Times are [start_ns, end_ns) as Loki's APIs use them.
  absl::StatusOr<std::vector<std::string>> LabelNames(std::string_view tenant, int64_t start_ns,
                                                      int64_t end_ns);
  absl::StatusOr<std::vector<std::string>> LabelValues(std::string_view tenant,
                                                       std::string_view name,
                                                       const Matchers& matchers, int64_t start_ns,
                                                       int64_t end_ns);
  // Union over the matcher groups (`match[]` may repeat).
  absl::StatusOr<std::vector<Labels>> Series(std::string_view tenant,
                                             const std::vector<Matchers>& groups,
                                             int64_t start_ns, int64_t end_ns);
  absl::StatusOr<index::IndexStats> Stats(std::string_view tenant, const Matchers& matchers,
                                          int64_t start_ns, int64_t end_ns);

  // A flushed chunk, from the store (decoded; cached while it is in use by queries).
  absl::StatusOr<std::shared_ptr<const chunk::MemChunk>> FetchChunk(std::string_view tenant,
                                                                    Fingerprint fp,
                                                                    const index::ChunkRef& ref);
  ingester::Ingester* ingester() const { return ingester_; }
  bool UseIngesters(int64_t end_ns) const;

  // Every index file of the tenant overlapping the range, as one merged view.
  absl::StatusOr<index::IndexSet> StoreIndex(std::string_view tenant, int64_t start_ns,
                                             int64_t end_ns);

 private:
  // Streams in the ingester whose chunks overlap the range and that match every matcher.
  std::vector<Labels> IngesterSeries(std::string_view tenant, const Matchers& matchers,
                                     int64_t start_ns, int64_t end_ns);

  const QuerierOptions options_;
  ingester::Ingester* ingester_;
  std::shared_ptr<objstore::ObjectClient> store_;
  std::mutex cache_mu_;
  StringMap<std::shared_ptr<const index::IndexReader>> readers_;  // Guarded by cache_mu_.
};

// Adapts LogQL matchers to the index's matcher type.
absl::StatusOr<std::vector<index::Matcher>> ToIndexMatchers(const Matchers& matchers);

}  // namespace norn::querier
