// LabelsCache: what the distributor keeps of the label strings it has parsed and accepted, so
// that the same string in a later push is neither parsed nor hashed again. Clients send each
// stream's labels as text with every push (protobuf `labels`); with thousands of streams per
// push, parsing them into owned label sets, hashing and freeing them took a fifth of the
// ingest CPU.
//
// An entry holds the stream's fingerprint and what validation needs to check the set against
// a tenant's current limits (how many names, the longest name and value); the label set itself
// is not kept (the ingester has it, or parses the text again for a stream it does not hold).
// Strings are identified by a 128-bit hash of their bytes: the odds that two of even 10^9
// distinct strings collide are below 10^-20, against the 64-bit fingerprints that identify
// streams everywhere else.
//
// Thread-safe. Look-ups and inserts come in batches (a push's streams) under one lock each:
// look-ups share a reader lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/labels.h"

namespace norn::distributor {

// What validation and routing need of a label set that passed validation once.
struct KnownLabels {
  Fingerprint fingerprint = 0;
  uint32_t names = 0;          // after empty values were dropped
  uint32_t longest_name = 0;   // bytes
  uint32_t longest_value = 0;  // bytes

  // The summary of `labels` (parsed from a string, empty values dropped).
  static KnownLabels Of(const Labels& labels);
};

class LabelsCache {
 public:
  using Key = std::pair<uint64_t, uint64_t>;
  static Key KeyOf(std::string_view labels_text);

  // At most `max_entries` strings; when full, it starts over empty (a tenant with more active
  // streams than that parses as it did without the cache).
  explicit LabelsCache(size_t max_entries) : max_entries_(max_entries) {}

  // out[i] = the entry for keys[i], if any.
  void FindAll(std::span<const Key> keys, std::span<std::optional<KnownLabels>> out) const;
  void InsertAll(std::span<const std::pair<Key, KnownLabels>> entries);
  size_t size() const;

 private:
  const size_t max_entries_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, KnownLabels> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace norn::distributor
