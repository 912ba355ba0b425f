// Blocks: the compressed unit of a chunk. A block holds a run of one stream's entries sorted by
// timestamp, compressed with the chunk's codec, plus a small uncompressed meta (time bounds,
// counts, sizes, checksum) and a TokenFilter, so readers can skip a block by time or by line
// filter without decompressing it.
//
// Block is immutable and shared (`std::shared_ptr<const Block>`) between a chunk and the
// iterators reading it, so an iterator stays valid while the chunk keeps growing. Its compressed
// bytes live in a shared buffer, either the block's own or a whole encoded chunk.
// DecodedBlock is a reusable, single-threaded decompression buffer owned by an iterator.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/chunk/codec.h"
#include "storage/chunk/token_filter.h"

namespace norn::chunk {

// A borrowed structured-metadata pair.
struct LabelView {
  std::string_view name;
  std::string_view value;
  friend bool operator==(const LabelView&, const LabelView&) = default;
};

// A borrowed entry: what iterators yield. Views stay valid as documented by the producer.
struct EntryView {
  int64_t timestamp_ns = 0;
  std::string_view line;
  std::span<const LabelView> metadata;
};

// Block layouts (the chunk format version, see docs/formats.md):
//   1: one compressed frame holding symbols, then per entry (timestamp, line, metadata);
//   2: two compressed frames: the entry column (symbols, then per entry timestamp, line length
//      and metadata), then the lines back to back. Readers that need no line bytes (a count or
//      bytes_over_time over a bare selector) decompress only the small first frame;
//   3: as 2, plus a checksum of the entry column's frame alone, so that those readers verify
//      (and touch) only that frame instead of hashing the lines too.
inline constexpr uint8_t kBlockLayoutV1 = 1;
inline constexpr uint8_t kBlockLayoutV2 = 2;
inline constexpr uint8_t kBlockLayoutV3 = 3;

struct BlockMeta {
  uint8_t layout = kBlockLayoutV3;
  int64_t min_ts = 0;  // smallest entry timestamp (inclusive)
  int64_t max_ts = 0;  // largest entry timestamp (inclusive)
  uint32_t entries = 0;
  uint32_t raw_size = 0;         // uncompressed bytes (v2: entry column + lines)
  uint64_t offset = 0;           // where the compressed bytes start in the encoded chunk
  uint32_t compressed_size = 0;  // length of the compressed bytes (v2: both frames)
  uint64_t checksum = 0;         // XXH3-64 (seed 0) of the compressed bytes
  // v2 only: the entry column's uncompressed and compressed sizes (its frame comes first).
  uint32_t column_raw_size = 0;
  uint32_t column_compressed_size = 0;
  // v3 only: XXH3-64 (seed 0) of the entry column's frame (its first column_compressed_size
  // bytes).
  uint64_t column_checksum = 0;
  friend bool operator==(const BlockMeta&, const BlockMeta&) = default;
};

// Largest raw block a decoder accepts: bounds the allocation a corrupt meta could request.
inline constexpr uint32_t kMaxRawBlockSize = 512u << 20;

class Block {
 public:
  // `buf` may be null (meta and filter only, e.g. read from a chunk's index without its data);
  // otherwise the compressed bytes are buf->substr(data_offset, meta.compressed_size).
  Block(BlockMeta meta, TokenFilter filter, std::shared_ptr<const std::string> buf,
        size_t data_offset);
  // The compressed bytes are bytes.substr(data_offset, meta.compressed_size), kept alive by
  // `owner` (not null).
  Block(BlockMeta meta, TokenFilter filter, std::shared_ptr<const void> owner,
        std::string_view bytes, size_t data_offset);

  const BlockMeta& meta() const { return meta_; }
  const TokenFilter& filter() const { return filter_; }

  // False only when no line of this block contains `needle` (case-sensitive substring).
  bool MayContain(std::string_view needle) const { return filter_.MayContain(needle); }
  // True when some entry may lie in [from, through).
  bool Overlaps(int64_t from, int64_t through) const {
    return meta_.max_ts >= from && meta_.min_ts < through;
  }

  bool has_data() const { return owner_ != nullptr; }
  std::string_view data() const;

  // A copy of this block's meta and filter whose bytes live in `buf` at `data_offset` (for
  // readers that fetched the block's byte range separately).
  std::shared_ptr<const Block> WithData(std::shared_ptr<const std::string> buf,
                                        size_t data_offset) const;
  std::shared_ptr<const Block> WithData(std::shared_ptr<const void> owner, std::string_view bytes,
                                        size_t data_offset) const;

 private:
  BlockMeta meta_;
  TokenFilter filter_;
  std::shared_ptr<const void> owner_;  // keeps bytes_ alive; null without data
  std::string_view bytes_;
  size_t data_offset_ = 0;
};

// Encodes `entries` (sorted by timestamp, non-empty) into a new block: raw layout, compression,
// checksum and a token filter of at most `filter_ratio` x compressed bytes. `offset` is recorded
// in the meta (the block's position in the chunk being built).
absl::StatusOr<std::shared_ptr<const Block>> BuildBlock(std::span<const EntryView> entries,
                                                        const Codec& codec, double filter_ratio,
                                                        uint64_t offset);

// Uncompressed entries of one block (or a sorted copy of a head block), indexable by position.
// Reused across blocks by iterators to avoid reallocating. Views returned by entry() are valid
// until the next Load*/Clear call.
class DecodedBlock {
 public:
  // Verifies the checksum, decompresses and parses `block`; kDataLoss on any inconsistency.
  // With `lines` false a v2 block's line frame is not decompressed: entries keep their exact
  // timestamps, metadata and line lengths, but their line views show zero bytes (ZeroBytes).
  // v1 blocks always decode their lines.
  [[nodiscard]] absl::Status Load(const Block& block, const Codec& codec, bool lines = true);
  // Copies the entries of `entries` with timestamps in [from, through) and sorts them by time
  // (stable: equal timestamps keep their order).
  void LoadCopy(std::span<const EntryView> entries, int64_t from, int64_t through);
  void Clear();

  size_t size() const { return refs_.size(); }
  // Heap bytes its buffers hold (their capacity), decoded entries or not.
  size_t MemoryBytes() const {
    return raw_.capacity() + column_.capacity() + refs_.capacity() * sizeof(Ref) +
           labels_.capacity() * sizeof(LabelView) + symbols_.capacity() * sizeof(std::string_view);
  }
  int64_t timestamp(size_t i) const { return refs_[i].ts; }
  std::string_view line(size_t i) const {
    return std::string_view(lines_base_ + refs_[i].line_off, refs_[i].line_len);
  }
  EntryView entry(size_t i) const {
    const Ref& r = refs_[i];
    return EntryView{r.ts, std::string_view(lines_base_ + r.line_off, r.line_len),
                     std::span<const LabelView>(labels_.data() + r.meta_begin, r.meta_count)};
  }
  // Index of the first entry with timestamp >= ts (size() if none).
  size_t LowerBound(int64_t ts) const;
  // True when each entry's line starts at or after the end of the previous entry's line in
  // memory (decoded blocks always; a sorted copy of a head that was appended out of order may
  // not), so the lines of entries [i, j) all lie between entry(i).line.data() and the end of
  // entry(j - 1).line, in entry order, possibly with other bytes between them.
  bool lines_ascending() const { return lines_ascending_; }

 private:
  struct Ref {
    int64_t ts;
    uint32_t line_off;
    uint32_t line_len;
    uint32_t meta_begin;
    uint32_t meta_count;
  };
  // Parses the symbols and entries in `in`: the v2 entry column, whose line lengths must add up
  // to `lines_size` (the lines frame), or with `inline_lines` the whole v1 layout in raw_,
  // where each line follows its length.
  absl::Status Parse(const BlockMeta& meta, std::string_view in, bool inline_lines,
                     uint64_t lines_size);

  std::string raw_;     // v1: the whole layout; v2: the lines; LoadCopy: lines and metadata
  std::string column_;  // v2: the entry column (symbols live here)
  const char* lines_base_ = nullptr;  // line_off is relative to this
  bool lines_ascending_ = true;
  std::vector<Ref> refs_;
  std::vector<LabelView> labels_;
  std::vector<std::string_view> symbols_;
};

// `n` readable zero bytes (n <= kMaxRawBlockSize): what a line view points at when a reader
// asked for entries without their line bytes. Backed by one read-only anonymous mapping, so it
// costs address space, not memory.
std::string_view ZeroBytes(size_t n);

// XXH3-64 of `data`, the checksum used for blocks and the chunk index.
uint64_t Checksum64(std::string_view data);

}  // namespace norn::chunk
