#include "distributor/labels_cache.h"

#include <algorithm>

#include "xxhash.h"

namespace norn::distributor {

KnownLabels KnownLabels::Of(const Labels& labels) {
  KnownLabels k;
  k.fingerprint = labels.Hash();
  k.names = static_cast<uint32_t>(labels.size());
  for (const Label& l : labels) {
    k.longest_name = std::max(k.longest_name, static_cast<uint32_t>(l.name.size()));
    k.longest_value = std::max(k.longest_value, static_cast<uint32_t>(l.value.size()));
  }
  return k;
}

LabelsCache::Key LabelsCache::KeyOf(std::string_view labels_text) {
  const XXH128_hash_t h = XXH3_128bits(labels_text.data(), labels_text.size());
  return {h.low64, h.high64};
}

void LabelsCache::FindAll(std::span<const Key> keys,
                          std::span<std::optional<KnownLabels>> out) const {
  absl::ReaderMutexLock lock(&mu_);
  for (size_t i = 0; i < keys.size(); ++i) {
    auto it = entries_.find(keys[i]);
    if (it == entries_.end()) {
      out[i].reset();
    } else {
      out[i] = it->second;
    }
  }
}

void LabelsCache::InsertAll(std::span<const std::pair<Key, KnownLabels>> entries) {
  if (entries.empty() || max_entries_ == 0)
    return;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, known] : entries) {
    if (entries_.size() >= max_entries_)
      entries_.clear();
    entries_.insert_or_assign(key, known);
  }
}

size_t LabelsCache::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace norn::distributor
