// StoreIndexClient: answers IndexClient look-ups from the index files in object storage.
//
// For each query it lists the tenant's index files of the 24h periods the range touches (so a
// file uploaded a moment ago is seen by the next query), and opens each file once: downloaded
// into `cache_location` and memory-mapped when a cache directory is configured, held in memory
// otherwise. Index files are immutable and uniquely named, so a local copy never goes stale; a
// file that disappears from the listing (compaction) is simply no longer read, and local copies
// unused for `cache_ttl` are closed and deleted.
//
// Thread-safe. Two queries needing the same new file may both download it; the second rename
// wins and both readers are valid.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/time/time.h"
#include "common/strings.h"
#include "indexgateway/index_client.h"
#include "storage/index/index_reader.h"
#include "storage/index/index_set.h"
#include "storage/objstore/object_client.h"

namespace norn::indexgateway {

struct StoreIndexOptions {
  std::string index_prefix = "index_";
  // Directory for downloaded index files ("" keeps them in memory).
  std::string cache_location;
  // Local files (and readers) unused this long are dropped.
  absl::Duration cache_ttl = absl::Hours(24);
};

class StoreIndexClient : public IndexClient {
 public:
  StoreIndexClient(StoreIndexOptions options, std::shared_ptr<objstore::ObjectClient> store);

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

  // Every index file of the tenant overlapping [from_ns, through_ns], as one merged view.
  absl::StatusOr<index::IndexSet> IndexFor(std::string_view tenant, int64_t from_ns,
                                           int64_t through_ns);

  // Closes readers unused for cache_ttl and deletes their local files. Called by the owner
  // periodically (and by IndexFor opportunistically).
  void DropUnused();

  size_t open_files() const;

 private:
  absl::StatusOr<std::shared_ptr<const index::IndexReader>> Open(const std::string& key);
  absl::StatusOr<std::shared_ptr<const index::IndexReader>> Download(const std::string& key);

  struct OpenFile {
    std::shared_ptr<const index::IndexReader> reader;
    std::string local_path;  // "" when held in memory
    absl::Time last_used;
  };

  const StoreIndexOptions options_;
  std::shared_ptr<objstore::ObjectClient> store_;
  mutable std::mutex mu_;
  StringMap<OpenFile> files_;  // Guarded by mu_; keyed by object key.
  absl::Time last_drop_;       // Guarded by mu_.
};

}  // namespace norn::indexgateway
