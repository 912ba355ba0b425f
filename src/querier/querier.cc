#include "querier/querier.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "ingester/ingester.h"
#include "storage/index/object_key.h"

namespace norn::querier {
namespace {

bool MatchesAll(const Labels& labels, const Matchers& matchers) {
  for (const auto& m : matchers) {
    if (!m.Matches(labels.Get(m.name()))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<index::Matcher>> ToIndexMatchers(const Matchers& matchers) {
  std::vector<index::Matcher> out;
  out.reserve(matchers.size());
  for (const auto& m : matchers) {
    index::Matcher::Type t = index::Matcher::Type::kEq;
    switch (m.type()) {
      case logql::syntax::MatchType::kEqual: t = index::Matcher::Type::kEq; break;
      case logql::syntax::MatchType::kNotEqual: t = index::Matcher::Type::kNeq; break;
      case logql::syntax::MatchType::kRegexp: t = index::Matcher::Type::kRe; break;
      case logql::syntax::MatchType::kNotRegexp: t = index::Matcher::Type::kNre; break;
    }
    ASSIGN_OR_RETURN(auto im, index::Matcher::Create(t, m.name(), m.value()));
    out.push_back(std::move(im));
  }
  return out;
}

Querier::Querier(QuerierOptions options, ingester::Ingester* ingester,
                 std::shared_ptr<objstore::ObjectClient> store)
    : options_(std::move(options)), ingester_(ingester), store_(std::move(store)) {}

bool Querier::UseIngesters(int64_t end_ns) const {
  if (ingester_ == nullptr || options_.query_store_only) return false;
  if (options_.query_ingesters_within_ns <= 0) return true;
  return end_ns >= absl::GetCurrentTimeNanos() - options_.query_ingesters_within_ns;
}

absl::StatusOr<index::IndexSet> Querier::StoreIndex(std::string_view tenant, int64_t start_ns,
                                                    int64_t end_ns) {
  index::IndexSet set;
  if (store_ == nullptr || options_.query_ingester_only) return set;
  int64_t first = index::PeriodNumber(start_ns);
  int64_t last = index::PeriodNumber(std::max(start_ns, end_ns - 1));
  for (int64_t p = first; p <= last; ++p) {
    std::string prefix = absl::StrCat("index/", options_.index_prefix, p, "/", AV(tenant), "/");
    ASSIGN_OR_RETURN(auto listing, store_->List(prefix, ""));
    for (const auto& obj : listing.objects) {
      std::shared_ptr<const index::IndexReader> reader;
      {
        std::lock_guard lock(cache_mu_);
        auto it = readers_.find(obj.key);
        if (it != readers_.end()) reader = it->second;
      }
      if (reader == nullptr) {
        ASSIGN_OR_RETURN(std::string bytes, store_->Get(obj.key));
        auto opened = index::IndexReader::FromBytes(std::move(bytes));
        if (!opened.ok()) {
          return absl::Status(opened.status().code(),
                              absl::StrCat("index file ", obj.key, ": ", opened.status().message()));
        }
        reader = std::move(*opened);
        std::lock_guard lock(cache_mu_);
        readers_.emplace(obj.key, reader);
      }
      set.Add(reader);
    }
  }
  return set;
}

absl::StatusOr<std::shared_ptr<const chunk::MemChunk>> Querier::FetchChunk(
    std::string_view tenant, Fingerprint fp, const index::ChunkRef& ref) {
  std::string key = index::ChunkObjectKey(tenant, fp, ref.from_ns, ref.through_ns, ref.checksum);
  ASSIGN_OR_RETURN(std::string bytes, store_->Get(key));
  auto chunk = chunk::MemChunk::DecodeOwned(std::move(bytes));
  if (!chunk.ok()) {
    return absl::Status(chunk.status().code(),
                        absl::StrCat("chunk ", key, ": ", chunk.status().message()));
  }
  return std::shared_ptr<const chunk::MemChunk>(std::move(*chunk));
}

std::vector<Labels> Querier::IngesterSeries(std::string_view tenant, const Matchers& matchers,
                                            int64_t start_ns, int64_t end_ns) {
  std::vector<Labels> out;
  if (!UseIngesters(end_ns)) return out;
  ingester_->ForEachStream(tenant, [&](ingester::Stream& s) {
    bool overlaps = false;
    for (const auto& d : s.chunks) {
      if (d.chunk->Stats().entries == 0) continue;
      auto [from, through] = d.chunk->Bounds();
      if (from < end_ns && through >= start_ns) {
        overlaps = true;
        break;
      }
    }
    if (overlaps && MatchesAll(s.labels(), matchers)) out.push_back(s.labels());
  });
  return out;
}

absl::StatusOr<std::vector<std::string>> Querier::LabelNames(std::string_view tenant,
                                                             int64_t start_ns, int64_t end_ns) {
  std::set<std::string> names;
  for (const Labels& l : IngesterSeries(tenant, {}, start_ns, end_ns)) {
    for (const Label& p : l) names.insert(p.name);
  }
  ASSIGN_OR_RETURN(auto set, StoreIndex(tenant, start_ns, end_ns));
  ASSIGN_OR_RETURN(auto store_names, set.LabelNames({}, start_ns, end_ns - 1));
  for (auto n : store_names) names.emplace(n);
  return std::vector<std::string>(names.begin(), names.end());
}

absl::StatusOr<std::vector<std::string>> Querier::LabelValues(std::string_view tenant,
                                                              std::string_view name,
                                                              const Matchers& matchers,
                                                              int64_t start_ns, int64_t end_ns) {
  std::set<std::string> values;
  for (const Labels& l : IngesterSeries(tenant, matchers, start_ns, end_ns)) {
    if (l.Has(name)) values.emplace(l.Get(name));
  }
  ASSIGN_OR_RETURN(auto set, StoreIndex(tenant, start_ns, end_ns));
  ASSIGN_OR_RETURN(auto index_matchers, ToIndexMatchers(matchers));
  ASSIGN_OR_RETURN(auto store_values, set.LabelValues(name, index_matchers, start_ns, end_ns - 1));
  for (auto v : store_values) values.emplace(v);
  return std::vector<std::string>(values.begin(), values.end());
}

absl::StatusOr<std::vector<Labels>> Querier::Series(std::string_view tenant,
                                                    const std::vector<Matchers>& groups,
                                                    int64_t start_ns, int64_t end_ns) {
  std::set<Labels> out;
  ASSIGN_OR_RETURN(auto set, StoreIndex(tenant, start_ns, end_ns));
  for (const Matchers& matchers : groups) {
    for (Labels& l : IngesterSeries(tenant, matchers, start_ns, end_ns)) out.insert(std::move(l));
    ASSIGN_OR_RETURN(auto index_matchers, ToIndexMatchers(matchers));
    ASSIGN_OR_RETURN(auto series, set.Series(index_matchers, start_ns, end_ns - 1));
    for (auto& s : series) out.insert(std::move(s.labels));
  }
  return std::vector<Labels>(out.begin(), out.end());
}

absl::StatusOr<index::IndexStats> Querier::Stats(std::string_view tenant,
                                                 const Matchers& matchers, int64_t start_ns,
                                                 int64_t end_ns) {
  // Loki's /index/stats counts what the index knows (flushed chunks), as here.
  ASSIGN_OR_RETURN(auto set, StoreIndex(tenant, start_ns, end_ns));
  ASSIGN_OR_RETURN(auto index_matchers, ToIndexMatchers(matchers));
  return set.Stats(index_matchers, start_ns, end_ns - 1);
}

}  // namespace norn::querier
