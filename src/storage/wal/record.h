// WAL records: what the ingester logs. Two kinds, both scoped to one stream of one tenant:
//   - series:  tenant, fingerprint, the stream's labels (logged when a stream is created);
//   - entries: tenant, fingerprint, a batch of entries (timestamp, line, structured metadata).
//
// This header has the in-memory forms (Record, borrowed: it points at the caller's data), the
// decoded views handed to replay callbacks (SeriesView / EntriesView: views into the decoder's
// input buffer, valid only until the next decode), and the encode/decode functions of the
// record wire form documented in docs/formats.md ("WAL").
//
// Encoding never copies anything but the bytes it writes; decoding allocates nothing per entry:
// a RecordDecoder reuses its vectors of views across records.
//
// Thread-safety: the free functions are thread-safe; a RecordDecoder is not (one per reader).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "common/entry.h"
#include "common/labels.h"

namespace norn::wal {

enum class RecordType : uint8_t { kSeries = 1, kEntries = 2 };

// A label pair viewed in place (structured metadata, series labels while decoding).
struct LabelView {
  std::string_view name;
  std::string_view value;
};

// One entry viewed in place: the line and metadata point into a buffer owned by someone else.
struct EntryView {
  int64_t timestamp_ns = 0;
  std::string_view line;
  std::span<const LabelView> structured_metadata;
};

// A record to append. Borrowed: everything it points at must stay alive until Append() returns.
// An entries record carries either `entries` (owned norn::Entry objects, the push path) or
// `entry_views` (views, handy for checkpoints written from other in-memory forms); if both
// are set, `entries` come first, then `entry_views`.
struct Record {
  RecordType type = RecordType::kEntries;
  std::string_view tenant;
  Fingerprint fingerprint = 0;
  const Labels* labels = nullptr;          // kSeries only; required.
  std::span<const Entry> entries;          // kEntries.
  std::span<const EntryView> entry_views;  // kEntries.

  static Record Series(std::string_view tenant, Fingerprint fp, const Labels& labels) {
    Record r;
    r.type = RecordType::kSeries;
    r.tenant = tenant;
    r.fingerprint = fp;
    r.labels = &labels;
    return r;
  }
  static Record Entries(std::string_view tenant, Fingerprint fp, std::span<const Entry> entries) {
    Record r;
    r.type = RecordType::kEntries;
    r.tenant = tenant;
    r.fingerprint = fp;
    r.entries = entries;
    return r;
  }
  static Record EntryViews(std::string_view tenant, Fingerprint fp,
                           std::span<const EntryView> entries) {
    Record r;
    r.type = RecordType::kEntries;
    r.tenant = tenant;
    r.fingerprint = fp;
    r.entry_views = entries;
    return r;
  }
};

// Size in bytes of a record's fixed framing: type (1) + body length (u32).
inline constexpr size_t kRecordHeaderSize = 5;

// Appends `record` in wire form to `*out`. An entries record whose encoding would exceed
// `max_record_bytes` is split into several entries records for the same stream (in order, at
// entry boundaries; a single entry larger than the limit still becomes one record), so readers
// never need a buffer much larger than the limit. Returns the number of records written.
// A series record without labels is a programmer error (CHECK).
size_t EncodeRecord(const Record& record, std::string* out,
                    size_t max_record_bytes = static_cast<size_t>(-1));
// As above, calling `between()` after each complete record but the last of a split (the
// frame builder uses it to start a new frame between the pieces).
size_t EncodeRecord(const Record& record, std::string* out, size_t max_record_bytes,
                    absl::FunctionRef<void()> between);

// Decoded forms handed to replay. All views point into the input given to Decode() and into
// the decoder's own vectors; they are valid until the next Decode() call.
struct SeriesView {
  std::string_view tenant;
  Fingerprint fingerprint = 0;
  std::span<const LabelView> labels;  // Sorted by name, as written.
};
struct EntriesView {
  std::string_view tenant;
  Fingerprint fingerprint = 0;
  std::span<const EntryView> entries;
};

class RecordDecoder {
 public:
  // Decodes the record at the front of `*in` and advances `*in` past it. Sets `*type`; then
  // series() or entries() (matching the type) holds the decoded views. A malformed record or
  // an unknown type is kDataLoss (the caller adds where it was found).
  absl::Status Decode(std::string_view* in, RecordType* type);

  const SeriesView& series() const { return series_; }
  const EntriesView& entries() const { return entries_; }

 private:
  absl::Status DecodeSeries(std::string_view body);
  absl::Status DecodeEntries(std::string_view body);

  SeriesView series_;
  EntriesView entries_;
  std::vector<LabelView> labels_;  // Series labels or all entries' metadata, reused.
  std::vector<EntryView> entry_views_;
  std::vector<uint32_t> md_counts_;  // Per-entry metadata counts while decoding.
};

// Builds norn::Labels from decoded label views (allocates; series records are rare).
Labels ToLabels(std::span<const LabelView> labels);

}  // namespace norn::wal
