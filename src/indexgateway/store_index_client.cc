#include "indexgateway/store_index_client.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/status.h"
#include "storage/index/index_writer.h"
#include "storage/index/object_key.h"

namespace norn::indexgateway {
namespace {

metrics::Counter& DownloadedFiles() {
  static auto& c = metrics::Registry::Default()
                       .Counter("norn_index_gateway_files_downloaded_total",
                                "Index files fetched from object storage.", {})
                       .WithLabels({});
  return c;
}

metrics::Counter& DownloadedBytes() {
  static auto& c = metrics::Registry::Default()
                       .Counter("norn_index_gateway_downloaded_bytes_total",
                                "Bytes of index files fetched from object storage.", {})
                       .WithLabels({});
  return c;
}

}  // namespace

StoreIndexClient::StoreIndexClient(StoreIndexOptions options,
                                   std::shared_ptr<objstore::ObjectClient> store)
    : options_(std::move(options)), store_(std::move(store)), last_drop_(absl::Now()) {}

size_t StoreIndexClient::open_files() const {
  std::lock_guard lock(mu_);
  return files_.size();
}

absl::StatusOr<std::shared_ptr<const index::IndexReader>> StoreIndexClient::Download(
    const std::string& key) {
  if (!options_.cache_location.empty()) {
    // A copy from an earlier run (files are immutable) saves the download; a damaged one is
    // replaced.
    std::string path = absl::StrCat(options_.cache_location, "/", key);
    if (::access(path.c_str(), R_OK) == 0) {
      auto reader = index::IndexReader::Open(path);
      if (reader.ok()) return std::shared_ptr<const index::IndexReader>(std::move(*reader));
      NORN_LOG(Warn).Msg("local index copy unreadable; downloading again")
          .Kv("path", path).Kv("err", reader.status().ToString());
    }
  }
  ASSIGN_OR_RETURN(std::string bytes, store_->Get(key));
  DownloadedFiles().Inc();
  DownloadedBytes().Inc(static_cast<double>(bytes.size()));
  if (options_.cache_location.empty()) {
    ASSIGN_OR_RETURN(auto reader, index::IndexReader::FromBytes(std::move(bytes)));
    return std::shared_ptr<const index::IndexReader>(std::move(reader));
  }
  std::string path = absl::StrCat(options_.cache_location, "/", key);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", path, ": ", ec.message()));
  RETURN_IF_ERROR(index::WriteFileAtomically(path, bytes));
  ASSIGN_OR_RETURN(auto reader, index::IndexReader::Open(path));
  return std::shared_ptr<const index::IndexReader>(std::move(reader));
}

absl::StatusOr<std::shared_ptr<const index::IndexReader>> StoreIndexClient::Open(
    const std::string& key) {
  {
    std::lock_guard lock(mu_);
    auto it = files_.find(key);
    if (it != files_.end()) {
      it->second.last_used = absl::Now();
      return it->second.reader;
    }
  }
  auto reader = Download(key);
  if (!reader.ok()) {
    return absl::Status(reader.status().code(),
                        absl::StrCat("index file ", key, ": ", reader.status().message()));
  }
  std::lock_guard lock(mu_);
  auto [it, inserted] = files_.try_emplace(key);
  if (inserted) {
    it->second.reader = *reader;
    if (!options_.cache_location.empty()) {
      it->second.local_path = absl::StrCat(options_.cache_location, "/", key);
    }
  }
  it->second.last_used = absl::Now();
  return it->second.reader;
}

void StoreIndexClient::DropUnused() {
  std::vector<std::string> to_delete;
  {
    std::lock_guard lock(mu_);
    absl::Time now = absl::Now();
    last_drop_ = now;
    for (auto it = files_.begin(); it != files_.end();) {
      if (now - it->second.last_used > options_.cache_ttl) {
        if (!it->second.local_path.empty()) to_delete.push_back(it->second.local_path);
        files_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  // Readers still in use by a query keep their mapping alive; unlinking a mapped file is safe.
  for (const auto& p : to_delete) ::unlink(p.c_str());
}

absl::StatusOr<index::IndexSet> StoreIndexClient::IndexFor(std::string_view tenant,
                                                           int64_t from_ns, int64_t through_ns) {
  bool drop = false;
  {
    std::lock_guard lock(mu_);
    drop = absl::Now() - last_drop_ > std::min(options_.cache_ttl, absl::Minutes(10));
  }
  if (drop) DropUnused();
  index::IndexSet set;
  if (store_ == nullptr) return set;
  int64_t first = index::PeriodNumber(from_ns);
  int64_t last = index::PeriodNumber(std::max(from_ns, through_ns));
  for (int64_t p = first; p <= last; ++p) {
    std::string prefix = absl::StrCat("index/", options_.index_prefix, p, "/", AV(tenant), "/");
    ASSIGN_OR_RETURN(auto listing, store_->List(prefix, ""));
    for (const auto& obj : listing.objects) {
      ASSIGN_OR_RETURN(auto reader, Open(obj.key));
      set.Add(std::move(reader));
    }
  }
  return set;
}

namespace {

std::vector<std::string> ToStrings(const std::vector<std::string_view>& views) {
  return std::vector<std::string>(views.begin(), views.end());
}

}  // namespace

absl::StatusOr<std::vector<std::string>> StoreIndexClient::LabelNames(
    std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
    int64_t through_ns) {
  ASSIGN_OR_RETURN(auto set, IndexFor(tenant, from_ns, through_ns));
  ASSIGN_OR_RETURN(auto names, set.LabelNames(matchers, from_ns, through_ns));
  return ToStrings(names);
}

absl::StatusOr<std::vector<std::string>> StoreIndexClient::LabelValues(
    std::string_view tenant, std::string_view name, std::span<const index::Matcher> matchers,
    int64_t from_ns, int64_t through_ns) {
  ASSIGN_OR_RETURN(auto set, IndexFor(tenant, from_ns, through_ns));
  ASSIGN_OR_RETURN(auto values, set.LabelValues(name, matchers, from_ns, through_ns));
  return ToStrings(values);
}

absl::StatusOr<std::vector<index::SeriesInfo>> StoreIndexClient::Series(
    std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
    int64_t through_ns) {
  ASSIGN_OR_RETURN(auto set, IndexFor(tenant, from_ns, through_ns));
  return set.Series(matchers, from_ns, through_ns);
}

absl::StatusOr<std::vector<index::SeriesChunks>> StoreIndexClient::ChunkRefs(
    std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
    int64_t through_ns) {
  ASSIGN_OR_RETURN(auto set, IndexFor(tenant, from_ns, through_ns));
  return set.ChunkRefs(matchers, from_ns, through_ns);
}

absl::StatusOr<index::IndexStats> StoreIndexClient::Stats(std::string_view tenant,
                                                          std::span<const index::Matcher> matchers,
                                                          int64_t from_ns, int64_t through_ns) {
  ASSIGN_OR_RETURN(auto set, IndexFor(tenant, from_ns, through_ns));
  return set.Stats(matchers, from_ns, through_ns);
}

}  // namespace norn::indexgateway
