// MemChunk: one stream's entries over a time range, the unit the ingester builds in memory and
// flushes to object storage (Loki's chunkenc.MemChunk).
//
// Writing: Append() adds entries to an uncompressed head block. When the head reaches
// `block_size` bytes of lines and metadata it is sorted by timestamp and cut into an immutable
// compressed Block. SpaceFor() says whether an entry still fits under `target_size` (Loki's rule:
// compressed bytes of cut blocks + raw head bytes + the new line < target_size); cutting by age is
// the caller's business. Close() cuts the head and makes the chunk read-only. Out-of-order
// appends are accepted (the ingester bounds how late); blocks may overlap in time and iterators
// merge them. Exact duplicates (same timestamp and line) are dropped when found in the head block
// or in the most recently cut block (see Append).
//
// Reading: Iterator() yields entries in [from, through) in timestamp order, forward or backward,
// skipping blocks by time and, optionally, by token filter. Encode() serialises the chunk in the
// format documented in docs/formats.md ("Chunks"); Decode() and FromBlocks() rebuild a read-only
// chunk, and ParseTrailer()/ParseIndex() let a reader fetch only the byte ranges it needs.
//
// Thread-safety: not thread-safe; one writer. Readers must be serialised with the writer only
// while calling const methods (including Iterator()): an iterator holds its own snapshot (shared
// immutable blocks plus a copy of the head), so it stays valid while the chunk keeps being
// appended to, and even after the chunk is destroyed.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/labels.h"
#include "storage/chunk/block.h"
#include "storage/chunk/codec.h"

namespace norn::chunk {

inline constexpr size_t kDefaultBlockSize = 256 * 1024;
inline constexpr size_t kDefaultTargetSize = 1536 * 1024;
// Chosen by chunk_bench (see the chunk README): zstd decompresses about as fast as snappy on log
// blocks while compressing ~1.7x smaller; lz4 is faster to decode but as large as snappy.
inline constexpr Encoding kDefaultEncoding = Encoding::kZstd;
// Token filter budget as a fraction of a block's compressed size.
inline constexpr double kDefaultFilterRatio = 0.05;
// Lines longer than this are refused (far above any sane max_line_size).
inline constexpr size_t kMaxLineBytes = 256u << 20;
// The head is also cut at this many entries, so a stream of empty lines (which add no bytes)
// cannot grow it without bound.
inline constexpr size_t kMaxBlockEntries = 1u << 18;

struct ChunkOptions {
  Encoding encoding = kDefaultEncoding;
  size_t block_size = kDefaultBlockSize;    // raw head bytes that trigger a cut
  size_t target_size = kDefaultTargetSize;  // compressed bytes at which the chunk is full
  double filter_ratio = kDefaultFilterRatio;
};

enum class AppendResult { kAppended, kDuplicate };
enum class Direction { kForward, kBackward };

struct ChunkStats {
  uint64_t entries = 0;
  uint64_t raw_bytes = 0;         // uncompressed block bytes plus head line+metadata bytes
  uint64_t line_bytes = 0;        // sum of appended line lengths (0 for decoded chunks)
  uint64_t compressed_bytes = 0;  // compressed bytes of cut blocks
  uint64_t filter_bytes = 0;      // token filter bit arrays of cut blocks
  uint32_t blocks = 0;            // cut blocks (not counting the head)
  int64_t min_ts = 0;             // both 0 when the chunk is empty
  int64_t max_ts = 0;
};

// Decoded blocks kept for reuse by the iterators of one reader: a block's buffers keep the
// size of the biggest block they held, so taking one from here saves a fresh allocation, its
// page faults and the zero-fill of growing it. Not thread-safe; must outlive the iterators
// that use it.
//
// A pool takes its first blocks from, and leaves what it holds at its end to, a small
// process-wide reserve (kMaxShared blocks of at most kMaxSharedBytes each), so that the next
// query's readers start with grown buffers too: a short query (the newest 1000 lines) spent a
// third of its page faults growing fresh decompression buffers.
class DecodedBlockPool {
 public:
  DecodedBlockPool() = default;
  ~DecodedBlockPool();
  DecodedBlockPool(const DecodedBlockPool&) = delete;
  DecodedBlockPool& operator=(const DecodedBlockPool&) = delete;

  std::unique_ptr<DecodedBlock> Take();
  // Keeps at most kMaxKept blocks.
  void Give(std::unique_ptr<DecodedBlock> block);
  size_t size() const { return free_.size(); }
  static constexpr size_t kMaxKept = 8;
  static constexpr size_t kMaxShared = 8;
  static constexpr size_t kMaxSharedBytes = 2 << 20;
  // Blocks in the process-wide reserve (for tests).
  static size_t SharedSize();

 private:
  std::vector<std::unique_ptr<DecodedBlock>> free_;
};

// Rules out entries of a decoded block that cannot pass the caller's line filter, looking at
// all of the block's lines at once (a scan of the whole buffer for a needle instead of one
// search per line), so iterators do not hand them out. Must be thread-safe: iterators on
// several threads share one.
class LinePrefilter {
 public:
  virtual ~LinePrefilter() = default;
  // For i in [lo, hi): sets keep[i] to 0 when entry i's line cannot pass, else to 1.
  // keep.size() >= hi.
  virtual void Mark(const DecodedBlock& block, size_t lo, size_t hi,
                    std::vector<uint8_t>& keep) const = 0;
};

struct IteratorOptions {
  int64_t from = std::numeric_limits<int64_t>::min();     // inclusive
  int64_t through = std::numeric_limits<int64_t>::max();  // exclusive
  Direction direction = Direction::kForward;
  // Blocks whose token filter rules out any of these substrings are skipped (a pure
  // optimisation: the caller still filters lines). The head block is never skipped.
  std::vector<std::string> required_substrings;
  // False: the caller needs no line bytes (only timestamps, line lengths and metadata), so
  // blocks whose layout allows it are read without decompressing their lines; yielded lines
  // then show zero bytes of the right length (see DecodedBlock::Load).
  bool lines = true;
  // Where the iterator takes decoded blocks from and gives them back to when it ends (null:
  // its own).
  DecodedBlockPool* pool = nullptr;
  // Entries it rules out are skipped (counted in IteratorStats::prefiltered_*), when lines
  // are read. Borrowed: must outlive the iterator.
  const LinePrefilter* line_prefilter = nullptr;
};

struct IteratorStats {
  uint32_t blocks_considered = 0;
  uint32_t blocks_skipped_by_time = 0;
  uint32_t blocks_skipped_by_filter = 0;
  uint32_t blocks_decoded = 0;
  uint64_t compressed_bytes = 0;    // of decoded blocks
  uint64_t decompressed_bytes = 0;  // of decoded blocks
  uint64_t entries = 0;             // entries yielded
  uint64_t prefiltered_entries = 0;  // decoded entries skipped by the line prefilter
  uint64_t prefiltered_bytes = 0;    // their line bytes
};

// Consecutive entries of one decoded block that an iterator yields together: indexes
// [begin, end) of `block`, in iteration order (ascending forward, descending backward). Valid
// until the iterator's next Next()/NextRun().
struct EntryRun {
  const DecodedBlock* block = nullptr;
  size_t begin = 0, end = 0;
};

// Pull iterator over a chunk snapshot. Usage:
//   while (it->Next()) { const EntryView& e = it->entry(); ... }
//   if (!it->status().ok()) ...
// The views in entry() are valid until the next call to Next() (the decompressed block buffer
// is owned by the iterator). Single-threaded.
class ChunkIterator {
 public:
  ~ChunkIterator();
  ChunkIterator(const ChunkIterator&) = delete;
  ChunkIterator& operator=(const ChunkIterator&) = delete;

  bool Next();
  const EntryView& entry() const { return entry_; }
  // Instead of Next(): yields at once every entry Next() would yield from the current block
  // before any entry of another block (at least one), in the same order. Readers of many
  // entries (metric queries) then handle a block's entries in one loop. entry() is not set.
  bool NextRun(EntryRun* run);
  // OK after a normal end; kDataLoss when a block failed to decode (iteration stops there).
  const absl::Status& status() const { return status_; }
  const IteratorStats& stats() const { return stats_; }

 private:
  friend class MemChunk;
  struct Source;
  ChunkIterator(Encoding encoding, IteratorOptions options);
  bool Open(Source& s);
  // Retires the previous source, opens every source that may hold the next entry and takes
  // the source holding it out of the heap (*idx); false at the end.
  bool PopTop(uint32_t* idx);
  // After entries were taken from source `idx`: retires it when it has none left, else puts
  // it back in the heap.
  void Requeue(uint32_t idx);
  // Moves s.pos past entries the line prefilter ruled out (s.keep not empty); false when
  // none is left.
  bool SkipRuledOut(Source& s);
  int64_t CurrentTs(const Source& s) const;
  bool HeapLess(uint32_t a, uint32_t b) const;

  const Codec* codec_;
  IteratorOptions options_;
  std::vector<Source> sources_;  // sorted in the order they may be needed
  size_t next_source_ = 0;
  std::vector<uint32_t> heap_;  // open sources, by (timestamp, sequence)
  int retired_ = -1;            // source exhausted by the previous Next(); its buffer is in use
  std::vector<std::unique_ptr<DecodedBlock>> free_;
  EntryView entry_;
  absl::Status status_;
  IteratorStats stats_;
};

class MemChunk {
 public:
  explicit MemChunk(ChunkOptions options = {});
  ~MemChunk();
  MemChunk(MemChunk&&) noexcept;
  MemChunk& operator=(MemChunk&&) noexcept;
  MemChunk(const MemChunk&) = delete;
  MemChunk& operator=(const MemChunk&) = delete;

  // Appends one entry. kDuplicate (nothing stored) when an entry with the same timestamp and line
  // is already in the head block, or, by 64-bit hash of (timestamp, line), in the most recently cut
  // block; duplicates of entries in older blocks are not detected. Metadata is not compared.
  // Errors: kFailedPrecondition after Close() or on a decoded chunk; kInvalidArgument for a line
  // over kMaxLineBytes; a cut can fail with the codec's error.
  absl::StatusOr<AppendResult> Append(int64_t timestamp_ns, std::string_view line,
                                      std::span<const Label> metadata = {});

  // Whether an entry with `line_bytes` of line (and metadata) fits before target_size.
  bool SpaceFor(size_t line_bytes) const;
  // Cuts the head block and refuses further appends. Idempotent.
  [[nodiscard]] absl::Status Close();
  // Compresses the head into a block now, before it reaches block_size, and releases its
  // memory. No-op on an empty head.
  [[nodiscard]] absl::Status CutHead();
  // Compresses what the head holds so far in memory (zstd), without cutting a block: the head
  // keeps filling and becomes one block of the usual size, so the chunk's layout and
  // compression ratio do not change. The ingester's answer to many slowly filling streams.
  [[nodiscard]] absl::Status CompactHead() { return head_arena_.Compact(); }
  // Raw line and metadata bytes waiting in the head block.
  size_t HeadBytes() const { return head_bytes_; }
  // Memory the head's bytes take (compacted or not), and the part not compacted yet.
  size_t HeadMemoryBytes() const { return head_arena_.memory(); }
  size_t HeadUncompactedBytes() const { return head_arena_.uncompacted(); }
  bool closed() const { return closed_; }

  // Serialises the chunk; a non-empty head is included as a last block (without cutting it).
  absl::StatusOr<std::string> Encode() const;

  // Parses and verifies a whole encoded chunk (every checksum); the result is closed (read-only)
  // and holds its own copy of the bytes. kDataLoss on any corruption.
  static absl::StatusOr<std::unique_ptr<MemChunk>> Decode(std::string_view data);
  // With `verify_blocks` false the blocks' checksums are left to DecodedBlock::Load, which
  // checks each block it decodes (readers that may skip most blocks need not hash them all).
  static absl::StatusOr<std::unique_ptr<MemChunk>> DecodeOwned(std::string data,
                                                               bool verify_blocks = true);
  // DecodeOwned over bytes that `owner` keeps alive (e.g. a mapped file), without copying them.
  static absl::StatusOr<std::unique_ptr<MemChunk>> DecodeShared(std::shared_ptr<const void> owner,
                                                                std::string_view data,
                                                                bool verify_blocks = true);
  // A read-only chunk over blocks obtained elsewhere (e.g. ParseIndex + ranged reads + WithData).
  // Blocks without data may be included only if iterators never need them.
  static std::unique_ptr<MemChunk> FromBlocks(Encoding encoding,
                                              std::vector<std::shared_ptr<const Block>> blocks);

  std::unique_ptr<ChunkIterator> Iterator(IteratorOptions options) const;
  std::unique_ptr<ChunkIterator> Iterator(int64_t from, int64_t through, Direction direction) const;

  Encoding encoding() const { return options_.encoding; }
  const std::vector<std::shared_ptr<const Block>>& blocks() const { return blocks_; }
  size_t head_entries() const { return head_.size(); }

  ChunkStats Stats() const;
  uint64_t Size() const { return entries_; }  // entries, including the head
  // Compressed bytes of cut blocks plus raw head bytes: what SpaceFor compares to target_size.
  size_t Bytes() const { return compressed_bytes_ + head_bytes_; }
  size_t CompressedSize() const { return compressed_bytes_; }
  // Smallest and largest timestamp (both 0 when empty).
  std::pair<int64_t, int64_t> Bounds() const;

 private:
  // Append-only storage of the head's lines and metadata, addressed by offset. Bytes go into
  // segments that never move, so an append never copies what is stored and the spare capacity
  // stays within a fraction of the stored bytes (a doubling buffer keeps up to half of it
  // spare: with thousands of streams whose heads hold a few KiB each, that was most of the
  // ingester's memory). Compact() compresses everything stored so far into one frame; a
  // line or metadata value never spans two segments or frames.
  class HeadArena {
   public:
    // A decompressed frame, kept between look-ups so bytes of one frame decompress it once.
    // Valid until the arena changes.
    struct FrameCache {
      size_t frame = SIZE_MAX;
      std::string bytes;
    };
    // Copies `bytes` into the arena; returns their offset.
    uint32_t Append(std::string_view bytes);
    // The bytes at [offset, offset + len), which one Append stored (or a part of them): a view
    // into a segment, or for compacted bytes into `cache`, which then holds their frame.
    absl::StatusOr<std::string_view> Get(uint32_t offset, uint32_t len, FrameCache* cache) const;
    // Every stored byte, contiguous and starting at offset 0: a view into the only segment or
    // into `*buf`.
    absl::StatusOr<std::string_view> All(std::string* buf) const;
    absl::Status Compact();
    void Clear();
    size_t uncompacted() const { return size_ - compacted_; }
    size_t memory() const { return memory_; }

   private:
    struct Frame {
      uint32_t start, raw_size;
      std::string compressed;  // zstd
    };
    struct Segment {
      uint32_t start, used, capacity;
      std::unique_ptr<char[]> data;
    };
    std::vector<Frame> frames_;      // offsets [0, compacted_), in order
    std::vector<Segment> segments_;  // offsets [compacted_, size_), in order
    uint32_t size_ = 0;
    uint32_t compacted_ = 0;
    size_t memory_ = 0;  // segment capacities plus compressed frame bytes
  };
  struct HeadEntry {
    int64_t ts;
    uint32_t line_off, line_len;  // in head_arena_
    // First of this entry's head_labels_; they end where the next entry's begin (24 bytes
    // per entry: a million entries in the heads of many streams is common).
    uint32_t meta_begin;
  };
  struct HeadLabel {
    uint32_t name_off, name_len, value_off, value_len;  // in head_arena_
  };
  // Sorted views over the head, into head_arena_ or `*buf`; `labels` receives the metadata
  // views.
  absl::StatusOr<std::vector<EntryView>> SortedHeadViews(std::vector<LabelView>* labels,
                                                         std::string* buf) const;
  absl::StatusOr<bool> IsDuplicate(int64_t ts, std::string_view line);

  ChunkOptions options_;
  const Codec* codec_;
  bool closed_ = false;
  std::vector<std::shared_ptr<const Block>> blocks_;
  uint64_t next_offset_;  // where the next cut block goes in the encoding
  size_t compressed_bytes_ = 0;
  uint64_t raw_block_bytes_ = 0;
  uint64_t entries_ = 0;
  uint64_t line_bytes_ = 0;  // Appended line bytes (not known for decoded chunks).

  HeadArena head_arena_;
  std::vector<HeadEntry> head_;
  std::vector<HeadLabel> head_labels_;
  size_t head_bytes_ = 0;
  bool head_sorted_ = true;
  int64_t head_min_ = 0, head_max_ = 0;
  // Duplicate detection across a cut: the most recently cut block's entries are checked
  // through their sorted hashes, made when first needed (empty until then).
  std::vector<uint64_t> last_block_hashes_;
};

// ---- Layout access for ranged reads (see docs/formats.md) ----

inline constexpr size_t kHeaderSize = 8;
inline constexpr size_t kTrailerSize = 16;

struct IndexLocation {
  uint64_t offset = 0;
  uint64_t length = 0;
};
// Parses the last kTrailerSize bytes of an encoded chunk of `object_size` bytes.
absl::StatusOr<IndexLocation> ParseTrailer(std::string_view trailer, uint64_t object_size);

struct ChunkIndex {
  uint8_t version = 0;  // the chunk format version (= the blocks' layout)
  Encoding encoding = Encoding::kNone;
  // Blocks with meta and filter but no data; attach bytes with Block::WithData.
  std::vector<std::shared_ptr<const Block>> blocks;
};
// Parses and verifies the index bytes located by ParseTrailer. With `owner` (which must keep
// `index` alive) the blocks' token filters view the index bytes instead of copying them.
absl::StatusOr<ChunkIndex> ParseIndex(std::string_view index, const IndexLocation& location,
                                      std::shared_ptr<const void> owner = nullptr);

}  // namespace norn::chunk
