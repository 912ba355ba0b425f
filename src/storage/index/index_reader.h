// IndexReader: read-only view of one index file (docs/formats.md, "Index"), opened from a path
// through mmap or from bytes in memory (objects fetched from object storage, tests). Open
// validates magic, version, layout and (by default) the XXH3 checksum of the whole file; every
// later decode is bounds-checked, so a corrupt or hostile file yields kDataLoss, never a crash.
//
// Look-ups are zero-copy: label names/values come back as string_views into the file's bytes
// and stay valid for the reader's lifetime. Matchers select series with postings operations:
// intersection for `=`/`=~` (literal alternations are direct look-ups), subtraction for
// `!=`/`!~`, and a matcher that matches "" also selects series without that label.
//
// Time ranges are inclusive on both ends: a chunk is selected when
// chunk.from_ns <= through && chunk.through_ns >= from (a caller with an exclusive end passes
// end - 1). Series/ChunkRefs/Stats return only series with at least one selected chunk.
//
// A mapped file must not be modified in place while open (writers replace files by rename,
// which leaves the mapping on the old inode). Immutable after Open; all methods are const and
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/index/format.h"
#include "storage/index/matcher.h"
#include "storage/index/types.h"

namespace norn::index {

struct ReaderOptions {
  // Hash the whole file once at open (XXH3, several GB/s). Turn off only for files whose
  // integrity was checked elsewhere; decoding stays bounds-checked either way.
  bool verify_checksum = true;
};

// One series as decoded from the file, borrowing from the reader and from per-call scratch
// space: valid only during the visitor call.
struct SeriesView {
  uint32_t id = 0;  // position in label order within this file
  Fingerprint fingerprint = 0;
  std::span<const std::pair<std::string_view, std::string_view>> labels;  // empty if not asked
  std::span<const ChunkRef> chunks;  // the chunks overlapping the query range
};

class IndexReader {
 public:
  static absl::StatusOr<std::unique_ptr<IndexReader>> Open(const std::string& path,
                                                           const ReaderOptions& options = {});
  // Takes ownership of `bytes`.
  static absl::StatusOr<std::unique_ptr<IndexReader>> FromBytes(std::string bytes,
                                                                const ReaderOptions& options = {});
  // Borrows `bytes`, which must outlive the reader.
  static absl::StatusOr<std::unique_ptr<IndexReader>> FromView(std::string_view bytes,
                                                               const ReaderOptions& options = {});

  ~IndexReader();
  IndexReader(const IndexReader&) = delete;
  IndexReader& operator=(const IndexReader&) = delete;

  uint32_t series_count() const { return n_series_; }
  uint64_t chunk_count() const { return n_chunks_; }
  // Earliest chunk start and latest chunk end in the file (kMaxTime/kMinTime when empty).
  int64_t min_time() const { return min_time_; }
  int64_t max_time() const { return max_time_; }
  size_t size_bytes() const { return data_.size(); }

  // Sorted label names. Without matchers and with a range covering the file this is a table
  // read; otherwise the names of the selected series.
  absl::StatusOr<std::vector<std::string_view>> LabelNames(std::span<const Matcher> matchers = {},
                                                           int64_t from = kMinTime,
                                                           int64_t through = kMaxTime) const;

  // Sorted values of label `name` (same selection rules as LabelNames).
  absl::StatusOr<std::vector<std::string_view>> LabelValues(std::string_view name,
                                                            std::span<const Matcher> matchers = {},
                                                            int64_t from = kMinTime,
                                                            int64_t through = kMaxTime) const;

  // Series with chunks overlapping [from, through], in label order. No matchers selects all.
  absl::StatusOr<std::vector<SeriesInfo>> Series(std::span<const Matcher> matchers, int64_t from,
                                                 int64_t through) const;

  // Same selection, with the overlapping chunk refs of each series.
  absl::StatusOr<std::vector<SeriesChunks>> ChunkRefs(std::span<const Matcher> matchers,
                                                      int64_t from, int64_t through) const;

  absl::StatusOr<IndexStats> Stats(std::span<const Matcher> matchers, int64_t from,
                                   int64_t through) const;

  // Zero-copy iteration over the selected series (with >= 1 overlapping chunk) in label order;
  // labels are resolved only when `with_labels`.
  [[nodiscard]] absl::Status ForEachSeries(std::span<const Matcher> matchers, int64_t from,
                                           int64_t through, bool with_labels,
                                           absl::FunctionRef<void(const SeriesView&)> fn) const;

  // Sorted series ids selected by the matchers alone (no time filter).
  absl::StatusOr<std::vector<uint32_t>> PostingsForMatchers(
      std::span<const Matcher> matchers) const;

 private:
  struct NameEntry {
    uint32_t name_sym = 0;
    uint32_t first = 0;
    uint32_t count = 0;
  };
  struct Scratch {
    std::vector<std::pair<std::string_view, std::string_view>> labels;
    std::vector<ChunkRef> chunks;
  };

  IndexReader() = default;
  absl::Status Init(const ReaderOptions& options);

  bool Symbol(uint32_t ref, std::string_view* out) const;
  NameEntry NameAt(uint32_t i) const;
  bool FindName(std::string_view name, NameEntry* out, bool* corrupt) const;
  bool ValueAt(uint32_t idx, uint32_t* value_sym, uint32_t* postings_off) const;
  bool FindValue(const NameEntry& ne, std::string_view value, uint32_t* idx, bool* corrupt) const;
  absl::Status ReadPostings(uint32_t off, std::vector<uint32_t>* out) const;
  absl::Status UnionPostings(std::span<const uint32_t> value_idx, std::vector<uint32_t>* out) const;
  // Decodes series `id`; chunk refs overlapping [from, through] go to scratch->chunks, unless
  // `with_chunks` is false (label-only look-ups).
  absl::Status DecodeSeries(uint32_t id, int64_t from, int64_t through, bool with_labels,
                            bool with_chunks, Scratch* scratch, Fingerprint* fp) const;
  // Calls fn(name, value) for every label of the series selected by `matchers` that have a
  // chunk in [from, through]; skips chunk decoding when the range covers the whole file, and
  // then uses `ids` (the matchers' postings) when given.
  absl::Status ForEachSelectedLabel(
      std::span<const Matcher> matchers, int64_t from, int64_t through,
      const std::vector<uint32_t>* ids,
      absl::FunctionRef<void(std::string_view, std::string_view)> fn) const;
  bool CoversFile(int64_t from, int64_t through) const {
    return from <= min_time_ && through >= max_time_;
  }

  std::string_view data_;
  std::string owned_;
  void* map_ = nullptr;
  size_t map_len_ = 0;
  std::string_view sec_[internal::kNumSections];
  uint32_t n_symbols_ = 0;
  uint32_t n_series_ = 0;
  uint32_t n_names_ = 0;
  uint32_t n_values_ = 0;
  uint64_t n_chunks_ = 0;
  int64_t min_time_ = kMaxTime;
  int64_t max_time_ = kMinTime;
};

}  // namespace norn::index
