#include "storage/chunk/block.h"

#include <sys/mman.h>
#include <xxhash.h>

#include <algorithm>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/chunk/coding.h"

namespace norn::chunk {

using internal::GetVarint;
using internal::PutVarint;

uint64_t Checksum64(std::string_view data) {
  return XXH3_64bits(data.data(), data.size());
}

Block::Block(BlockMeta meta, TokenFilter filter, std::shared_ptr<const std::string> buf,
             size_t data_offset)
    : meta_(meta),
      filter_(std::move(filter)),
      bytes_(buf != nullptr ? std::string_view(*buf) : std::string_view()),
      data_offset_(data_offset) {
  owner_ = std::move(buf);
}

Block::Block(BlockMeta meta, TokenFilter filter, std::shared_ptr<const void> owner,
             std::string_view bytes, size_t data_offset)
    : meta_(meta),
      filter_(std::move(filter)),
      owner_(std::move(owner)),
      bytes_(bytes),
      data_offset_(data_offset) {}

std::string_view Block::data() const {
  if (owner_ == nullptr)
    return {};
  return bytes_.substr(data_offset_, meta_.compressed_size);
}

std::shared_ptr<const Block> Block::WithData(std::shared_ptr<const std::string> buf,
                                             size_t data_offset) const {
  return std::make_shared<const Block>(meta_, filter_, std::move(buf), data_offset);
}

std::shared_ptr<const Block> Block::WithData(std::shared_ptr<const void> owner,
                                             std::string_view bytes, size_t data_offset) const {
  return std::make_shared<const Block>(meta_, filter_, std::move(owner), bytes, data_offset);
}

absl::StatusOr<std::shared_ptr<const Block>> BuildBlock(std::span<const EntryView> entries,
                                                        const Codec& codec, double filter_ratio,
                                                        uint64_t offset) {
  if (entries.empty())
    return absl::InvalidArgumentError("empty block");
  BlockMeta meta;
  meta.min_ts = entries.front().timestamp_ns;
  meta.max_ts = entries.back().timestamp_ns;
  meta.entries = static_cast<uint32_t>(entries.size());
  meta.offset = offset;

  // Symbol table: each distinct metadata name or value is stored once per block.
  absl::flat_hash_map<std::string_view, uint32_t, StringHash, StringEq> symbol_ids;
  std::vector<std::string_view> symbols;
  size_t line_bytes = 0;
  for (const EntryView& e : entries) {
    line_bytes += e.line.size();
    for (const LabelView& l : e.metadata) {
      for (std::string_view s : {l.name, l.value}) {
        if (symbol_ids.try_emplace(s, static_cast<uint32_t>(symbols.size())).second) {
          symbols.push_back(s);
        }
      }
    }
  }

  // Entry column: symbols, then per entry (timestamp delta, line length, metadata refs).
  std::string column;
  column.reserve(entries.size() * 6 + 16);
  PutVarint(&column, symbols.size());
  for (std::string_view s : symbols) {
    PutVarint(&column, s.size());
    column.append(s);
  }
  int64_t prev = meta.min_ts;
  std::vector<std::string_view> lines;
  lines.reserve(entries.size());
  for (const EntryView& e : entries) {
    PutVarint(&column, static_cast<uint64_t>(e.timestamp_ns) - static_cast<uint64_t>(prev));
    prev = e.timestamp_ns;
    PutVarint(&column, e.line.size());
    PutVarint(&column, e.metadata.size());
    for (const LabelView& l : e.metadata) {
      PutVarint(&column, symbol_ids.find(l.name)->second);
      PutVarint(&column, symbol_ids.find(l.value)->second);
    }
    lines.push_back(e.line);
  }
  if (column.size() + line_bytes > kMaxRawBlockSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("block too large: ", column.size() + line_bytes, " raw bytes"));
  }
  meta.layout = kBlockLayoutV3;
  meta.column_raw_size = static_cast<uint32_t>(column.size());
  meta.raw_size = static_cast<uint32_t>(column.size() + line_bytes);

  auto compressed = std::make_shared<std::string>();
  if (absl::Status s = codec.Compress(column, compressed.get()); !s.ok())
    return s;
  meta.column_compressed_size = static_cast<uint32_t>(compressed->size());
  meta.column_checksum = Checksum64(*compressed);
  // Lines back to back, without the column's binary bytes in between (which also compresses
  // better). A head block appended in order without metadata has them so already in its
  // arena; otherwise they are copied together once.
  if (line_bytes > 0) {
    bool contiguous = true;
    const char* next = nullptr;
    for (std::string_view l : lines) {
      if (l.empty())
        continue;
      if (next != nullptr && l.data() != next) {
        contiguous = false;
        break;
      }
      if (next == nullptr)
        next = l.data();
      next += l.size();
    }
    std::string joined;
    std::string_view all;
    if (contiguous) {
      all = std::string_view(next - line_bytes, line_bytes);
    } else {
      joined.reserve(line_bytes);
      for (std::string_view l : lines)
        joined.append(l);
      all = joined;
    }
    if (absl::Status s = codec.Compress(all, compressed.get()); !s.ok())
      return s;
  }
  // Codecs size the output for the worst case (about the raw size); blocks live in memory until
  // flushed, so keep only what the compressed bytes need.
  compressed->shrink_to_fit();
  meta.compressed_size = static_cast<uint32_t>(compressed->size());
  meta.checksum = Checksum64(*compressed);
  const size_t budget = static_cast<size_t>(filter_ratio * static_cast<double>(compressed->size()));
  TokenFilter filter = TokenFilter::Build(lines, budget);
  return std::make_shared<const Block>(meta, std::move(filter), std::move(compressed), 0);
}

void DecodedBlock::Clear() {
  // raw_ and column_ keep their bytes: the next Load resizes them to the next block's sizes,
  // and a std::string zero-fills whatever it grows by, so emptying them here would have every
  // block's decompression first write its whole size in zeros.
  lines_base_ = nullptr;
  lines_ascending_ = true;
  refs_.clear();
  labels_.clear();
  symbols_.clear();
}

namespace {

absl::Status CorruptBlock(std::string_view what) {
  return absl::DataLossError(absl::StrCat("corrupt block: ", AV(what)));
}

// A read-only mapping of zero pages: reads map the kernel's shared zero page, so nothing is
// committed however much of it is viewed.
const char* ZeroRegion() {
  static const char* const region = [] {
    void* p = mmap(nullptr, kMaxRawBlockSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<const char*>(p);
  }();
  return region;
}

}  // namespace

std::string_view ZeroBytes(size_t n) {
  const char* region = ZeroRegion();
  if (region == nullptr) {  // no address space left: fall back to a leaked heap buffer
    static const std::string* const fallback = new std::string(kMaxRawBlockSize, '\0');
    region = fallback->data();
  }
  return std::string_view(region, std::min<size_t>(n, kMaxRawBlockSize));
}

absl::Status DecodedBlock::Load(const Block& block, const Codec& codec, bool lines) {
  Clear();
  const BlockMeta& meta = block.meta();
  if (!block.has_data())
    return absl::FailedPreconditionError("block data not loaded");
  const std::string_view data = block.data();
  if (data.size() != meta.compressed_size)
    return absl::DataLossError("block checksum mismatch");
  // A v3 block read without its lines needs only its entry column to be intact.
  if (!lines && meta.layout >= kBlockLayoutV3) {
    if (meta.column_compressed_size > data.size() ||
        Checksum64(data.substr(0, meta.column_compressed_size)) != meta.column_checksum) {
      return absl::DataLossError("block entry column checksum mismatch");
    }
  } else if (Checksum64(data) != meta.checksum) {
    return absl::DataLossError("block checksum mismatch");
  }
  if (meta.raw_size > kMaxRawBlockSize || meta.max_ts < meta.min_ts) {
    return absl::DataLossError("block meta out of range");
  }
  absl::Status s;
  if (meta.layout == kBlockLayoutV1) {
    s = codec.Decompress(data, meta.raw_size, &raw_);
    lines_base_ = raw_.data();
    if (s.ok())
      s = Parse(meta, raw_, /*inline_lines=*/true, 0);
  } else {
    if (meta.column_compressed_size > data.size() || meta.column_raw_size > meta.raw_size) {
      return CorruptBlock("column size");
    }
    const uint64_t lines_size = meta.raw_size - meta.column_raw_size;
    const std::string_view line_frame = data.substr(meta.column_compressed_size);
    s = codec.Decompress(data.substr(0, meta.column_compressed_size), meta.column_raw_size,
                         &column_);
    if (s.ok() && lines) {
      if (lines_size == 0) {
        if (!line_frame.empty())
          s = CorruptBlock("line frame without lines");
      } else {
        s = codec.Decompress(line_frame, lines_size, &raw_);
      }
      lines_base_ = raw_.data();
    } else {
      lines_base_ = ZeroBytes(lines_size).data();
    }
    if (s.ok())
      s = Parse(meta, column_, /*inline_lines=*/false, lines_size);
  }
  if (!s.ok())
    Clear();
  return s;
}

absl::Status DecodedBlock::Parse(const BlockMeta& meta, std::string_view in, bool inline_lines,
                                 uint64_t lines_size) {
  uint64_t nsym = 0;
  if (!GetVarint(&in, &nsym) || nsym > in.size())
    return CorruptBlock("symbol count");
  symbols_.reserve(nsym);
  for (uint64_t i = 0; i < nsym; ++i) {
    std::string_view s;
    if (!internal::GetLengthPrefixed(&in, &s))
      return CorruptBlock("symbol");
    symbols_.push_back(s);
  }
  if (meta.entries > in.size())
    return CorruptBlock("entry count");
  // Sized once and filled by index: a push_back per entry is a call and a capacity check in
  // the hottest loop of every query.
  refs_.resize(meta.entries);
  int64_t ts = meta.min_ts;
  uint64_t line_off = 0;  // v2: where the next line starts in the lines frame
  for (uint32_t i = 0; i < meta.entries; ++i) {
    uint64_t delta = 0, len = 0, nmeta = 0;
    std::string_view inline_line;
    if (!GetVarint(&in, &delta) || !GetVarint(&in, &len) ||
        (inline_lines && len > in.size())) {
      return CorruptBlock("entry");
    }
    if (inline_lines) {
      inline_line = in.substr(0, len);
      in.remove_prefix(len);
    }
    if (!GetVarint(&in, &nmeta))
      return CorruptBlock("entry");
    // Unsigned arithmetic: the span of int64 timestamps does not fit in int64.
    if (delta > static_cast<uint64_t>(meta.max_ts) - static_cast<uint64_t>(ts)) {
      return CorruptBlock("timestamp out of range");
    }
    ts = static_cast<int64_t>(static_cast<uint64_t>(ts) + delta);
    if (!inline_lines && len > lines_size - line_off)
      return CorruptBlock("line length");
    if (nmeta > in.size() / 2)
      return CorruptBlock("metadata count");
    Ref& r = refs_[i];
    r.ts = ts;
    r.line_off = static_cast<uint32_t>(inline_lines ? inline_line.data() - raw_.data() : line_off);
    r.line_len = static_cast<uint32_t>(len);
    r.meta_begin = static_cast<uint32_t>(labels_.size());
    r.meta_count = static_cast<uint32_t>(nmeta);
    if (!inline_lines)
      line_off += len;
    for (uint64_t j = 0; j < nmeta; ++j) {
      uint64_t n = 0, v = 0;
      if (!GetVarint(&in, &n) || !GetVarint(&in, &v) || n >= nsym || v >= nsym) {
        return CorruptBlock("metadata symbol");
      }
      labels_.push_back(LabelView{symbols_[n], symbols_[v]});
    }
  }
  if (!in.empty())
    return CorruptBlock("trailing bytes");
  if (!inline_lines && line_off != lines_size)
    return CorruptBlock("line lengths disagree with the line frame");
  if (meta.entries > 0 && (refs_.front().ts != meta.min_ts || refs_.back().ts != meta.max_ts)) {
    return CorruptBlock("time bounds disagree with meta");
  }
  return absl::OkStatus();
}

void DecodedBlock::LoadCopy(std::span<const EntryView> entries, int64_t from, int64_t through) {
  Clear();
  raw_.clear();  // an arena again, filled from offset 0
  // Offsets first (the arena may move while it grows), views once it is complete.
  struct PendingLabel {
    uint32_t name_off, name_len, value_off, value_len;
  };
  std::vector<PendingLabel> pending;
  size_t bytes = 0;
  for (const EntryView& e : entries) {
    if (e.timestamp_ns < from || e.timestamp_ns >= through)
      continue;
    bytes += e.line.size();
    for (const LabelView& l : e.metadata)
      bytes += l.name.size() + l.value.size();
  }
  raw_.reserve(bytes);
  for (const EntryView& e : entries) {
    if (e.timestamp_ns < from || e.timestamp_ns >= through)
      continue;
    Ref r;
    r.ts = e.timestamp_ns;
    r.line_off = static_cast<uint32_t>(raw_.size());
    r.line_len = static_cast<uint32_t>(e.line.size());
    raw_.append(e.line);
    r.meta_begin = static_cast<uint32_t>(pending.size());
    r.meta_count = static_cast<uint32_t>(e.metadata.size());
    for (const LabelView& l : e.metadata) {
      PendingLabel p;
      p.name_off = static_cast<uint32_t>(raw_.size());
      p.name_len = static_cast<uint32_t>(l.name.size());
      raw_.append(l.name);
      p.value_off = static_cast<uint32_t>(raw_.size());
      p.value_len = static_cast<uint32_t>(l.value.size());
      raw_.append(l.value);
      pending.push_back(p);
    }
    refs_.push_back(r);
  }
  lines_base_ = raw_.data();
  labels_.reserve(pending.size());
  for (const PendingLabel& p : pending) {
    labels_.push_back(LabelView{std::string_view(raw_.data() + p.name_off, p.name_len),
                                std::string_view(raw_.data() + p.value_off, p.value_len)});
  }
  std::stable_sort(refs_.begin(), refs_.end(),
                   [](const Ref& a, const Ref& b) { return a.ts < b.ts; });
  for (size_t i = 1; i < refs_.size(); ++i) {
    if (refs_[i].line_off < refs_[i - 1].line_off + refs_[i - 1].line_len) {
      lines_ascending_ = false;
      break;
    }
  }
}

size_t DecodedBlock::LowerBound(int64_t ts) const {
  return std::lower_bound(refs_.begin(), refs_.end(), ts,
                          [](const Ref& r, int64_t t) { return r.ts < t; }) -
         refs_.begin();
}

}  // namespace norn::chunk
