#include "storage/wal/record.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "storage/wal/coding.h"

namespace norn::wal {

using internal::DecodeFixed32;
using internal::EncodeFixed32;
using internal::GetFixed32;
using internal::GetFixed64;
using internal::GetLengthPrefixed;
using internal::GetVarint;
using internal::PutFixed32;
using internal::PutFixed64;
using internal::PutLengthPrefixed;
using internal::PutVarint;
using internal::UnZigZag;
using internal::ZigZag;

namespace {

// Starts a record: type byte and a body-length placeholder patched by FinishRecord.
size_t BeginRecord(RecordType type, std::string* out) {
  const size_t start = out->size();
  out->push_back(static_cast<char>(type));
  PutFixed32(out, 0);
  return start;
}

void FinishRecord(size_t start, std::string* out) {
  EncodeFixed32(out->data() + start + 1,
                static_cast<uint32_t>(out->size() - start - kRecordHeaderSize));
}

// An upper bound of an entry's encoded size, to decide where to split before encoding it.
size_t EntryBound(size_t line, size_t md_bytes, size_t md_count) {
  return 10 + 10 + line + 10 + md_bytes + 20 * md_count;
}

// Appends entries records for `record`, splitting at `max_record_bytes`.
class EntriesEncoder {
 public:
  EntriesEncoder(const Record& record, std::string* out, size_t max_record_bytes,
                 absl::FunctionRef<void()> between)
      : record_(record), out_(out), max_(max_record_bytes), between_(between) {}

  template <typename GetMd>
  void Add(int64_t ts, std::string_view line, size_t md_count, size_t md_bytes, GetMd get_md) {
    if (start_ == kNone) {
      Begin();
    } else if (count_ > 0 &&
               out_->size() - start_ + EntryBound(line.size(), md_bytes, md_count) > max_) {
      Finish();
      between_();
      Begin();
    }
    // Wrapping (unsigned) subtraction: any two int64 timestamps have a representable delta.
    PutVarint(out_, ZigZag(static_cast<int64_t>(static_cast<uint64_t>(ts) -
                                                static_cast<uint64_t>(prev_ts_))));
    prev_ts_ = ts;
    PutLengthPrefixed(out_, line);
    PutVarint(out_, md_count);
    for (size_t i = 0; i < md_count; ++i) {
      const auto [name, value] = get_md(i);
      PutLengthPrefixed(out_, name);
      PutLengthPrefixed(out_, value);
    }
    ++count_;
  }

  // Returns the number of records written.
  size_t Done() {
    if (start_ == kNone)
      Begin();  // An empty batch still logs one (empty) record.
    Finish();
    return records_;
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  void Begin() {
    start_ = BeginRecord(RecordType::kEntries, out_);
    PutLengthPrefixed(out_, record_.tenant);
    PutFixed64(out_, record_.fingerprint);
    count_pos_ = out_->size();
    PutFixed32(out_, 0);
    count_ = 0;
    prev_ts_ = 0;
  }
  void Finish() {
    EncodeFixed32(out_->data() + count_pos_, count_);
    FinishRecord(start_, out_);
    ++records_;
  }

  const Record& record_;
  std::string* out_;
  const size_t max_;
  absl::FunctionRef<void()> between_;
  size_t start_ = kNone;
  size_t count_pos_ = 0;
  uint32_t count_ = 0;
  int64_t prev_ts_ = 0;
  size_t records_ = 0;
};

absl::Status Malformed(std::string_view what) {
  return absl::DataLossError(absl::StrCat("malformed WAL record: ", AV(what)));
}

}  // namespace

size_t EncodeRecord(const Record& record, std::string* out, size_t max_record_bytes) {
  return EncodeRecord(record, out, max_record_bytes, [] {});
}

size_t EncodeRecord(const Record& record, std::string* out, size_t max_record_bytes,
                    absl::FunctionRef<void()> between) {
  if (record.type == RecordType::kSeries) {
    if (record.labels == nullptr) {
      std::fprintf(stderr, "norn::wal::EncodeRecord: series record without labels\n");
      std::abort();
    }
    const size_t start = BeginRecord(RecordType::kSeries, out);
    PutLengthPrefixed(out, record.tenant);
    PutFixed64(out, record.fingerprint);
    PutVarint(out, record.labels->size());
    for (const Label& l : *record.labels) {
      PutLengthPrefixed(out, l.name);
      PutLengthPrefixed(out, l.value);
    }
    FinishRecord(start, out);
    return 1;
  }
  EntriesEncoder enc(record, out, max_record_bytes, between);
  for (const Entry& e : record.entries) {
    size_t md_bytes = 0;
    for (const Label& l : e.structured_metadata)
      md_bytes += l.name.size() + l.value.size();
    enc.Add(e.timestamp_ns, e.line, e.structured_metadata.size(), md_bytes, [&](size_t i) {
      const Label& l = e.structured_metadata[i];
      return std::pair<std::string_view, std::string_view>(l.name, l.value);
    });
  }
  for (const EntryView& e : record.entry_views) {
    size_t md_bytes = 0;
    for (const LabelView& l : e.structured_metadata)
      md_bytes += l.name.size() + l.value.size();
    enc.Add(e.timestamp_ns, e.line, e.structured_metadata.size(), md_bytes, [&](size_t i) {
      const LabelView& l = e.structured_metadata[i];
      return std::pair<std::string_view, std::string_view>(l.name, l.value);
    });
  }
  return enc.Done();
}

absl::Status RecordDecoder::Decode(std::string_view* in, RecordType* type) {
  if (in->size() < kRecordHeaderSize)
    return Malformed("truncated record header");
  const uint8_t t = static_cast<uint8_t>((*in)[0]);
  const uint32_t len = DecodeFixed32(in->data() + 1);
  if (len > in->size() - kRecordHeaderSize)
    return Malformed("record length beyond frame");
  const std::string_view body = in->substr(kRecordHeaderSize, len);
  in->remove_prefix(kRecordHeaderSize + len);
  switch (t) {
    case static_cast<uint8_t>(RecordType::kSeries):
      *type = RecordType::kSeries;
      return DecodeSeries(body);
    case static_cast<uint8_t>(RecordType::kEntries):
      *type = RecordType::kEntries;
      return DecodeEntries(body);
    default:
      return Malformed(absl::StrCat("unknown record type ", t));
  }
}

absl::Status RecordDecoder::DecodeSeries(std::string_view body) {
  series_ = SeriesView{};
  labels_.clear();
  uint64_t n = 0;
  if (!GetLengthPrefixed(&body, &series_.tenant) || !GetFixed64(&body, &series_.fingerprint) ||
      !GetVarint(&body, &n) || n > body.size() / 2) {
    return Malformed("series header");
  }
  labels_.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    LabelView l;
    if (!GetLengthPrefixed(&body, &l.name) || !GetLengthPrefixed(&body, &l.value)) {
      return Malformed("series label");
    }
    labels_.push_back(l);
  }
  if (!body.empty())
    return Malformed("trailing bytes in series record");
  series_.labels = labels_;
  return absl::OkStatus();
}

absl::Status RecordDecoder::DecodeEntries(std::string_view body) {
  entries_ = EntriesView{};
  labels_.clear();
  entry_views_.clear();
  md_counts_.clear();
  uint32_t n = 0;
  if (!GetLengthPrefixed(&body, &entries_.tenant) || !GetFixed64(&body, &entries_.fingerprint) ||
      !GetFixed32(&body, &n) || n > body.size() / 3) {  // Every entry takes at least 3 bytes.
    return Malformed("entries header");
  }
  entry_views_.reserve(n);
  md_counts_.reserve(n);
  int64_t ts = 0;
  for (uint32_t i = 0; i < n; ++i) {
    EntryView e;
    uint64_t delta = 0;
    uint64_t md = 0;
    if (!GetVarint(&body, &delta) || !GetLengthPrefixed(&body, &e.line) || !GetVarint(&body, &md) ||
        md > body.size() / 2) {
      return Malformed("entry");
    }
    ts = static_cast<int64_t>(static_cast<uint64_t>(ts) + static_cast<uint64_t>(UnZigZag(delta)));
    e.timestamp_ns = ts;
    for (uint64_t j = 0; j < md; ++j) {
      LabelView l;
      if (!GetLengthPrefixed(&body, &l.name) || !GetLengthPrefixed(&body, &l.value)) {
        return Malformed("structured metadata");
      }
      labels_.push_back(l);
    }
    md_counts_.push_back(static_cast<uint32_t>(md));
    entry_views_.push_back(e);
  }
  if (!body.empty())
    return Malformed("trailing bytes in entries record");
  // Spans are set only now: labels_ may have reallocated while it grew.
  size_t pos = 0;
  for (size_t i = 0; i < entry_views_.size(); ++i) {
    entry_views_[i].structured_metadata =
        std::span<const LabelView>(labels_.data() + pos, md_counts_[i]);
    pos += md_counts_[i];
  }
  entries_.entries = entry_views_;
  return absl::OkStatus();
}

Labels ToLabels(std::span<const LabelView> labels) {
  std::vector<Label> out;
  out.reserve(labels.size());
  for (const LabelView& l : labels)
    out.push_back(Label{std::string(l.name), std::string(l.value)});
  return Labels(std::move(out));
}

}  // namespace norn::wal
