#include "indexgateway/caching_index_client.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cache/cache.h"
#include "common/status.h"
#include "common/strings.h"
#include "indexgateway/proto_convert.h"

namespace norn::indexgateway {
namespace {

using internal::DecodeLabels;
using internal::DecodeSeriesChunks;
using internal::EncodeChunkRefs;
using internal::EncodeSeries;
using internal::FillQuery;

// "<method>:" + the request's deterministic protobuf encoding (tenant, matchers, range, name).
std::string CacheKey(std::string_view method, std::string_view tenant,
                     std::span<const index::Matcher> matchers, int64_t from_ns,
                     int64_t through_ns, std::string_view extra = {}) {
  v1::LabelValuesRequest req;
  FillQuery(req.mutable_query(), tenant, matchers, from_ns, through_ns);
  req.set_name(std::string(extra));
  std::string key = absl::StrCat("idx:", AV(method), ":");
  std::string body;
  {
    google::protobuf::io::StringOutputStream out(&body);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    req.SerializeToCodedStream(&coded);
  }
  key += body;
  return key;
}

// Looks `key` up; on a hit parses it into `msg`.
bool Lookup(cache::Cache& cache, const std::string& key, google::protobuf::Message* msg) {
  std::string_view k = key;
  cache::FetchResult r = cache.Fetch(std::span<const std::string_view>(&k, 1));
  if (r.found_keys.empty()) return false;
  return msg->ParseFromString(r.values[0]);
}

void Save(cache::Cache& cache, const std::string& key, const google::protobuf::Message& msg) {
  std::string value = msg.SerializeAsString();
  std::string_view k = key;
  std::string_view v = value;
  cache.Store(std::span<const std::string_view>(&k, 1), std::span<const std::string_view>(&v, 1));
}

}  // namespace

CachingIndexClient::CachingIndexClient(std::shared_ptr<IndexClient> inner,
                                       std::shared_ptr<cache::Cache> cache,
                                       absl::Duration freshness)
    : inner_(std::move(inner)), cache_(std::move(cache)), freshness_(freshness) {}

bool CachingIndexClient::Cacheable(int64_t through_ns) const {
  return through_ns < absl::GetCurrentTimeNanos() - absl::ToInt64Nanoseconds(freshness_);
}

absl::StatusOr<std::vector<std::string>> CachingIndexClient::LabelNames(
    std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
    int64_t through_ns) {
  if (!Cacheable(through_ns)) return inner_->LabelNames(tenant, matchers, from_ns, through_ns);
  std::string key = CacheKey("LabelNames", tenant, matchers, from_ns, through_ns);
  v1::StringsResponse msg;
  if (Lookup(*cache_, key, &msg)) {
    return std::vector<std::string>(msg.values().begin(), msg.values().end());
  }
  ASSIGN_OR_RETURN(auto names, inner_->LabelNames(tenant, matchers, from_ns, through_ns));
  for (const auto& n : names) msg.add_values(n);
  Save(*cache_, key, msg);
  return names;
}

absl::StatusOr<std::vector<std::string>> CachingIndexClient::LabelValues(
    std::string_view tenant, std::string_view name, std::span<const index::Matcher> matchers,
    int64_t from_ns, int64_t through_ns) {
  if (!Cacheable(through_ns)) {
    return inner_->LabelValues(tenant, name, matchers, from_ns, through_ns);
  }
  std::string key = CacheKey("LabelValues", tenant, matchers, from_ns, through_ns, name);
  v1::StringsResponse msg;
  if (Lookup(*cache_, key, &msg)) {
    return std::vector<std::string>(msg.values().begin(), msg.values().end());
  }
  ASSIGN_OR_RETURN(auto values, inner_->LabelValues(tenant, name, matchers, from_ns, through_ns));
  for (const auto& v : values) msg.add_values(v);
  Save(*cache_, key, msg);
  return values;
}

absl::StatusOr<std::vector<index::SeriesInfo>> CachingIndexClient::Series(
    std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
    int64_t through_ns) {
  if (!Cacheable(through_ns)) return inner_->Series(tenant, matchers, from_ns, through_ns);
  std::string key = CacheKey("Series", tenant, matchers, from_ns, through_ns);
  v1::SeriesResponse msg;
  if (Lookup(*cache_, key, &msg)) {
    std::vector<index::SeriesInfo> out;
    out.reserve(msg.series_size());
    for (const auto& s : msg.series()) out.push_back({DecodeLabels(s), s.fingerprint()});
    return out;
  }
  ASSIGN_OR_RETURN(auto series, inner_->Series(tenant, matchers, from_ns, through_ns));
  for (const auto& s : series) EncodeSeries(s.labels, s.fingerprint, msg.add_series());
  Save(*cache_, key, msg);
  return series;
}

absl::StatusOr<std::vector<index::SeriesChunks>> CachingIndexClient::ChunkRefs(
    std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
    int64_t through_ns) {
  if (!Cacheable(through_ns)) return inner_->ChunkRefs(tenant, matchers, from_ns, through_ns);
  std::string key = CacheKey("ChunkRefs", tenant, matchers, from_ns, through_ns);
  v1::SeriesResponse msg;
  if (Lookup(*cache_, key, &msg)) {
    std::vector<index::SeriesChunks> out;
    out.reserve(msg.series_size());
    for (const auto& s : msg.series()) out.push_back(DecodeSeriesChunks(s));
    return out;
  }
  ASSIGN_OR_RETURN(auto series, inner_->ChunkRefs(tenant, matchers, from_ns, through_ns));
  for (const auto& s : series) {
    v1::Series* out = msg.add_series();
    EncodeSeries(s.labels, s.fingerprint, out);
    EncodeChunkRefs(s.chunks, out);
  }
  Save(*cache_, key, msg);
  return series;
}

absl::StatusOr<index::IndexStats> CachingIndexClient::Stats(
    std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
    int64_t through_ns) {
  if (!Cacheable(through_ns)) return inner_->Stats(tenant, matchers, from_ns, through_ns);
  std::string key = CacheKey("Stats", tenant, matchers, from_ns, through_ns);
  v1::StatsResponse msg;
  if (Lookup(*cache_, key, &msg)) {
    return index::IndexStats{msg.streams(), msg.chunks(), msg.entries(), msg.bytes()};
  }
  ASSIGN_OR_RETURN(auto stats, inner_->Stats(tenant, matchers, from_ns, through_ns));
  msg.set_streams(stats.streams);
  msg.set_chunks(stats.chunks);
  msg.set_entries(stats.entries);
  msg.set_bytes(stats.bytes);
  Save(*cache_, key, msg);
  return stats;
}

}  // namespace norn::indexgateway
