#include "storage/chunk/memchunk.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/spare_reserve.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/chunk/coding.h"

namespace norn::chunk {

using internal::GetVarint;
using internal::PutFixed32;
using internal::PutFixed64;
using internal::PutVarint;

namespace {

constexpr char kMagic[4] = {'N', 'R', 'N', 'C'};
// Written by this version; versions 1 (single-frame blocks) and 2 (no column checksum) are
// still read.
constexpr uint8_t kFormatVersion = kBlockLayoutV3;

uint64_t EntryHash(int64_t ts, std::string_view line) {
  return XXH3_64bits_withSeed(line.data(), line.size(), static_cast<uint64_t>(ts));
}

std::string HeaderBytes(uint8_t version, Encoding encoding) {
  std::string h(kMagic, 4);
  h.push_back(static_cast<char>(version));
  h.push_back(static_cast<char>(encoding));
  h.append(2, '\0');
  return h;
}

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(absl::StrCat("corrupt chunk: ", AV(what)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// MemChunk: writing

MemChunk::MemChunk(ChunkOptions options)
    : options_(options), codec_(GetCodec(options.encoding)), next_offset_(kHeaderSize) {
  if (codec_ == nullptr) {  // programmer error: options come from ParseEncoding
    options_.encoding = kDefaultEncoding;
    codec_ = GetCodec(kDefaultEncoding);
  }
  if (options_.block_size == 0)
    options_.block_size = kDefaultBlockSize;
}

// Compacted head frames are compressed for memory, so zstd: the ratio matters more than speed
// (LZ4 frames left many-streams ingest at 336 instead of 296 MB peak RSS).
constexpr Encoding kHeadFrameEncoding = Encoding::kZstd;

uint32_t MemChunk::HeadArena::Append(std::string_view bytes) {
  const uint32_t at = size_;
  if (bytes.empty())
    return at;
  if (segments_.empty() || segments_.back().capacity - segments_.back().used < bytes.size()) {
    // Segments grow with the uncompacted part (a quarter of it, between 2 and 64 KiB): the
    // spare room is at most that quarter plus the tail a line did not fit in, and a head of
    // a 256 KiB block takes ~20 allocations.
    constexpr size_t kMinSegment = 2 << 10, kMaxSegment = 64 << 10;
    const size_t size = std::max(
        bytes.size(), std::clamp<size_t>((size_ - compacted_) / 4, kMinSegment, kMaxSegment));
    segments_.push_back(Segment{size_, 0, static_cast<uint32_t>(size),
                                std::make_unique_for_overwrite<char[]>(size)});
    memory_ += size;
  }
  Segment& seg = segments_.back();
  std::memcpy(seg.data.get() + seg.used, bytes.data(), bytes.size());
  seg.used += static_cast<uint32_t>(bytes.size());
  size_ += static_cast<uint32_t>(bytes.size());
  return at;
}

absl::StatusOr<std::string_view> MemChunk::HeadArena::Get(uint32_t offset, uint32_t len,
                                                          FrameCache* cache) const {
  if (len == 0)
    return std::string_view();
  if (offset >= compacted_) {
    // Most look-ups are of recent bytes: search from the newest segment.
    for (auto seg = segments_.rbegin(); seg != segments_.rend(); ++seg) {
      if (seg->start <= offset)
        return std::string_view(seg->data.get() + (offset - seg->start), len);
    }
  }
  auto frame = std::upper_bound(frames_.begin(), frames_.end(), offset,
                                [](uint32_t off, const Frame& f) { return off < f.start; });
  if (frame == frames_.begin())
    return absl::InternalError("head arena offset out of range");
  --frame;
  const size_t index = static_cast<size_t>(frame - frames_.begin());
  if (cache->frame != index) {
    RETURN_IF_ERROR(GetCodec(kHeadFrameEncoding)
                        ->Decompress(frame->compressed, frame->raw_size, &cache->bytes));
    cache->frame = index;
  }
  return std::string_view(cache->bytes).substr(offset - frame->start, len);
}

absl::StatusOr<std::string_view> MemChunk::HeadArena::All(std::string* buf) const {
  if (frames_.empty() && segments_.size() <= 1) {
    return segments_.empty() ? std::string_view()
                             : std::string_view(segments_[0].data.get(), segments_[0].used);
  }
  buf->clear();
  buf->reserve(size_);
  const Codec* codec = GetCodec(kHeadFrameEncoding);
  std::string frame_bytes;
  for (size_t i = 0; i < frames_.size(); ++i) {
    const Frame& f = frames_[i];
    if (i == 0) {  // straight into the (empty) buffer
      RETURN_IF_ERROR(codec->Decompress(f.compressed, f.raw_size, buf));
    } else {
      RETURN_IF_ERROR(codec->Decompress(f.compressed, f.raw_size, &frame_bytes));
      buf->append(frame_bytes);
    }
  }
  for (const Segment& seg : segments_)
    buf->append(seg.data.get(), seg.used);
  return std::string_view(*buf);
}

absl::Status MemChunk::HeadArena::Compact() {
  if (size_ == compacted_)
    return absl::OkStatus();
  std::string raw;
  std::string_view bytes;
  if (segments_.size() == 1) {
    bytes = std::string_view(segments_[0].data.get(), segments_[0].used);
  } else {
    raw.reserve(size_ - compacted_);
    for (const Segment& seg : segments_)
      raw.append(seg.data.get(), seg.used);
    bytes = raw;
  }
  Frame f{compacted_, size_ - compacted_, std::string()};
  RETURN_IF_ERROR(GetCodec(kHeadFrameEncoding)->Compress(bytes, &f.compressed));
  f.compressed.shrink_to_fit();
  memory_ += f.compressed.capacity();
  frames_.push_back(std::move(f));
  for (const Segment& seg : segments_)
    memory_ -= seg.capacity;
  segments_ = std::vector<Segment>();
  compacted_ = size_;
  return absl::OkStatus();
}

void MemChunk::HeadArena::Clear() {
  frames_ = std::vector<Frame>();
  segments_ = std::vector<Segment>();
  size_ = compacted_ = 0;
  memory_ = 0;
}

MemChunk::~MemChunk() = default;
MemChunk::MemChunk(MemChunk&&) noexcept = default;
MemChunk& MemChunk::operator=(MemChunk&&) noexcept = default;

absl::StatusOr<bool> MemChunk::IsDuplicate(int64_t ts, std::string_view line) {
  if (!head_.empty() && ts <= head_max_) {
    HeadArena::FrameCache frame;  // only for lines in compacted frames
    auto same = [&](const HeadEntry& e) -> absl::StatusOr<bool> {
      if (e.ts != ts || e.line_len != line.size())
        return false;
      ASSIGN_OR_RETURN(std::string_view stored, head_arena_.Get(e.line_off, e.line_len, &frame));
      return stored == line;
    };
    auto it = head_sorted_
                  ? std::lower_bound(head_.begin(), head_.end(), ts,
                                     [](const HeadEntry& e, int64_t t) { return e.ts < t; })
                  : head_.begin();
    for (; it != head_.end() && (!head_sorted_ || it->ts == ts); ++it) {
      ASSIGN_OR_RETURN(bool dup, same(*it));
      if (dup)
        return true;
    }
  }
  // (Only a chunk that cut its blocks appends: a decoded one is closed.)
  if (!blocks_.empty()) {
    const BlockMeta& m = blocks_.back()->meta();
    if (ts >= m.min_ts && ts <= m.max_ts) {
      // Only an entry inside the last block's time range can repeat one of it, which in-order
      // writes never are: its hashes are computed (from the compressed block) the first time.
      if (last_block_hashes_.empty()) {
        DecodedBlock decoded;
        RETURN_IF_ERROR(decoded.Load(*blocks_.back(), *codec_));
        last_block_hashes_.reserve(decoded.size());
        for (size_t i = 0; i < decoded.size(); ++i) {
          const EntryView e = decoded.entry(i);
          last_block_hashes_.push_back(EntryHash(e.timestamp_ns, e.line));
        }
        std::sort(last_block_hashes_.begin(), last_block_hashes_.end());
      }
      return std::binary_search(last_block_hashes_.begin(), last_block_hashes_.end(),
                                EntryHash(ts, line));
    }
  }
  return false;
}

absl::StatusOr<AppendResult> MemChunk::Append(int64_t timestamp_ns, std::string_view line,
                                              std::span<const Label> metadata) {
  if (closed_)
    return absl::FailedPreconditionError("append to a closed chunk");
  if (line.size() > kMaxLineBytes) {
    return absl::InvalidArgumentError(absl::StrCat("line too long: ", line.size(), " bytes"));
  }
  ASSIGN_OR_RETURN(bool duplicate, IsDuplicate(timestamp_ns, line));
  if (duplicate)
    return AppendResult::kDuplicate;

  HeadEntry e;
  e.ts = timestamp_ns;
  e.line_off = head_arena_.Append(line);
  e.line_len = static_cast<uint32_t>(line.size());
  e.meta_begin = static_cast<uint32_t>(head_labels_.size());
  size_t bytes = line.size();
  for (const Label& l : metadata) {
    HeadLabel h;
    h.name_off = head_arena_.Append(l.name);
    h.name_len = static_cast<uint32_t>(l.name.size());
    h.value_off = head_arena_.Append(l.value);
    h.value_len = static_cast<uint32_t>(l.value.size());
    head_labels_.push_back(h);
    bytes += l.name.size() + l.value.size();
  }
  if (head_.empty()) {
    head_min_ = head_max_ = timestamp_ns;
  } else {
    if (timestamp_ns < head_max_)
      head_sorted_ = false;
    head_min_ = std::min(head_min_, timestamp_ns);
    head_max_ = std::max(head_max_, timestamp_ns);
  }
  head_.push_back(e);
  head_bytes_ += bytes;
  line_bytes_ += line.size();
  ++entries_;
  if (head_bytes_ >= options_.block_size || head_.size() >= kMaxBlockEntries) {
    RETURN_IF_ERROR(CutHead());
  }
  return AppendResult::kAppended;
}

bool MemChunk::SpaceFor(size_t line_bytes) const {
  if (closed_)
    return false;
  if (options_.target_size == 0)
    return true;
  return compressed_bytes_ + head_bytes_ + line_bytes < options_.target_size;
}

absl::StatusOr<std::vector<EntryView>> MemChunk::SortedHeadViews(std::vector<LabelView>* labels,
                                                                 std::string* buf) const {
  ASSIGN_OR_RETURN(const std::string_view all, head_arena_.All(buf));
  labels->clear();
  labels->reserve(head_labels_.size());
  for (const HeadLabel& h : head_labels_) {
    labels->push_back(
        LabelView{all.substr(h.name_off, h.name_len), all.substr(h.value_off, h.value_len)});
  }
  std::vector<EntryView> views;
  views.reserve(head_.size());
  for (size_t i = 0; i < head_.size(); ++i) {
    const HeadEntry& e = head_[i];
    // An entry's metadata runs up to where the next entry's begins.
    const uint32_t meta_end =
        i + 1 < head_.size() ? head_[i + 1].meta_begin : static_cast<uint32_t>(head_labels_.size());
    views.push_back(EntryView{
        e.ts, all.substr(e.line_off, e.line_len),
        std::span<const LabelView>(labels->data() + e.meta_begin, meta_end - e.meta_begin)});
  }
  if (!head_sorted_) {
    std::stable_sort(views.begin(), views.end(), [](const EntryView& a, const EntryView& b) {
      return a.timestamp_ns < b.timestamp_ns;
    });
  }
  return views;
}

absl::Status MemChunk::CutHead() {
  if (head_.empty())
    return absl::OkStatus();
  std::vector<LabelView> labels;
  std::string buf;
  ASSIGN_OR_RETURN(std::vector<EntryView> views, SortedHeadViews(&labels, &buf));
  absl::StatusOr<std::shared_ptr<const Block>> block =
      BuildBlock(views, *codec_, options_.filter_ratio, next_offset_);
  if (!block.ok())
    return block.status();
  last_block_hashes_ = std::vector<uint64_t>();

  const BlockMeta& m = (*block)->meta();
  next_offset_ += m.compressed_size;
  compressed_bytes_ += m.compressed_size;
  raw_block_bytes_ += m.raw_size;
  blocks_.push_back(*std::move(block));
  // Release the head's memory: a quiet stream should not pin a block's worth of capacity.
  head_arena_.Clear();
  head_ = std::vector<HeadEntry>();
  head_labels_ = std::vector<HeadLabel>();
  head_bytes_ = 0;
  head_sorted_ = true;
  return absl::OkStatus();
}

absl::Status MemChunk::Close() {
  if (closed_)
    return absl::OkStatus();
  RETURN_IF_ERROR(CutHead());
  closed_ = true;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// MemChunk: stats

std::pair<int64_t, int64_t> MemChunk::Bounds() const {
  bool any = false;
  int64_t lo = 0, hi = 0;
  auto add = [&](int64_t a, int64_t b) {
    lo = any ? std::min(lo, a) : a;
    hi = any ? std::max(hi, b) : b;
    any = true;
  };
  for (const auto& b : blocks_)
    add(b->meta().min_ts, b->meta().max_ts);
  if (!head_.empty())
    add(head_min_, head_max_);
  return {lo, hi};
}

ChunkStats MemChunk::Stats() const {
  ChunkStats s;
  s.entries = entries_;
  s.raw_bytes = raw_block_bytes_ + head_bytes_;
  s.line_bytes = line_bytes_;
  s.compressed_bytes = compressed_bytes_;
  for (const auto& b : blocks_)
    s.filter_bytes += b->filter().ByteSize();
  s.blocks = static_cast<uint32_t>(blocks_.size());
  std::tie(s.min_ts, s.max_ts) = Bounds();
  return s;
}

// ---------------------------------------------------------------------------------------------
// Encoding

absl::StatusOr<std::string> MemChunk::Encode() const {
  std::shared_ptr<const Block> head_block;
  if (!head_.empty()) {
    std::vector<LabelView> labels;
    std::string buf;
    ASSIGN_OR_RETURN(std::vector<EntryView> views, SortedHeadViews(&labels, &buf));
    ASSIGN_OR_RETURN(head_block, BuildBlock(views, *codec_, options_.filter_ratio, next_offset_));
  }
  std::vector<const Block*> all;
  all.reserve(blocks_.size() + 1);
  size_t total = kHeaderSize + kTrailerSize;
  for (const auto& b : blocks_)
    all.push_back(b.get());
  if (head_block != nullptr)
    all.push_back(head_block.get());
  // A chunk decoded from an older version keeps its blocks' layout when encoded again.
  const uint8_t version = all.empty() ? kFormatVersion : all.front()->meta().layout;
  for (const Block* b : all) {
    total += b->meta().compressed_size + b->filter().ByteSize() + 64;
    if (b->meta().layout != version)
      return absl::FailedPreconditionError("chunk mixes block layouts");
  }

  std::string out = HeaderBytes(version, options_.encoding);
  out.reserve(total);
  std::vector<uint64_t> offsets;
  offsets.reserve(all.size());
  for (const Block* b : all) {
    if (!b->has_data())
      return absl::FailedPreconditionError("block data not loaded");
    offsets.push_back(out.size());
    out.append(b->data());
  }
  const uint64_t index_offset = out.size();
  out.push_back(static_cast<char>(version));
  out.push_back(static_cast<char>(options_.encoding));
  PutVarint(&out, all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const BlockMeta& m = all[i]->meta();
    PutVarint(&out, internal::ZigZag(m.min_ts));
    PutVarint(&out, static_cast<uint64_t>(m.max_ts) - static_cast<uint64_t>(m.min_ts));
    PutVarint(&out, m.entries);
    PutVarint(&out, m.raw_size);
    PutVarint(&out, offsets[i]);
    PutVarint(&out, m.compressed_size);
    if (version >= kBlockLayoutV2) {
      PutVarint(&out, m.column_raw_size);
      PutVarint(&out, m.column_compressed_size);
    }
    PutFixed64(&out, m.checksum);
    if (version >= kBlockLayoutV3)
      PutFixed64(&out, m.column_checksum);
    all[i]->filter().EncodeTo(&out);
  }
  PutFixed64(&out, Checksum64(std::string_view(out).substr(index_offset)));
  const uint64_t index_length = out.size() - index_offset;
  PutFixed64(&out, index_offset);
  PutFixed32(&out, static_cast<uint32_t>(index_length));
  out.append(kMagic, 4);
  return out;
}

absl::StatusOr<IndexLocation> ParseTrailer(std::string_view trailer, uint64_t object_size) {
  if (object_size < kHeaderSize + kTrailerSize || trailer.size() != kTrailerSize) {
    return Corrupt("too short");
  }
  if (trailer.substr(12, 4) != std::string_view(kMagic, 4))
    return Corrupt("bad trailer magic");
  IndexLocation loc;
  loc.offset = internal::DecodeFixed64(trailer.data());
  loc.length = internal::DecodeFixed32(trailer.data() + 8);
  if (loc.offset < kHeaderSize || loc.length < 2 + 1 + 8 ||
      loc.offset > object_size - kTrailerSize ||
      loc.length != object_size - kTrailerSize - loc.offset) {
    return Corrupt("bad index location");
  }
  return loc;
}

absl::StatusOr<ChunkIndex> ParseIndex(std::string_view index, const IndexLocation& location,
                                      std::shared_ptr<const void> owner) {
  if (index.size() != location.length || index.size() < 11)
    return Corrupt("bad index size");
  const std::string_view body = index.substr(0, index.size() - 8);
  if (Checksum64(body) != internal::DecodeFixed64(index.data() + body.size())) {
    return Corrupt("index checksum mismatch");
  }
  std::string_view in = body;
  uint8_t version = 0, encoding = 0;
  if (!internal::GetByte(&in, &version) || !internal::GetByte(&in, &encoding)) {
    return Corrupt("index header");
  }
  if (version != kBlockLayoutV1 && version != kBlockLayoutV2 && version != kBlockLayoutV3) {
    return absl::DataLossError(absl::StrCat("unsupported chunk format version ", version));
  }
  if (GetCodec(static_cast<Encoding>(encoding)) == nullptr) {
    return absl::DataLossError(absl::StrCat("unknown chunk encoding ", encoding));
  }
  ChunkIndex out;
  out.version = version;
  out.encoding = static_cast<Encoding>(encoding);
  uint64_t count = 0;
  if (!GetVarint(&in, &count) || count > in.size())
    return Corrupt("block count");
  out.blocks.reserve(count);
  uint64_t prev_end = kHeaderSize;
  for (uint64_t i = 0; i < count; ++i) {
    BlockMeta m;
    m.layout = version;
    uint64_t zmin = 0, span = 0, entries = 0, raw = 0, offset = 0, size = 0;
    uint64_t column_raw = 0, column_size = 0;
    if (!GetVarint(&in, &zmin) || !GetVarint(&in, &span) || !GetVarint(&in, &entries) ||
        !GetVarint(&in, &raw) || !GetVarint(&in, &offset) || !GetVarint(&in, &size) ||
        (version >= kBlockLayoutV2 &&
         (!GetVarint(&in, &column_raw) || !GetVarint(&in, &column_size))) ||
        !internal::GetFixed64(&in, &m.checksum) ||
        (version >= kBlockLayoutV3 && !internal::GetFixed64(&in, &m.column_checksum))) {
      return Corrupt("block meta");
    }
    if (version >= kBlockLayoutV2 && (column_raw == 0 || column_raw > raw || column_size == 0 ||
                                      column_size > size)) {
      return Corrupt("block column sizes");
    }
    m.column_raw_size = static_cast<uint32_t>(column_raw);
    m.column_compressed_size = static_cast<uint32_t>(column_size);
    m.min_ts = internal::UnZigZag(zmin);
    if (span > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) -
                   static_cast<uint64_t>(m.min_ts)) {
      return Corrupt("block time range");
    }
    m.max_ts = static_cast<int64_t>(static_cast<uint64_t>(m.min_ts) + span);
    if (entries == 0 || entries > raw || raw > kMaxRawBlockSize || size > location.offset) {
      return Corrupt("block meta out of range");
    }
    // Blocks are laid out back to back after the header, in index order.
    if (offset != prev_end || offset + size > location.offset)
      return Corrupt("block offset");
    prev_end = offset + size;
    m.entries = static_cast<uint32_t>(entries);
    m.raw_size = static_cast<uint32_t>(raw);
    m.offset = offset;
    m.compressed_size = static_cast<uint32_t>(size);
    TokenFilter filter;
    if (!filter.DecodeFrom(&in, owner))
      return Corrupt("token filter");
    out.blocks.push_back(std::make_shared<const Block>(m, std::move(filter), nullptr, 0));
  }
  if (!in.empty())
    return Corrupt("trailing index bytes");
  if (prev_end != location.offset)
    return Corrupt("gap before index");
  return out;
}

absl::StatusOr<std::unique_ptr<MemChunk>> MemChunk::Decode(std::string_view data) {
  return DecodeOwned(std::string(data));
}

absl::StatusOr<std::unique_ptr<MemChunk>> MemChunk::DecodeOwned(std::string data,
                                                                bool verify_blocks) {
  auto buf = std::make_shared<const std::string>(std::move(data));
  return DecodeShared(buf, *buf, verify_blocks);
}

absl::StatusOr<std::unique_ptr<MemChunk>> MemChunk::DecodeShared(std::shared_ptr<const void> owner,
                                                                 std::string_view all,
                                                                 bool verify_blocks) {
  if (all.size() < kHeaderSize + kTrailerSize)
    return Corrupt("too short");
  if (all.substr(0, 4) != std::string_view(kMagic, 4)) {
    return Corrupt("bad magic");
  }
  ASSIGN_OR_RETURN(IndexLocation loc,
                   ParseTrailer(all.substr(all.size() - kTrailerSize), all.size()));
  ASSIGN_OR_RETURN(ChunkIndex index, ParseIndex(all.substr(loc.offset, loc.length), loc, owner));
  if (static_cast<uint8_t>(all[4]) != index.version ||
      static_cast<uint8_t>(all[5]) != static_cast<uint8_t>(index.encoding) || all[6] != 0 ||
      all[7] != 0) {
    return Corrupt("header disagrees with index");
  }
  std::vector<std::shared_ptr<const Block>> blocks;
  blocks.reserve(index.blocks.size());
  for (const auto& b : index.blocks) {
    auto with = b->WithData(owner, all, b->meta().offset);
    if (verify_blocks && Checksum64(with->data()) != b->meta().checksum) {
      return Corrupt(absl::StrCat("block ", blocks.size(), " checksum mismatch"));
    }
    blocks.push_back(std::move(with));
  }
  return FromBlocks(index.encoding, std::move(blocks));
}

std::unique_ptr<MemChunk> MemChunk::FromBlocks(Encoding encoding,
                                               std::vector<std::shared_ptr<const Block>> blocks) {
  ChunkOptions opts;
  opts.encoding = encoding;
  auto c = std::make_unique<MemChunk>(opts);
  c->closed_ = true;
  for (const auto& b : blocks) {
    c->compressed_bytes_ += b->meta().compressed_size;
    c->raw_block_bytes_ += b->meta().raw_size;
    c->entries_ += b->meta().entries;
    c->next_offset_ =
        std::max<uint64_t>(c->next_offset_, b->meta().offset + b->meta().compressed_size);
  }
  c->blocks_ = std::move(blocks);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Iteration

struct ChunkIterator::Source {
  std::shared_ptr<const Block> block;  // null for the head snapshot
  uint32_t seq = 0;                    // chunk order; breaks timestamp ties
  int64_t min_ts = 0, max_ts = 0;
  std::unique_ptr<DecodedBlock> decoded;
  size_t pos = 0;  // forward: next entry; backward: one past the next entry
  size_t end = 0;  // forward: stop index; backward: lowest index
  std::vector<uint8_t> keep;  // with a line prefilter: per entry, 0 = ruled out
};

ChunkIterator::ChunkIterator(Encoding encoding, IteratorOptions options)
    : codec_(GetCodec(encoding)), options_(std::move(options)) {}

namespace {

SpareReserve<DecodedBlock>& Shared() {
  static auto* const shared = new SpareReserve<DecodedBlock>(  // never destroyed: used at exit
      DecodedBlockPool::kMaxShared, DecodedBlockPool::kMaxSharedBytes);
  return *shared;
}

}  // namespace

std::unique_ptr<DecodedBlock> DecodedBlockPool::Take() {
  if (free_.empty())
    return Shared().Take();
  std::unique_ptr<DecodedBlock> b = std::move(free_.back());
  free_.pop_back();
  return b;
}

DecodedBlockPool::~DecodedBlockPool() {
  for (auto& b : free_)
    Shared().Give(std::move(b));
}

size_t DecodedBlockPool::SharedSize() {
  return Shared().size();
}

void DecodedBlockPool::Give(std::unique_ptr<DecodedBlock> block) {
  if (block != nullptr && free_.size() < kMaxKept)
    free_.push_back(std::move(block));
}

ChunkIterator::~ChunkIterator() {
  if (options_.pool == nullptr)
    return;
  for (auto& b : free_)
    options_.pool->Give(std::move(b));
  for (Source& s : sources_)
    options_.pool->Give(std::move(s.decoded));
}

namespace {

// The first index in [lo, hi) for which `holds` is false, where it holds for a prefix.
template <typename Pred>
size_t FirstFailing(size_t lo, size_t hi, Pred holds) {
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (holds(mid)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace

int64_t ChunkIterator::CurrentTs(const Source& s) const {
  return s.decoded->timestamp(options_.direction == Direction::kForward ? s.pos : s.pos - 1);
}

// Heap order as std::push_heap wants it: "a below b". The top is the smallest (ts, seq) when
// moving forward, the largest when moving backward, so backward is exactly forward reversed.
bool ChunkIterator::HeapLess(uint32_t a, uint32_t b) const {
  const int64_t ta = CurrentTs(sources_[a]), tb = CurrentTs(sources_[b]);
  const uint32_t sa = sources_[a].seq, sb = sources_[b].seq;
  if (options_.direction == Direction::kForward)
    return ta != tb ? ta > tb : sa > sb;
  return ta != tb ? ta < tb : sa < sb;
}

bool ChunkIterator::Open(Source& s) {
  if (s.decoded == nullptr) {
    if (!free_.empty()) {
      s.decoded = std::move(free_.back());
      free_.pop_back();
    } else if (options_.pool != nullptr) {
      s.decoded = options_.pool->Take();
    } else {
      s.decoded = std::make_unique<DecodedBlock>();
    }
    absl::Status st = s.decoded->Load(*s.block, *codec_, options_.lines);
    if (!st.ok()) {
      status_ = absl::Status(st.code(), absl::StrCat("block ", s.seq, ": ", st.message()));
      return false;
    }
    ++stats_.blocks_decoded;
    stats_.compressed_bytes += s.block->meta().compressed_size;
    const BlockMeta& m = s.block->meta();
    stats_.decompressed_bytes +=
        options_.lines || m.layout == kBlockLayoutV1 ? m.raw_size : m.column_raw_size;
  }
  const size_t lo = s.decoded->LowerBound(options_.from);
  const size_t hi = options_.through == std::numeric_limits<int64_t>::max()
                        ? s.decoded->size()
                        : s.decoded->LowerBound(options_.through);
  if (options_.direction == Direction::kForward) {
    s.pos = lo;
    s.end = hi;
  } else {
    s.pos = hi;
    s.end = lo;
  }
  if (lo >= hi)
    return false;
  if (options_.line_prefilter != nullptr && options_.lines) {
    s.keep.resize(s.decoded->size());
    options_.line_prefilter->Mark(*s.decoded, lo, hi, s.keep);
    return SkipRuledOut(s);
  }
  return true;  // s.keep stays empty: every entry is kept
}

bool ChunkIterator::SkipRuledOut(Source& s) {
  const bool forward = options_.direction == Direction::kForward;
  while (s.pos != s.end) {
    const size_t i = forward ? s.pos : s.pos - 1;
    if (s.keep[i])
      return true;
    ++stats_.prefiltered_entries;
    stats_.prefiltered_bytes += s.decoded->entry(i).line.size();
    s.pos = forward ? s.pos + 1 : s.pos - 1;
  }
  return false;
}

bool ChunkIterator::Next() {
  uint32_t idx;
  if (!PopTop(&idx))
    return false;
  Source& s = sources_[idx];
  if (options_.direction == Direction::kForward) {
    entry_ = s.decoded->entry(s.pos++);
  } else {
    entry_ = s.decoded->entry(--s.pos);
  }
  Requeue(idx);
  ++stats_.entries;
  return true;
}

bool ChunkIterator::NextRun(EntryRun* run) {
  uint32_t idx;
  if (!PopTop(&idx))
    return false;
  const bool forward = options_.direction == Direction::kForward;
  Source& s = sources_[idx];
  const DecodedBlock& d = *s.decoded;
  // The top entry is next whatever the other sources hold; the entries after it in this block
  // come before every entry of another source while their timestamps are strictly before the
  // other sources' next ones (ties go through the heap, which orders them by block).
  size_t n = 1;
  if (s.keep.empty()) {
    std::optional<int64_t> bound;
    if (!heap_.empty())
      bound = CurrentTs(sources_[heap_.front()]);
    if (next_source_ < sources_.size()) {
      const Source& p = sources_[next_source_];
      const int64_t b = forward ? p.min_ts : p.max_ts;
      bound = !bound ? b : forward ? std::min(*bound, b) : std::max(*bound, b);
    }
    if (forward) {
      size_t stop = s.end;
      if (bound && d.timestamp(stop - 1) >= *bound) {
        stop = FirstFailing(s.pos + 1, s.end, [&](size_t i) { return d.timestamp(i) < *bound; });
      }
      n = std::max<size_t>(1, stop - s.pos);
    } else {
      size_t start = s.end;  // lowest index of the run
      if (bound && d.timestamp(start) <= *bound) {
        start = FirstFailing(s.end, s.pos - 1, [&](size_t i) { return d.timestamp(i) <= *bound; });
      }
      n = std::max<size_t>(1, s.pos - start);
    }
  }
  if (forward) {
    *run = EntryRun{&d, s.pos, s.pos + n};
    s.pos += n;
  } else {
    *run = EntryRun{&d, s.pos - n, s.pos};
    s.pos -= n;
  }
  Requeue(idx);
  stats_.entries += n;
  return true;
}

void ChunkIterator::Requeue(uint32_t idx) {
  Source& s = sources_[idx];
  // Without a prefilter (every entry kept) no call per entry.
  if (s.keep.empty() ? s.pos == s.end : !SkipRuledOut(s)) {
    retired_ = static_cast<int>(idx);
  } else {
    heap_.push_back(idx);
    std::push_heap(heap_.begin(), heap_.end(),
                   [this](uint32_t a, uint32_t b) { return HeapLess(a, b); });
  }
}

bool ChunkIterator::PopTop(uint32_t* idx) {
  if (!status_.ok())
    return false;
  if (retired_ >= 0) {
    Source& r = sources_[retired_];
    if (r.decoded != nullptr)
      free_.push_back(std::move(r.decoded));
    retired_ = -1;
  }
  const bool forward = options_.direction == Direction::kForward;
  auto less = [this](uint32_t a, uint32_t b) { return HeapLess(a, b); };
  // Open every pending source that could hold an entry at or before the heap's top: sources are
  // sorted by their first possible timestamp in iteration order.
  while (next_source_ < sources_.size()) {
    Source& p = sources_[next_source_];
    if (!heap_.empty()) {
      const int64_t top = CurrentTs(sources_[heap_.front()]);
      if (forward ? p.min_ts > top : p.max_ts < top)
        break;
    }
    const uint32_t idx = static_cast<uint32_t>(next_source_++);
    if (!Open(p)) {
      if (!status_.ok())
        return false;
      if (p.decoded != nullptr)
        free_.push_back(std::move(p.decoded));
      continue;
    }
    heap_.push_back(idx);
    std::push_heap(heap_.begin(), heap_.end(), less);
  }
  if (heap_.empty())
    return false;
  std::pop_heap(heap_.begin(), heap_.end(), less);
  *idx = heap_.back();
  heap_.pop_back();
  return true;
}

std::unique_ptr<ChunkIterator> MemChunk::Iterator(int64_t from, int64_t through,
                                                  Direction direction) const {
  IteratorOptions o;
  o.from = from;
  o.through = through;
  o.direction = direction;
  return Iterator(std::move(o));
}

std::unique_ptr<ChunkIterator> MemChunk::Iterator(IteratorOptions options) const {
  std::unique_ptr<ChunkIterator> it(new ChunkIterator(options_.encoding, std::move(options)));
  const IteratorOptions& o = it->options_;
  if (o.from >= o.through)
    return it;
  uint32_t seq = 0;
  for (const auto& b : blocks_) {
    const uint32_t this_seq = seq++;
    ++it->stats_.blocks_considered;
    if (!b->Overlaps(o.from, o.through)) {
      ++it->stats_.blocks_skipped_by_time;
      continue;
    }
    bool may = true;
    for (const std::string& needle : o.required_substrings) {
      if (!b->MayContain(needle)) {
        may = false;
        break;
      }
    }
    if (!may) {
      ++it->stats_.blocks_skipped_by_filter;
      continue;
    }
    ChunkIterator::Source s;
    s.block = b;
    s.seq = this_seq;
    s.min_ts = b->meta().min_ts;
    s.max_ts = b->meta().max_ts;
    it->sources_.push_back(std::move(s));
  }
  if (!head_.empty() && head_max_ >= o.from && head_min_ < o.through) {
    std::vector<LabelView> labels;
    std::string buf;
    absl::StatusOr<std::vector<EntryView>> views = SortedHeadViews(&labels, &buf);
    auto decoded = std::make_unique<DecodedBlock>();
    if (views.ok()) {
      decoded->LoadCopy(*views, o.from, o.through);
    } else {
      it->status_ = views.status();  // Next() reports it
    }
    if (decoded->size() > 0) {
      ChunkIterator::Source s;
      s.seq = seq;
      s.min_ts = decoded->timestamp(0);
      s.max_ts = decoded->timestamp(decoded->size() - 1);
      s.decoded = std::move(decoded);
      it->sources_.push_back(std::move(s));
    }
  }
  auto& src = it->sources_;
  if (o.direction == Direction::kForward) {
    std::stable_sort(src.begin(), src.end(),
                     [](const ChunkIterator::Source& a, const ChunkIterator::Source& b) {
                       return a.min_ts != b.min_ts ? a.min_ts < b.min_ts : a.seq < b.seq;
                     });
  } else {
    std::stable_sort(src.begin(), src.end(),
                     [](const ChunkIterator::Source& a, const ChunkIterator::Source& b) {
                       return a.max_ts != b.max_ts ? a.max_ts > b.max_ts : a.seq > b.seq;
                     });
  }
  return it;
}

}  // namespace norn::chunk
