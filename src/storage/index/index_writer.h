// IndexBuilder collects (stream labels, chunk refs) pairs in any order and encodes them into one
// immutable index file (format: docs/formats.md, "Index"): series sorted by labels, a symbol
// table, postings per label pair, lookup tables and a checksummed footer. Ingesters build one
// per tenant and period at flush; the compactor builds one from several files.
//
// Adding the same labels twice merges their chunk lists; chunks with the same
// (from, through, checksum) are stored once (the first one added wins). Labels with an empty
// value are dropped (absent and empty are the same thing to a matcher). A series exists only
// through its chunks: Add() with no chunks is a no-op.
//
// Not thread-safe; Encode() does not modify the builder and may be called repeatedly.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/labels.h"
#include "storage/index/types.h"

namespace norn::index {

class IndexBuilder {
 public:
  IndexBuilder() = default;

  // `fingerprint` is stored as given (it names the chunk objects); the overload without it uses
  // labels.Hash(). InvalidArgument for an empty label set or a chunk with through < from.
  [[nodiscard]] absl::Status Add(const Labels& labels, std::span<const ChunkRef> chunks);
  [[nodiscard]] absl::Status Add(const Labels& labels, Fingerprint fingerprint,
                                 std::span<const ChunkRef> chunks);

  size_t series_count() const { return series_.size(); }

  // The complete file as bytes (for object storage and tests). ResourceExhausted when a section
  // outgrows the format's 32-bit offsets (4 GiB).
  absl::StatusOr<std::string> Encode() const;

 private:
  struct Entry {
    Fingerprint fingerprint = 0;
    std::vector<ChunkRef> chunks;
  };
  std::map<Labels, Entry> series_;  // sorted by labels: the order the file stores
};

// Encodes `builder` and writes it to `path` atomically: a temporary file in the same directory,
// fsync, rename over `path`, fsync of the directory. On failure `path` is untouched.
[[nodiscard]] absl::Status WriteIndexFile(const std::string& path, const IndexBuilder& builder);

// Same for already encoded bytes (e.g. an index file downloaded from object storage).
[[nodiscard]] absl::Status WriteFileAtomically(const std::string& path, std::string_view bytes);

}  // namespace norn::index
