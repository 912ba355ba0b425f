#include "storage/wal/record.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/wal/segment.h"

namespace norn::wal {
namespace {

struct Flat {
  int64_t ts;
  std::string line;
  std::vector<std::pair<std::string, std::string>> md;
  friend bool operator==(const Flat&, const Flat&) = default;
};

std::vector<Flat> Flatten(std::span<const EntryView> entries) {
  std::vector<Flat> out;
  for (const EntryView& e : entries) {
    Flat f{e.timestamp_ns, std::string(e.line), {}};
    for (const LabelView& l : e.structured_metadata) {
      f.md.emplace_back(std::string(l.name), std::string(l.value));
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Flat> Flatten(std::span<const Entry> entries) {
  std::vector<Flat> out;
  for (const Entry& e : entries) {
    Flat f{e.timestamp_ns, e.line, {}};
    for (const Label& l : e.structured_metadata)
      f.md.emplace_back(l.name, l.value);
    out.push_back(std::move(f));
  }
  return out;
}

TEST(RecordTest, SeriesRoundTrip) {
  const Labels labels{{"app", "caf\xC3\xA9"}, {"env", "prod \"x\"\n"}, {"job", ""}};
  std::string buf;
  EXPECT_EQ(EncodeRecord(Record::Series("tenant-ü", 0xdeadbeefcafef00dull, labels), &buf), 1u);
  std::string_view in = buf;
  RecordDecoder dec;
  RecordType type;
  ASSERT_TRUE(dec.Decode(&in, &type).ok());
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(type, RecordType::kSeries);
  EXPECT_EQ(dec.series().tenant, "tenant-ü");
  EXPECT_EQ(dec.series().fingerprint, 0xdeadbeefcafef00dull);
  EXPECT_EQ(ToLabels(dec.series().labels), labels);
}

TEST(RecordTest, EntriesRoundTripWithMetadataAndUnicode) {
  std::vector<Entry> entries = {
      {1700000000000000000, "hello \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x98\x80", {}},
      {1699999999000000000, "", {{"trace_id", "abc"}, {"user", "\xC3\xB1"}}},  // Backwards.
      {-5, std::string("nul\0byte", 8), {{"k", ""}}},
      {INT64_MAX, std::string(70000, 'x'), {}},
  };
  std::string buf;
  ASSERT_EQ(EncodeRecord(Record::Entries("fake", 42, entries), &buf), 1u);
  // A second record in the same buffer decodes after the first.
  std::vector<Entry> more = {{7, "second", {}}};
  EncodeRecord(Record::Entries("other", 43, more), &buf);

  std::string_view in = buf;
  RecordDecoder dec;
  RecordType type;
  ASSERT_TRUE(dec.Decode(&in, &type).ok());
  EXPECT_EQ(type, RecordType::kEntries);
  EXPECT_EQ(dec.entries().tenant, "fake");
  EXPECT_EQ(dec.entries().fingerprint, 42u);
  EXPECT_EQ(Flatten(dec.entries().entries), Flatten(std::span<const Entry>(entries)));
  // Views point into the input buffer: no copies of lines.
  const std::string_view line0 = dec.entries().entries[0].line;
  EXPECT_GE(line0.data(), buf.data());
  EXPECT_LT(line0.data(), buf.data() + buf.size());

  ASSERT_TRUE(dec.Decode(&in, &type).ok());
  EXPECT_EQ(dec.entries().tenant, "other");
  EXPECT_EQ(Flatten(dec.entries().entries), Flatten(std::span<const Entry>(more)));
  EXPECT_TRUE(in.empty());
}

TEST(RecordTest, EntryViewsEncodeLikeEntries) {
  std::vector<Entry> entries = {{1, "a", {{"x", "1"}}}, {2, "b", {}}};
  const LabelView md[] = {{"x", "1"}};
  std::vector<EntryView> views = {{1, "a", md}, {2, "b", {}}};
  std::string a, b;
  EncodeRecord(Record::Entries("t", 1, entries), &a);
  EncodeRecord(Record::EntryViews("t", 1, views), &b);
  EXPECT_EQ(a, b);
}

TEST(RecordTest, SplitsLargeEntriesRecords) {
  std::vector<Entry> entries;
  for (int i = 0; i < 100; ++i)
    entries.push_back({i, std::string(100, 'a' + i % 26), {}});
  std::string buf;
  int betweens = 0;
  const size_t n = EncodeRecord(Record::Entries("t", 9, entries), &buf, 1000, [&] { ++betweens; });
  EXPECT_GT(n, 5u);
  EXPECT_EQ(betweens, static_cast<int>(n) - 1);
  std::string_view in = buf;
  RecordDecoder dec;
  RecordType type;
  std::vector<Flat> got;
  while (!in.empty()) {
    const size_t before = in.size();
    ASSERT_TRUE(dec.Decode(&in, &type).ok());
    EXPECT_LE(before - in.size(), 1000u + 200);
    EXPECT_EQ(dec.entries().fingerprint, 9u);
    for (Flat& f : Flatten(dec.entries().entries))
      got.push_back(std::move(f));
  }
  EXPECT_EQ(got, Flatten(std::span<const Entry>(entries)));
}

TEST(RecordTest, EmptyEntriesBatchIsOneRecord) {
  std::string buf;
  EXPECT_EQ(EncodeRecord(Record::Entries("t", 1, {}), &buf), 1u);
  std::string_view in = buf;
  RecordDecoder dec;
  RecordType type;
  ASSERT_TRUE(dec.Decode(&in, &type).ok());
  EXPECT_TRUE(dec.entries().entries.empty());
}

TEST(RecordTest, TruncatedOrGarbageInputIsDataLoss) {
  std::vector<Entry> entries = {{1, "line one", {{"a", "b"}}}, {2, "line two", {}}};
  const Labels labels{{"a", "1"}};
  std::string buf;
  EncodeRecord(Record::Entries("t", 1, entries), &buf);
  std::string series;
  EncodeRecord(Record::Series("t", 1, labels), &series);
  RecordDecoder dec;
  RecordType type;
  for (const std::string& full : {buf, series}) {
    for (size_t cut = 0; cut < full.size(); ++cut) {
      std::string_view in(full.data(), cut);
      absl::Status s = dec.Decode(&in, &type);
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << "cut " << cut;
    }
  }
  std::string bad = buf;
  bad[0] = 9;  // Unknown type.
  std::string_view in = bad;
  EXPECT_EQ(dec.Decode(&in, &type).code(), absl::StatusCode::kDataLoss);
  // Garbage never crashes.
  std::string junk;
  for (int i = 0; i < 5000; ++i)
    junk.push_back(static_cast<char>((i * 7919) ^ (i >> 3)));
  for (size_t off = 0; off < 200; ++off) {
    std::string_view j = std::string_view(junk).substr(off);
    while (!j.empty() && dec.Decode(&j, &type).ok()) {
    }
  }
}

TEST(RecordTest, FrameBuilderCutsFrames) {
  internal::FrameBuilder fb(4096);
  std::vector<Entry> entries;
  for (int i = 0; i < 200; ++i)
    entries.push_back({i, std::string(100, 'z'), {}});
  const Labels labels{{"a", "1"}};
  fb.Add(Record::Series("t", 1, labels));
  fb.Add(Record::Entries("t", 1, entries));
  fb.Finish();
  ASSERT_GT(fb.frames().size(), 3u);
  size_t pos = 0;
  for (size_t start : fb.frames()) {
    EXPECT_EQ(start, pos);
    const size_t len = internal::FrameLength(fb.buffer().data() + start);
    EXPECT_LE(len, 4096 + 1024 + kFrameHeaderSize + 200);
    pos += len;
  }
  EXPECT_EQ(pos, fb.buffer().size());
}

TEST(SegmentTest, Names) {
  EXPECT_EQ(SegmentName(1), "00000001");
  EXPECT_EQ(SegmentName(123456789), "123456789");
  EXPECT_EQ(CheckpointName(7), "checkpoint.00000007");
  uint64_t n = 0;
  EXPECT_TRUE(ParseSegmentName("00000042", &n));
  EXPECT_EQ(n, 42u);
  EXPECT_FALSE(ParseSegmentName("0000004a", &n));
  EXPECT_FALSE(ParseSegmentName("", &n));
  EXPECT_TRUE(ParseCheckpointName("checkpoint.00000003", &n));
  EXPECT_EQ(n, 3u);
  EXPECT_FALSE(ParseCheckpointName("checkpoint.00000003.tmp", &n));
}

}  // namespace
}  // namespace norn::wal
