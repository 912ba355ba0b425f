#include "storage/chunk/memchunk.h"

#include <algorithm>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/entry.h"
#include "storage/chunk/testdata.h"

namespace norn::chunk {
namespace {
#include "storage/chunk/v1_chunk_testdata.inc"
#include "storage/chunk/v2_chunk_testdata.inc"
}  // namespace
}  // namespace norn::chunk

namespace norn {
// Readable failure output for entry comparisons.
void PrintTo(const Entry& e, std::ostream* os) {
  *os << "{" << e.timestamp_ns << ", \"" << e.line.substr(0, 60)
      << (e.line.size() > 60 ? "...\"" : "\"") << ", " << e.structured_metadata.size() << " md}";
}
}  // namespace norn

namespace norn::chunk {
namespace {

using ::norn::Entry;
using ::norn::Label;

constexpr Encoding kAll[] = {Encoding::kNone, Encoding::kGzip, Encoding::kLz4, Encoding::kSnappy,
                             Encoding::kZstd};
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

std::vector<Entry> Collect(ChunkIterator& it) {
  std::vector<Entry> out;
  while (it.Next()) {
    const EntryView& e = it.entry();
    Entry x;
    x.timestamp_ns = e.timestamp_ns;
    x.line = std::string(e.line);
    for (const LabelView& l : e.metadata) {
      x.structured_metadata.push_back(Label{std::string(l.name), std::string(l.value)});
    }
    out.push_back(std::move(x));
  }
  EXPECT_TRUE(it.status().ok()) << it.status();
  return out;
}

std::vector<Entry> Read(const MemChunk& c, int64_t from = kMin, int64_t through = kMax,
                        Direction d = Direction::kForward) {
  auto it = c.Iterator(from, through, d);
  return Collect(*it);
}

// Reference answer: entries in [from, through), stable-sorted by time (equal timestamps keep
// append order), reversed for backward.
std::vector<Entry> Expected(std::vector<Entry> all, int64_t from, int64_t through, Direction d) {
  std::erase_if(all,
                [&](const Entry& e) { return e.timestamp_ns < from || e.timestamp_ns >= through; });
  std::stable_sort(all.begin(), all.end(),
                   [](const Entry& a, const Entry& b) { return a.timestamp_ns < b.timestamp_ns; });
  if (d == Direction::kBackward)
    std::reverse(all.begin(), all.end());
  return all;
}

// Random entries: realistic lines, unicode, empty lines, 20 KB lines, metadata.
std::vector<Entry> RandomEntries(size_t n, uint64_t seed, bool in_order) {
  testdata::LogGenerator gen(seed);
  std::vector<Entry> out;
  int64_t ts = 1700000000000000000;
  std::set<std::pair<int64_t, std::string>> seen;  // the chunk would drop exact duplicates
  for (size_t i = 0; i < n; ++i) {
    Entry e;
    ts += gen.Uniform(0, 3) == 0 ? 0 : gen.Uniform(1, 1000000);
    e.timestamp_ns = in_order ? ts : ts - gen.Uniform(0, 1000000000);
    switch (gen.Uniform(0, 9)) {
      case 0:
        e.line = "";
        break;
      case 1:
        e.line = "héllo wörld ✓ 日本語のログ 🚀 " + gen.Hex(8);
        break;
      case 2:
        e.line = std::string(20 * 1024, 'a' + gen.Uniform(0, 25)) + gen.Hex(4);
        break;
      case 3: {
        e.line.resize(gen.Uniform(1, 300));
        for (char& c : e.line)
          c = static_cast<char>(gen.rng()());  // binary, NULs included
        break;
      }
      default:
        e.line = gen.Line(3, e.timestamp_ns);
    }
    while (!seen.emplace(e.timestamp_ns, e.line).second)
      ++e.timestamp_ns;
    const int nmeta = gen.Uniform(0, 3) == 0 ? gen.Uniform(1, 3) : 0;
    for (int m = 0; m < nmeta; ++m) {
      e.structured_metadata.push_back(
          Label{m == 0 ? "trace_id" : absl::StrCat("k", m),
                gen.Uniform(0, 1) ? gen.Hex(gen.Uniform(0, 32)) : std::string("same")});
    }
    out.push_back(std::move(e));
  }
  return out;
}

void AppendAll(MemChunk& c, const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    auto r = c.Append(e.timestamp_ns, e.line, e.structured_metadata);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(*r, AppendResult::kAppended);
  }
}

// `c` as a flushed chunk read back: encoded, then decoded.
absl::StatusOr<std::unique_ptr<MemChunk>> EncodeAndDecode(const MemChunk& c) {
  absl::StatusOr<std::string> encoded = c.Encode();
  if (!encoded.ok()) return encoded.status();
  return MemChunk::Decode(*encoded);
}

ChunkOptions SmallBlocks(Encoding e) {
  ChunkOptions o;
  o.encoding = e;
  o.block_size = 16 * 1024;
  return o;
}

TEST(MemChunkTest, RoundTripsEveryCodec) {
  for (Encoding enc : kAll) {
    SCOPED_TRACE(EncodingName(enc));
    const std::vector<Entry> entries = RandomEntries(1500, 11, true);
    MemChunk c(SmallBlocks(enc));
    AppendAll(c, entries);
    EXPECT_GT(c.blocks().size(), 10u);
    EXPECT_GT(c.head_entries(), 0u);
    EXPECT_EQ(c.Size(), entries.size());
    // In memory (blocks + head), both directions.
    EXPECT_EQ(Read(c), Expected(entries, kMin, kMax, Direction::kForward));
    EXPECT_EQ(Read(c, kMin, kMax, Direction::kBackward),
              Expected(entries, kMin, kMax, Direction::kBackward));
    // Encoded with the head still open, then decoded.
    auto enc1 = c.Encode();
    ASSERT_TRUE(enc1.ok()) << enc1.status();
    auto d = MemChunk::Decode(*enc1);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ((*d)->encoding(), enc);
    EXPECT_TRUE((*d)->closed());
    EXPECT_EQ((*d)->Size(), entries.size());
    EXPECT_EQ(Read(**d), Expected(entries, kMin, kMax, Direction::kForward));
    EXPECT_EQ(Read(**d, kMin, kMax, Direction::kBackward),
              Expected(entries, kMin, kMax, Direction::kBackward));
    // Closing cuts the head; the encoding is the same bytes.
    ASSERT_TRUE(c.Close().ok());
    EXPECT_EQ(c.head_entries(), 0u);
    auto enc2 = c.Encode();
    ASSERT_TRUE(enc2.ok());
    EXPECT_EQ(*enc1, *enc2);
    // Re-encoding a decoded chunk reproduces it.
    auto enc3 = (*d)->Encode();
    ASSERT_TRUE(enc3.ok());
    EXPECT_EQ(*enc1, *enc3);
  }
}

// An entry as a lineless read must show it: exact timestamp, line length and metadata; the
// line's bytes are zeros.
std::vector<Entry> Lineless(std::vector<Entry> entries) {
  for (Entry& e : entries)
    e.line = std::string(e.line.size(), '\0');
  return entries;
}

std::vector<Entry> ReadLineless(const MemChunk& c, Direction d, uint64_t* decompressed = nullptr) {
  IteratorOptions o;
  o.direction = d;
  o.lines = false;
  auto it = c.Iterator(o);
  std::vector<Entry> out = Collect(*it);
  if (decompressed != nullptr)
    *decompressed = it->stats().decompressed_bytes;
  return out;
}

TEST(MemChunkTest, LinelessReadsSkipTheLineFrame) {
  for (Encoding enc : kAll) {
    SCOPED_TRACE(EncodingName(enc));
    const std::vector<Entry> entries = RandomEntries(1500, 12, true);
    MemChunk c(SmallBlocks(enc));
    AppendAll(c, entries);
    ASSERT_TRUE(c.Close().ok());
    auto d = EncodeAndDecode(c);
    ASSERT_TRUE(d.ok()) << d.status();
    for (Direction dir : {Direction::kForward, Direction::kBackward}) {
      uint64_t lineless_bytes = 0;
      EXPECT_EQ(ReadLineless(**d, dir, &lineless_bytes),
                Lineless(Expected(entries, kMin, kMax, dir)));
      auto full = (*d)->Iterator(kMin, kMax, dir);
      Collect(*full);
      // Only the entry columns were decompressed: a small fraction of the lines.
      EXPECT_LT(lineless_bytes * 10, full->stats().decompressed_bytes);
    }
  }
}

TEST(MemChunkTest, ZeroBytesAreZero) {
  std::string_view z = ZeroBytes(1 << 20);
  ASSERT_EQ(z.size(), 1u << 20);
  EXPECT_EQ(std::count(z.begin(), z.end(), '\0'), 1 << 20);
  EXPECT_EQ(ZeroBytes(0).size(), 0u);
}

// The chunk in v1_chunk_testdata.inc was written by the format-1 encoder from these entries.
std::vector<Entry> V1ChunkEntries() {
  testdata::LogGenerator g(7);
  std::vector<Entry> out;
  for (int i = 0; i < 40; ++i) {
    Entry e;
    e.timestamp_ns = 1700000000000000000LL + i * 1000000000LL + (i % 3 == 0 ? 0 : 5);
    if (i % 4 == 1)
      e.structured_metadata.push_back(Label{"trace_id", g.Hex(8)});
    if (i % 5 == 2) {
      e.structured_metadata.push_back(Label{"user", "alice"});
      e.structured_metadata.push_back(Label{"detected_level", "info"});
    }
    e.line = (i % 2) ? g.Json(e.timestamp_ns) : g.Nginx(e.timestamp_ns);
    if (i == 7)
      e.line = "";
    out.push_back(std::move(e));
  }
  return out;
}

TEST(MemChunkTest, ReadsFormatVersion1) {
  const std::string v1(reinterpret_cast<const char*>(kV1Chunk), sizeof(kV1Chunk));
  ASSERT_EQ(v1[4], 1);
  auto d = MemChunk::Decode(v1);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->blocks().size(), 8u);  // 7 cut blocks and the head
  const std::vector<Entry> want = V1ChunkEntries();
  EXPECT_EQ(Read(**d), want);
  EXPECT_EQ(Read(**d, kMin, kMax, Direction::kBackward),
            Expected(want, kMin, kMax, Direction::kBackward));
  // v1 blocks have no separate line frame: a lineless read gets the real lines.
  EXPECT_EQ(ReadLineless(**d, Direction::kForward), want);
  // Ranged reads work on v1 too.
  auto loc = ParseTrailer(std::string_view(v1).substr(v1.size() - kTrailerSize), v1.size());
  ASSERT_TRUE(loc.ok());
  auto index = ParseIndex(std::string_view(v1).substr(loc->offset, loc->length), *loc);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->version, 1);
  // Re-encoding keeps version 1, byte for byte.
  auto again = (*d)->Encode();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, v1);
}

TEST(MemChunkTest, ReadsFormatVersion2) {
  const std::string v2(reinterpret_cast<const char*>(kV2Chunk), sizeof(kV2Chunk));
  ASSERT_EQ(v2[4], 2);
  auto d = MemChunk::Decode(v2);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->blocks().size(), 8u);  // 7 cut blocks and the head
  const std::vector<Entry> want = V1ChunkEntries();
  EXPECT_EQ(Read(**d), want);
  EXPECT_EQ(ReadLineless(**d, Direction::kBackward),
            Lineless(Expected(want, kMin, kMax, Direction::kBackward)));
  // Without a column checksum, a lineless read of a v2 block verifies the whole block.
  std::string bad = v2;
  const BlockMeta& m = (*d)->blocks()[2]->meta();
  bad[m.offset + m.compressed_size - 1] ^= 0x40;  // in the lines frame
  auto buf = std::make_shared<const std::string>(bad);
  std::vector<std::shared_ptr<const Block>> blocks;
  for (const auto& b : (*d)->blocks())
    blocks.push_back(b->WithData(buf, b->meta().offset));
  auto damaged = MemChunk::FromBlocks(Encoding::kZstd, std::move(blocks));
  IteratorOptions o;
  o.lines = false;
  auto it = damaged->Iterator(o);
  while (it->Next()) {
  }
  EXPECT_EQ(it->status().code(), absl::StatusCode::kDataLoss);
  // Re-encoding keeps version 2, byte for byte.
  auto again = (*d)->Encode();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, v2);
}

TEST(MemChunkTest, WritesFormatVersion3) {
  MemChunk c(SmallBlocks(Encoding::kZstd));
  AppendAll(c, RandomEntries(200, 3, true));
  auto e = c.Encode();
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)[4], 3);
  for (const auto& b : c.blocks()) {
    EXPECT_EQ(b->meta().layout, kBlockLayoutV3);
    EXPECT_GT(b->meta().column_compressed_size, 0u);
    EXPECT_LT(b->meta().column_compressed_size, b->meta().compressed_size);
    EXPECT_EQ(b->meta().column_checksum,
              Checksum64(b->data().substr(0, b->meta().column_compressed_size)));
  }
  auto d = MemChunk::Decode(*e);
  ASSERT_TRUE(d.ok()) << d.status();
  for (size_t i = 0; i < c.blocks().size(); ++i)
    EXPECT_EQ((*d)->blocks()[i]->meta(), c.blocks()[i]->meta());
}

// Damage in a v3 block's lines frame fails the reads that decompress lines; reads without
// lines verify the entry column only, and fail when that is damaged.
TEST(MemChunkTest, LinelessReadsVerifyTheEntryColumnOnly) {
  MemChunk c(SmallBlocks(Encoding::kZstd));
  const std::vector<Entry> entries = RandomEntries(600, 23, true);
  AppendAll(c, entries);
  const std::string obj = *c.Encode();
  auto loc = ParseTrailer(std::string_view(obj).substr(obj.size() - kTrailerSize), obj.size());
  auto index = ParseIndex(std::string_view(obj).substr(loc->offset, loc->length), *loc);
  ASSERT_TRUE(index.ok()) << index.status();
  const BlockMeta& m = index->blocks[1]->meta();
  auto read = [&](size_t damaged_at, bool lines) {
    std::string bad = obj;
    bad[damaged_at] ^= 0x40;
    auto buf = std::make_shared<const std::string>(bad);
    std::vector<std::shared_ptr<const Block>> blocks;
    for (const auto& b : index->blocks)
      blocks.push_back(b->WithData(buf, b->meta().offset));
    auto chunk = MemChunk::FromBlocks(index->encoding, std::move(blocks));
    IteratorOptions o;
    o.lines = lines;
    auto it = chunk->Iterator(o);
    std::vector<Entry> out;
    while (it->Next())
      out.push_back(Entry{it->entry().timestamp_ns, std::string(it->entry().line), {}});
    return std::pair{it->status().code(), out.size()};
  };
  const size_t in_lines = m.offset + m.compressed_size - 1;
  const size_t in_column = m.offset + m.column_compressed_size / 2;
  EXPECT_EQ(read(in_lines, true).first, absl::StatusCode::kDataLoss);
  EXPECT_EQ(read(in_lines, false), std::pair(absl::StatusCode::kOk, entries.size()));
  EXPECT_EQ(read(in_column, true).first, absl::StatusCode::kDataLoss);
  EXPECT_EQ(read(in_column, false).first, absl::StatusCode::kDataLoss);
  // A whole-chunk decode still checks every block in full.
  std::string bad = obj;
  bad[in_lines] ^= 0x40;
  EXPECT_EQ(MemChunk::Decode(bad).status().code(), absl::StatusCode::kDataLoss);
}

// In-order entries without metadata: the head's lines are contiguous and compressed straight
// from it; out-of-order ones are gathered first. Both must read back exactly.
TEST(MemChunkTest, LinesFromContiguousAndScatteredHeads) {
  for (bool in_order : {true, false}) {
    SCOPED_TRACE(in_order);
    std::vector<Entry> entries = RandomEntries(800, 21, in_order);
    for (Entry& e : entries) e.structured_metadata.clear();
    MemChunk c(SmallBlocks(Encoding::kZstd));
    AppendAll(c, entries);
    ASSERT_TRUE(c.Close().ok());
    auto d = EncodeAndDecode(c);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(Read(**d), Expected(entries, kMin, kMax, Direction::kForward));
  }
}

// A head that stays uncut for a whole chunk: its lines and metadata span many arena
// segments, some lines larger than any segment, and read back intact from memory and after
// encoding.
TEST(MemChunkTest, LargeHeadAcrossArenaSegments) {
  std::vector<Entry> entries = RandomEntries(3000, 33, false);
  for (size_t i = 0; i < entries.size(); i += 700)
    entries[i].line = std::string(100 * 1024 + i, static_cast<char>('A' + i % 26));
  ChunkOptions o;
  o.encoding = Encoding::kLz4;
  o.block_size = 64 << 20;
  MemChunk c(o);
  AppendAll(c, entries);
  ASSERT_EQ(c.head_entries(), entries.size());
  EXPECT_EQ(Read(c), Expected(entries, kMin, kMax, Direction::kForward));
  EXPECT_EQ(Read(c, kMin, kMax, Direction::kBackward),
            Expected(entries, kMin, kMax, Direction::kBackward));
  ASSERT_TRUE(c.Close().ok());
  auto d = EncodeAndDecode(c);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Read(**d), Expected(entries, kMin, kMax, Direction::kForward));
}

// Compacting the head (compressing it in memory) changes neither what reads return nor a single
// byte of the encoded chunk, and duplicates of compacted entries are still recognised.
TEST(MemChunkTest, CompactedHeadReadsAndEncodesAsBefore) {
  for (bool in_order : {true, false}) {
    SCOPED_TRACE(in_order);
    std::vector<Entry> entries = RandomEntries(2500, 44, in_order);
    ChunkOptions o;
    o.encoding = Encoding::kSnappy;
    o.block_size = 256 * 1024;
    MemChunk plain(o), compacted(o);
    size_t compactions = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      ASSERT_EQ(*plain.Append(e.timestamp_ns, e.line, e.structured_metadata),
                AppendResult::kAppended);
      ASSERT_EQ(*compacted.Append(e.timestamp_ns, e.line, e.structured_metadata),
                AppendResult::kAppended);
      if (i % 97 == 0) {
        // An entry appended again after compaction is a duplicate, whichever frame holds it.
        const Entry& old = entries[i / 2];
        if (compacted.head_entries() > 0 && i / 2 + compacted.head_entries() > i) {
          EXPECT_EQ(*compacted.Append(old.timestamp_ns, old.line, old.structured_metadata),
                    AppendResult::kDuplicate);
          EXPECT_EQ(*plain.Append(old.timestamp_ns, old.line, old.structured_metadata),
                    AppendResult::kDuplicate);
        }
      }
      if (i % 37 == 36 && compacted.HeadUncompactedBytes() > 0) {
        ASSERT_TRUE(compacted.CompactHead().ok());
        EXPECT_EQ(compacted.HeadUncompactedBytes(), 0u);
        ++compactions;
      }
      if (i % 500 == 250) {
        EXPECT_EQ(Read(compacted), Read(plain));
        EXPECT_EQ(Read(compacted, kMin, kMax, Direction::kBackward),
                  Read(plain, kMin, kMax, Direction::kBackward));
      }
    }
    EXPECT_GT(compactions, 30u);
    // Entries in compacted frames and in the segments after them are recognised again.
    ASSERT_TRUE(compacted.CompactHead().ok());
    ASSERT_TRUE(
        compacted.Append(entries.back().timestamp_ns + 1, "after the last compaction", {}).ok());
    ASSERT_TRUE(
        plain.Append(entries.back().timestamp_ns + 1, "after the last compaction", {}).ok());
    const size_t in_head = compacted.head_entries() - 1;
    ASSERT_GT(in_head, 10u);
    for (size_t k = entries.size() - in_head; k < entries.size(); k += 3) {
      const Entry& e = entries[k];
      EXPECT_EQ(*compacted.Append(e.timestamp_ns, e.line, e.structured_metadata),
                AppendResult::kDuplicate);
    }
    EXPECT_EQ(*compacted.Append(entries.back().timestamp_ns + 1, "after the last compaction", {}),
              AppendResult::kDuplicate);
    EXPECT_EQ(compacted.HeadBytes(), plain.HeadBytes());
    auto a = plain.Encode();
    auto b = compacted.Encode();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(*a == *b) << "compaction changed the encoded chunk";
    ASSERT_TRUE(compacted.Close().ok());
    ASSERT_TRUE(plain.Close().ok());
    EXPECT_TRUE(*compacted.Encode() == *plain.Encode());
    entries.push_back(Entry{entries.back().timestamp_ns + 1, "after the last compaction", {}});
    EXPECT_EQ(Read(compacted), Expected(entries, kMin, kMax, Direction::kForward));
  }
}

// Compaction is what makes a head of many small log lines cheap to hold.
TEST(MemChunkTest, CompactingAHeadOfLogLinesSavesMemory) {
  testdata::LogGenerator gen(5);
  ChunkOptions o;
  o.block_size = 1 << 20;
  MemChunk c(o);
  int64_t ts = 1700000000000000000;
  while (c.HeadBytes() < 64 * 1024) {
    std::string line = gen.Line(3, ts);
    ASSERT_TRUE(c.Append(ts++, line, {}).ok());
  }
  const size_t before = c.HeadMemoryBytes();
  EXPECT_GE(before, c.HeadBytes());
  ASSERT_TRUE(c.CompactHead().ok());
  EXPECT_LT(c.HeadMemoryBytes() * 2, before) << c.HeadMemoryBytes() << " vs " << before;
  EXPECT_EQ(c.HeadUncompactedBytes(), 0u);
  ASSERT_TRUE(c.CompactHead().ok());  // nothing new: no-op
  ASSERT_TRUE(c.CutHead().ok());
  EXPECT_EQ(c.HeadMemoryBytes(), 0u);
}

TEST(MemChunkTest, EmptyChunk) {
  MemChunk c;
  EXPECT_TRUE(Read(c).empty());
  EXPECT_EQ(c.Bounds(), std::make_pair(int64_t{0}, int64_t{0}));
  auto enc = c.Encode();
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(enc->size(), kHeaderSize + 2 + 1 + 8 + kTrailerSize);
  auto d = MemChunk::Decode(*enc);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(Read(**d).empty());
  EXPECT_EQ((*d)->Stats().entries, 0u);
}

TEST(MemChunkTest, OutOfOrderAppendsIterateSorted) {
  for (Encoding enc : {Encoding::kSnappy, Encoding::kZstd}) {
    const std::vector<Entry> entries = RandomEntries(3000, 12, false);
    MemChunk c(SmallBlocks(enc));
    AppendAll(c, entries);
    // Blocks overlap in time, yet each block is sorted and iteration merges them.
    int overlaps = 0;
    for (size_t i = 1; i < c.blocks().size(); ++i) {
      overlaps += c.blocks()[i]->meta().min_ts <= c.blocks()[i - 1]->meta().max_ts;
    }
    EXPECT_GT(overlaps, 0);
    EXPECT_EQ(Read(c), Expected(entries, kMin, kMax, Direction::kForward));
    EXPECT_EQ(Read(c, kMin, kMax, Direction::kBackward),
              Expected(entries, kMin, kMax, Direction::kBackward));
    auto d = MemChunk::Decode(*c.Encode());
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(Read(**d), Expected(entries, kMin, kMax, Direction::kForward));
  }
}

// What NextRun() yields, entry by entry in run order, and how many runs it took.
std::vector<Entry> CollectRuns(ChunkIterator& it, Direction d, size_t* runs) {
  std::vector<Entry> out;
  *runs = 0;
  EntryRun run;
  while (it.NextRun(&run)) {
    ++*runs;
    EXPECT_LT(run.begin, run.end);
    for (size_t k = 0; k < run.end - run.begin; ++k) {
      const EntryView e =
          run.block->entry(d == Direction::kForward ? run.begin + k : run.end - 1 - k);
      Entry x;
      x.timestamp_ns = e.timestamp_ns;
      x.line = std::string(e.line);
      for (const LabelView& l : e.metadata)
        x.structured_metadata.push_back(Label{std::string(l.name), std::string(l.value)});
      out.push_back(std::move(x));
    }
  }
  EXPECT_TRUE(it.status().ok()) << it.status();
  return out;
}

TEST(MemChunkTest, RunsYieldWhatNextYields) {
  // Out-of-order appends make blocks overlap in time, and many entries share a timestamp
  // (also across blocks): a run must stop where another block's entry comes first.
  const std::vector<Entry> entries = RandomEntries(3000, 13, false);
  MemChunk c(SmallBlocks(Encoding::kSnappy));
  AppendAll(c, entries);
  auto decoded = EncodeAndDecode(c);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const int64_t t0 = entries.front().timestamp_ns;
  for (const MemChunk* chunk : {&c, decoded->get()}) {
    for (Direction d : {Direction::kForward, Direction::kBackward}) {
      for (auto [from, through] :
           {std::pair{kMin, kMax}, std::pair{t0 + 200000000, t0 + 900000000}}) {
        auto it = chunk->Iterator(from, through, d);
        size_t runs = 0;
        EXPECT_EQ(CollectRuns(*it, d, &runs), Read(*chunk, from, through, d));
        EXPECT_EQ(it->stats().entries, Read(*chunk, from, through, d).size());
        EXPECT_GT(runs, 0u);
      }
    }
  }
  // Few distinct timestamps, appended out of order: blocks overlap and tie at every
  // timestamp, where the earlier block's entries come first.
  std::vector<Entry> ties;
  testdata::LogGenerator gen(15);
  for (int i = 0; i < 4000; ++i) {
    Entry e;
    e.timestamp_ns = t0 + gen.Uniform(0, 60) * 1000;
    e.line = absl::StrCat("line ", i, " ", std::string(gen.Uniform(0, 200), 'x'));
    ties.push_back(std::move(e));
  }
  MemChunk tied(SmallBlocks(Encoding::kSnappy));
  AppendAll(tied, ties);
  ASSERT_GT(tied.blocks().size(), 10u);
  for (Direction d : {Direction::kForward, Direction::kBackward}) {
    auto it = tied.Iterator(kMin, kMax, d);
    size_t runs = 0;
    EXPECT_EQ(CollectRuns(*it, d, &runs), Expected(ties, kMin, kMax, d));
  }
  // In order and without shared timestamps, a block's entries are one run (the head, read as
  // a sorted copy, too).
  std::vector<Entry> sorted = RandomEntries(3000, 14, true);
  for (size_t i = 0; i < sorted.size(); ++i)
    sorted[i].timestamp_ns = t0 + static_cast<int64_t>(i) * 1000;
  MemChunk in_order(SmallBlocks(Encoding::kSnappy));
  AppendAll(in_order, sorted);
  for (Direction d : {Direction::kForward, Direction::kBackward}) {
    auto it = in_order.Iterator(kMin, kMax, d);
    size_t runs = 0;
    EXPECT_EQ(CollectRuns(*it, d, &runs), Expected(sorted, kMin, kMax, d));
    EXPECT_EQ(runs, in_order.blocks().size() + (in_order.head_entries() > 0 ? 1 : 0));
  }
}

TEST(MemChunkTest, ExtremeTimestamps) {
  MemChunk c;
  std::vector<Entry> entries = {
      {kMin, "min", {}}, {-5, "neg", {}}, {0, "zero", {}}, {kMax - 1, "max", {}}, {-5, "neg2", {}}};
  AppendAll(c, entries);
  ASSERT_TRUE(c.Close().ok());
  auto d = MemChunk::Decode(*c.Encode());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Read(**d), Expected(entries, kMin, kMax, Direction::kForward));
  EXPECT_EQ((*d)->Bounds(), std::make_pair(kMin, kMax - 1));
}

TEST(MemChunkTest, Duplicates) {
  ChunkOptions o;
  o.block_size = 1024;
  MemChunk c(o);
  std::vector<Label> md = {{"trace_id", "abc"}};
  EXPECT_EQ(*c.Append(10, "a", md), AppendResult::kAppended);
  EXPECT_EQ(*c.Append(10, "a"), AppendResult::kDuplicate);  // metadata is not compared
  EXPECT_EQ(*c.Append(10, "b"), AppendResult::kAppended);   // same time, other line
  EXPECT_EQ(*c.Append(11, "a"), AppendResult::kAppended);   // same line, other time
  EXPECT_EQ(*c.Append(5, "x"), AppendResult::kAppended);    // head now unsorted
  EXPECT_EQ(*c.Append(10, "b"), AppendResult::kDuplicate);  // found by the unsorted scan
  EXPECT_EQ(*c.Append(5, "x"), AppendResult::kDuplicate);
  EXPECT_EQ(c.Size(), 4u);
  // Cut the head: duplicates of the last block are still found.
  EXPECT_EQ(*c.Append(20, std::string(1100, 'z')), AppendResult::kAppended);
  ASSERT_EQ(c.blocks().size(), 1u);
  EXPECT_EQ(c.head_entries(), 0u);
  EXPECT_EQ(*c.Append(10, "a"), AppendResult::kDuplicate);
  EXPECT_EQ(*c.Append(20, std::string(1100, 'z')), AppendResult::kDuplicate);
  EXPECT_EQ(*c.Append(10, "c"), AppendResult::kAppended);
  // After another cut the first block is no longer checked (documented limit).
  EXPECT_EQ(*c.Append(30, std::string(1100, 'y')), AppendResult::kAppended);
  ASSERT_EQ(c.blocks().size(), 2u);
  EXPECT_EQ(*c.Append(11, "a"), AppendResult::kAppended);
  const std::vector<Entry> got = Read(c);
  ASSERT_EQ(got.size(), 8u);
  EXPECT_EQ(got[0].timestamp_ns, 5);
  EXPECT_EQ(got[1].line, "a");
  EXPECT_EQ(got[1].structured_metadata, md);
}

// Iterators that share a pool of decoded blocks (one after another, and two at once, as a
// reader's merge holds them) read exactly what iterators with their own blocks read, whatever
// size of block a pooled one held before.
TEST(MemChunkTest, IteratorsSharingADecodedBlockPool) {
  const std::vector<Entry> small = RandomEntries(300, 5, false);
  const std::vector<Entry> large = RandomEntries(3000, 6, true);
  MemChunk a(SmallBlocks(Encoding::kZstd));
  AppendAll(a, large);
  MemChunk b(SmallBlocks(Encoding::kSnappy));
  AppendAll(b, small);
  auto da = MemChunk::Decode(*a.Encode());
  auto db = MemChunk::Decode(*b.Encode());
  ASSERT_TRUE(da.ok() && db.ok());
  DecodedBlockPool pool;
  for (Direction d : {Direction::kForward, Direction::kBackward}) {
    for (int round = 0; round < 3; ++round) {
      IteratorOptions o;
      o.direction = d;
      o.pool = &pool;
      auto ia = (*da)->Iterator(o);
      auto ib = (*db)->Iterator(o);
      EXPECT_EQ(Collect(*ib), Expected(small, kMin, kMax, d));
      EXPECT_EQ(Collect(*ia), Expected(large, kMin, kMax, d));
    }
    IteratorOptions o;
    o.direction = d;
    o.pool = &pool;
    EXPECT_EQ(Collect(*(*db)->Iterator(o)), Expected(small, kMin, kMax, d));
  }
  // Ended iterators gave their blocks back, up to the pool's bound.
  EXPECT_GT(pool.size(), 0u);
  for (size_t i = 0; i < 2 * DecodedBlockPool::kMaxKept; ++i)
    pool.Give(std::make_unique<DecodedBlock>());
  EXPECT_EQ(pool.size(), DecodedBlockPool::kMaxKept);
  EXPECT_NE(pool.Take(), nullptr);
  EXPECT_EQ(pool.size(), DecodedBlockPool::kMaxKept - 1);
}

TEST(MemChunkTest, PoolsLeaveGrownBlocksToTheNextPools) {
  MemChunk c(SmallBlocks(Encoding::kZstd));
  const std::vector<Entry> entries = RandomEntries(1000, 17, true);
  AppendAll(c, entries);
  auto d = EncodeAndDecode(c);
  ASSERT_TRUE(d.ok()) << d.status();
  {
    // Drain the process-wide reserve, so this test sees only what it puts there.
    DecodedBlockPool drain;
    std::vector<std::unique_ptr<DecodedBlock>> taken;
    for (size_t i = 0; i < DecodedBlockPool::kMaxShared; ++i)
      taken.push_back(drain.Take());
  }
  for (size_t i = 0; i < 2 * DecodedBlockPool::kMaxShared; ++i) {
    DecodedBlockPool pool;
    IteratorOptions o;
    o.pool = &pool;
    EXPECT_EQ(Collect(*(*d)->Iterator(o)), Read(**d));
  }
  // Bounded, and what the next pool takes has the buffers a decoded block grew.
  EXPECT_GT(DecodedBlockPool::SharedSize(), 0u);
  EXPECT_LE(DecodedBlockPool::SharedSize(), DecodedBlockPool::kMaxShared);
  DecodedBlockPool next;
  std::unique_ptr<DecodedBlock> b = next.Take();
  EXPECT_EQ(b->size(), 0u);  // cleared
  EXPECT_GT(b->MemoryBytes(), 1000u);
  // Blocks too big to keep are dropped, not left in the reserve.
  std::vector<std::unique_ptr<DecodedBlock>> keep;
  while (DecodedBlockPool::SharedSize() > 0)
    keep.push_back(next.Take());
  {
    DecodedBlockPool pool;
    auto huge = std::make_unique<DecodedBlock>();
    const std::string big(DecodedBlockPool::kMaxSharedBytes + 1, 'x');
    const EntryView view{1, big, {}};
    huge->LoadCopy(std::span<const EntryView>(&view, 1), 0, 2);
    pool.Give(std::move(huge));
  }
  EXPECT_EQ(DecodedBlockPool::SharedSize(), 0u);
}

TEST(MemChunkTest, TimeRangeForwardAndBackward) {
  const std::vector<Entry> entries = RandomEntries(2000, 13, false);
  MemChunk c(SmallBlocks(Encoding::kLz4));
  AppendAll(c, entries);
  auto d = MemChunk::Decode(*c.Encode());
  ASSERT_TRUE(d.ok());
  auto [lo, hi] = c.Bounds();
  std::mt19937_64 rng(3);
  for (int i = 0; i < 60; ++i) {
    int64_t a = lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 2)) - 1;
    int64_t b = lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 2)) - 1;
    if (a > b)
      std::swap(a, b);
    if (i == 0)
      b = a;  // empty range
    if (i == 1)
      b = a + 1;  // one nanosecond
    for (Direction dir : {Direction::kForward, Direction::kBackward}) {
      const auto want = Expected(entries, a, b, dir);
      EXPECT_EQ(Read(c, a, b, dir), want) << a << " " << b;
      EXPECT_EQ(Read(**d, a, b, dir), want) << a << " " << b;
    }
  }
}

TEST(MemChunkTest, SkipsBlocksByTimeAndFilter) {
  testdata::LogGenerator gen(21);
  MemChunk c(SmallBlocks(Encoding::kSnappy));
  std::vector<Entry> entries;
  const std::string needle = "4bf92f3577b34da6a3ce929d0e0e4736";
  for (int i = 0; i < 4000; ++i) {
    Entry e{1000 + i, gen.Line(3, 1000 + i), {}};
    if (i == 2500)
      e.line += " trace=" + needle;
    entries.push_back(e);
  }
  AppendAll(c, entries);
  ASSERT_TRUE(c.Close().ok());
  const size_t nblocks = c.blocks().size();
  ASSERT_GT(nblocks, 20u);

  auto it = c.Iterator(2000, 2100, Direction::kBackward);
  EXPECT_EQ(Collect(*it).size(), 100u);
  EXPECT_GE(it->stats().blocks_skipped_by_time, nblocks - 3);
  EXPECT_LE(it->stats().blocks_decoded, 2u);

  IteratorOptions o;
  o.required_substrings = {needle};
  it = c.Iterator(o);
  std::vector<Entry> got = Collect(*it);
  EXPECT_EQ(std::count_if(got.begin(), got.end(),
                          [&](const Entry& e) { return e.line.find(needle) != std::string::npos; }),
            1);
  EXPECT_GE(it->stats().blocks_skipped_by_filter, nblocks * 8 / 10);
  EXPECT_EQ(it->stats().blocks_considered, nblocks);
  int may = 0;
  for (const auto& b : c.blocks())
    may += b->MayContain(needle);
  EXPECT_GE(may, 1);
  // The filter is small next to the data.
  const ChunkStats s = c.Stats();
  EXPECT_LE(s.filter_bytes, s.compressed_bytes / 19);
}

TEST(MemChunkTest, FilterHasNoFalseNegativesAcrossBlocks) {
  const std::vector<Entry> entries = RandomEntries(2000, 14, false);
  MemChunk c(SmallBlocks(Encoding::kZstd));
  AppendAll(c, entries);
  ASSERT_TRUE(c.Close().ok());
  auto d = MemChunk::Decode(*c.Encode());
  ASSERT_TRUE(d.ok());
  std::mt19937_64 rng(5);
  for (int q = 0; q < 300; ++q) {
    const Entry& e = entries[rng() % entries.size()];
    if (e.line.size() < TokenFilter::kGramSize)
      continue;
    const size_t len = 4 + rng() % std::min<size_t>(e.line.size() - 3, 40);
    const std::string needle = e.line.substr(rng() % (e.line.size() - len + 1), len);
    IteratorOptions o;
    o.required_substrings = {needle};
    auto it = (*d)->Iterator(o);
    bool found = false;
    while (it->Next()) {
      if (it->entry().timestamp_ns == e.timestamp_ns && it->entry().line == e.line)
        found = true;
    }
    ASSERT_TRUE(it->status().ok());
    EXPECT_TRUE(found) << "needle lost: " << needle;
  }
}

TEST(MemChunkTest, SpaceForAndClose) {
  ChunkOptions o;
  o.encoding = Encoding::kNone;
  o.block_size = 1000;
  o.target_size = 5000;
  MemChunk c(o);
  const std::string line(300, 'q');
  int n = 0;
  while (c.SpaceFor(line.size()))
    ASSERT_TRUE(c.Append(n++, line).ok());
  EXPECT_GE(c.Bytes() + line.size(), o.target_size);
  EXPECT_LT(c.Bytes(), o.target_size);
  ASSERT_TRUE(c.Close().ok());
  ASSERT_TRUE(c.Close().ok());
  EXPECT_FALSE(c.SpaceFor(1));
  EXPECT_EQ(c.Append(1000, "late").status().code(), absl::StatusCode::kFailedPrecondition);
  const ChunkStats s = c.Stats();
  EXPECT_EQ(s.entries, static_cast<uint64_t>(n));
  EXPECT_EQ(s.min_ts, 0);
  EXPECT_EQ(s.max_ts, n - 1);
  EXPECT_EQ(s.compressed_bytes, c.CompressedSize());
  EXPECT_GT(s.raw_bytes, static_cast<uint64_t>(n) * line.size());
}

TEST(MemChunkTest, EmptyLinesAreCutByEntryCount) {
  MemChunk c;
  const size_t n = kMaxBlockEntries + 10;
  for (size_t i = 0; i < n; ++i)
    ASSERT_TRUE(c.Append(static_cast<int64_t>(i), "").ok());
  EXPECT_EQ(c.blocks().size(), 1u);
  EXPECT_EQ(c.head_entries(), 10u);
  auto d = MemChunk::Decode(*c.Encode());
  ASSERT_TRUE(d.ok()) << d.status();
  auto it = (*d)->Iterator(kMin, kMax, Direction::kBackward);
  size_t count = 0;
  int64_t expect = static_cast<int64_t>(n) - 1;
  while (it->Next()) {
    ASSERT_EQ(it->entry().timestamp_ns, expect--);
    ++count;
  }
  EXPECT_EQ(count, n);
}

TEST(MemChunkTest, IteratorIsASnapshot) {
  auto c = std::make_unique<MemChunk>(SmallBlocks(Encoding::kSnappy));
  const std::vector<Entry> entries = RandomEntries(300, 15, true);
  AppendAll(*c, entries);
  auto it = c->Iterator(kMin, kMax, Direction::kForward);
  // Keep writing (more cuts, head reallocations), then destroy the chunk.
  AppendAll(*c, RandomEntries(300, 16, true));
  c.reset();
  EXPECT_EQ(Collect(*it), Expected(entries, kMin, kMax, Direction::kForward));
}

TEST(MemChunkTest, RangedReadOfSelectedBlocks) {
  const std::vector<Entry> entries = RandomEntries(1500, 17, true);
  MemChunk c(SmallBlocks(Encoding::kZstd));
  AppendAll(c, entries);
  const std::string obj = *c.Encode();
  // A reader fetches the trailer, then the index, then only the blocks it wants.
  auto loc = ParseTrailer(std::string_view(obj).substr(obj.size() - kTrailerSize), obj.size());
  ASSERT_TRUE(loc.ok()) << loc.status();
  auto index = ParseIndex(std::string_view(obj).substr(loc->offset, loc->length), *loc);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(index->blocks.size(), c.blocks().size() + 1);  // + head
  EXPECT_EQ(index->encoding, Encoding::kZstd);
  std::vector<std::shared_ptr<const Block>> picked;
  int64_t from = kMax, through = kMin;
  for (size_t i = 3; i < 6; ++i) {
    const BlockMeta& m = index->blocks[i]->meta();
    EXPECT_EQ(m, c.blocks()[i]->meta());
    auto range = std::make_shared<const std::string>(obj.substr(m.offset, m.compressed_size));
    picked.push_back(index->blocks[i]->WithData(range, 0));
    from = std::min(from, m.min_ts);
    through = std::max(through, m.max_ts + 1);
  }
  auto partial = MemChunk::FromBlocks(index->encoding, std::move(picked));
  EXPECT_EQ(Read(*partial, from, through), Expected(entries, from, through, Direction::kForward));
}

TEST(MemChunkTest, CorruptionIsDataLoss) {
  const std::vector<Entry> entries = RandomEntries(200, 18, true);
  for (Encoding enc : kAll) {
    SCOPED_TRACE(EncodingName(enc));
    ChunkOptions o = SmallBlocks(enc);
    o.block_size = 4096;
    MemChunk c(o);
    AppendAll(c, entries);
    const std::string good = *c.Encode();
    ASSERT_TRUE(MemChunk::Decode(good).ok());
    // Every truncation.
    for (size_t n = 0; n < good.size(); n += (n < 64 || good.size() - n < 64) ? 1 : 97) {
      auto d = MemChunk::Decode(std::string_view(good).substr(0, n));
      ASSERT_FALSE(d.ok()) << n;
      EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << n;
    }
    // Every byte flipped (sampled in the bulk of block data, exhaustive at the edges).
    std::mt19937_64 rng(1);
    for (size_t i = 0; i < good.size(); i += (i < 64 || good.size() - i < 4096) ? 1 : 31) {
      std::string bad = good;
      bad[i] ^= static_cast<char>(1 + rng() % 255);
      auto d = MemChunk::Decode(bad);
      ASSERT_FALSE(d.ok()) << "flip at " << i << " of " << good.size();
      EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << i;
    }
    // Trailing garbage, bad magic, unknown version.
    EXPECT_EQ(MemChunk::Decode(good + "x").status().code(), absl::StatusCode::kDataLoss);
    std::string v = good;
    v[0] = 'X';
    EXPECT_EQ(MemChunk::Decode(v).status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(MemChunk::Decode("").status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(MemChunkTest, CorruptBlockDataFoundWhileIterating) {
  // A ranged reader that skipped Decode's eager verification still gets kDataLoss, not garbage.
  MemChunk c(SmallBlocks(Encoding::kSnappy));
  AppendAll(c, RandomEntries(500, 19, true));
  const std::string obj = *c.Encode();
  auto loc = ParseTrailer(std::string_view(obj).substr(obj.size() - kTrailerSize), obj.size());
  auto index = ParseIndex(std::string_view(obj).substr(loc->offset, loc->length), *loc);
  ASSERT_TRUE(index.ok());
  std::string bad = obj;
  const BlockMeta& m = index->blocks[1]->meta();
  bad[m.offset + m.compressed_size / 2] ^= 0x40;
  auto buf = std::make_shared<const std::string>(bad);
  std::vector<std::shared_ptr<const Block>> blocks;
  for (const auto& b : index->blocks)
    blocks.push_back(b->WithData(buf, b->meta().offset));
  auto chunk = MemChunk::FromBlocks(index->encoding, std::move(blocks));
  auto it = chunk->Iterator(kMin, kMax, Direction::kForward);
  while (it->Next()) {
  }
  EXPECT_EQ(it->status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace norn::chunk
