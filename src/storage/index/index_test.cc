#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/index/encoding.h"
#include "storage/index/index_reader.h"
#include "storage/index/index_set.h"
#include "storage/index/index_writer.h"

namespace norn::index {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

ChunkRef C(int64_t from, int64_t through, uint32_t checksum, uint32_t entries = 10) {
  return ChunkRef{from,
                  through,
                  checksum,
                  /*size_bytes=*/entries * 7,
                  entries,
                  /*uncompressed_bytes=*/uint64_t{entries} * 100};
}

struct TestSeries {
  Labels labels;
  std::vector<ChunkRef> chunks;
};

std::vector<TestSeries> SmallData() {
  return {
      {Labels{{"app", "api"}, {"env", "prod"}, {"ns", "shop"}}, {C(300, 400, 2), C(100, 200, 1)}},
      {Labels{{"app", "web"}, {"env", "prod"}, {"ns", "shop"}}, {C(150, 250, 3, 5)}},
      {Labels{{"app", "db"}, {"env", "dev"}}, {C(500, 600, 4, 1)}},
      {Labels{{"app", "api"}, {"env", "dev"}, {"ns", "infra"}, {"team", "a|b"}}, {C(50, 60, 5, 2)}},
  };
}

std::unique_ptr<IndexReader> Build(const std::vector<TestSeries>& data) {
  IndexBuilder b;
  for (const auto& s : data)
    EXPECT_TRUE(b.Add(s.labels, s.chunks).ok());
  auto bytes = b.Encode();
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  auto r = IndexReader::FromBytes(*std::move(bytes));
  EXPECT_TRUE(r.ok()) << r.status();
  return *std::move(r);
}

std::vector<std::string> Names(const absl::StatusOr<std::vector<SeriesInfo>>& s) {
  EXPECT_TRUE(s.ok()) << s.status();
  std::vector<std::string> out;
  if (s.ok()) {
    for (const auto& x : *s)
      out.push_back(x.labels.ToString());
  }
  return out;
}

std::vector<std::string> Strs(const absl::StatusOr<std::vector<std::string_view>>& v) {
  EXPECT_TRUE(v.ok()) << v.status();
  std::vector<std::string> out;
  if (v.ok())
    out.assign(v->begin(), v->end());
  return out;
}

TEST(IndexTest, RoundTripAllSeriesAndChunks) {
  auto r = Build(SmallData());
  EXPECT_EQ(r->series_count(), 4u);
  EXPECT_EQ(r->chunk_count(), 5u);
  EXPECT_EQ(r->min_time(), 50);
  EXPECT_EQ(r->max_time(), 600);
  auto all = r->ChunkRefs({}, kMinTime, kMaxTime);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 4u);
  // Sorted by labels (name, value pairwise).
  EXPECT_EQ((*all)[0].labels.ToString(), R"({app="api", env="dev", ns="infra", team="a|b"})");
  EXPECT_EQ((*all)[1].labels.ToString(), R"({app="api", env="prod", ns="shop"})");
  EXPECT_EQ((*all)[2].labels.ToString(), R"({app="db", env="dev"})");
  EXPECT_EQ((*all)[3].labels.ToString(), R"({app="web", env="prod", ns="shop"})");
  for (const auto& s : *all)
    EXPECT_EQ(s.fingerprint, s.labels.Hash());
  EXPECT_THAT((*all)[1].chunks, ElementsAre(C(100, 200, 1), C(300, 400, 2)));
  EXPECT_THAT((*all)[0].chunks, ElementsAre(C(50, 60, 5, 2)));
}

TEST(IndexTest, BuilderMergesAndDedupes) {
  IndexBuilder b;
  Labels l{{"app", "x"}};
  ASSERT_TRUE(b.Add(l, std::vector<ChunkRef>{C(10, 20, 7), C(5, 6, 1)}).ok());
  ChunkRef dup = C(10, 20, 7);
  dup.entries = 999;  // same key: the first one added wins
  ASSERT_TRUE(b.Add(l, std::vector<ChunkRef>{dup, C(10, 20, 8)}).ok());
  ASSERT_TRUE(b.Add(l, 42, std::vector<ChunkRef>{}).ok());  // no chunks: no-op
  ASSERT_TRUE(b.Add(Labels{{"app", "y"}}, 42, std::vector<ChunkRef>{C(1, 1, 1)}).ok());
  EXPECT_EQ(b.series_count(), 2u);
  auto r = IndexReader::FromBytes(*b.Encode());
  ASSERT_TRUE(r.ok());
  auto refs = (*r)->ChunkRefs({}, kMinTime, kMaxTime);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 2u);
  EXPECT_THAT((*refs)[0].chunks, ElementsAre(C(5, 6, 1), C(10, 20, 7), C(10, 20, 8)));
  EXPECT_EQ((*refs)[1].fingerprint, 42u);  // explicit fingerprint stored as given
}

TEST(IndexTest, BuilderRejectsBadInput) {
  IndexBuilder b;
  EXPECT_EQ(b.Add(Labels{}, std::vector<ChunkRef>{C(1, 2, 3)}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b.Add(Labels{{"a", ""}}, std::vector<ChunkRef>{C(1, 2, 3)}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b.Add(Labels{{"a", "b"}}, std::vector<ChunkRef>{C(5, 4, 3)}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(IndexTest, EmptyLabelValuesAreDropped) {
  IndexBuilder b;
  ASSERT_TRUE(b.Add(Labels{{"a", "1"}, {"b", ""}}, 9, std::vector<ChunkRef>{C(1, 2, 3)}).ok());
  auto r = IndexReader::FromBytes(*b.Encode());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Strs((*r)->LabelNames()), ElementsAre("a"));
  std::vector<Matcher> m = {Matcher::Eq("b", "")};
  EXPECT_THAT(Names((*r)->Series(m, kMinTime, kMaxTime)), ElementsAre(R"({a="1"})"));
}

TEST(IndexTest, MatcherKinds) {
  auto r = Build(SmallData());
  auto q = [&](std::vector<Matcher> m) { return Names(r->Series(m, kMinTime, kMaxTime)); };
  const std::string api_dev = R"({app="api", env="dev", ns="infra", team="a|b"})";
  const std::string api_prod = R"({app="api", env="prod", ns="shop"})";
  const std::string db = R"({app="db", env="dev"})";
  const std::string web = R"({app="web", env="prod", ns="shop"})";

  EXPECT_THAT(q({Matcher::Eq("ns", "shop")}), ElementsAre(api_prod, web));
  EXPECT_THAT(q({Matcher::Eq("ns", "nope")}), IsEmpty());
  EXPECT_THAT(q({Matcher::Eq("app", "api"), Matcher::Eq("env", "prod")}), ElementsAre(api_prod));
  EXPECT_THAT(q({Matcher::Neq("app", "api")}), ElementsAre(db, web));
  EXPECT_THAT(q({Matcher::Re("app", "a.i|w.*")}), ElementsAre(api_dev, api_prod, web));
  EXPECT_THAT(q({Matcher::Re("app", "db|web|nope")}), ElementsAre(db, web));  // literal set
  EXPECT_THAT(q({Matcher::Nre("app", "a.*")}), ElementsAre(db, web));
  EXPECT_THAT(q({Matcher::Nre("app", "db|web")}), ElementsAre(api_dev, api_prod));
  EXPECT_THAT(q({Matcher::Re("team", R"(a\|b)")}), ElementsAre(api_dev));
  EXPECT_THAT(q({Matcher::Re("env", ".+"), Matcher::Neq("env", "prod")}), ElementsAre(api_dev, db));
  EXPECT_THAT(q({}), ElementsAre(api_dev, api_prod, db, web));
}

TEST(IndexTest, MatchersThatMatchEmptySelectSeriesWithoutTheLabel) {
  auto r = Build(SmallData());
  auto q = [&](std::vector<Matcher> m) { return Names(r->Series(m, kMinTime, kMaxTime)); };
  const std::string api_dev = R"({app="api", env="dev", ns="infra", team="a|b"})";
  const std::string api_prod = R"({app="api", env="prod", ns="shop"})";
  const std::string db = R"({app="db", env="dev"})";
  const std::string web = R"({app="web", env="prod", ns="shop"})";

  EXPECT_THAT(q({Matcher::Eq("ns", "")}), ElementsAre(db));
  EXPECT_THAT(q({Matcher::Re("ns", "shop|")}), ElementsAre(api_prod, db, web));
  EXPECT_THAT(q({Matcher::Re("ns", "sh.*|")}), ElementsAre(api_prod, db, web));
  EXPECT_THAT(q({Matcher::Neq("ns", "shop")}), ElementsAre(api_dev, db));
  EXPECT_THAT(q({Matcher::Nre("ns", ".+")}), ElementsAre(db));
  EXPECT_THAT(q({Matcher::Neq("ns", "")}), ElementsAre(api_dev, api_prod, web));
  EXPECT_THAT(q({Matcher::Re("ns", ".+")}), ElementsAre(api_dev, api_prod, web));
  EXPECT_THAT(q({Matcher::Re("ns", ".*")}), ElementsAre(api_dev, api_prod, db, web));
  // A label no series has: "" matchers keep everything, others select nothing.
  EXPECT_THAT(q({Matcher::Eq("missing", "")}), ElementsAre(api_dev, api_prod, db, web));
  EXPECT_THAT(q({Matcher::Neq("missing", "x")}), ElementsAre(api_dev, api_prod, db, web));
  EXPECT_THAT(q({Matcher::Eq("missing", "x")}), IsEmpty());
  EXPECT_THAT(q({Matcher::Re("missing", ".+")}), IsEmpty());
  EXPECT_THAT(q({Matcher::Eq("env", "dev"), Matcher::Eq("team", "")}), ElementsAre(db));
}

TEST(IndexTest, TimeRangeFilteringIsInclusive) {
  auto r = Build(SmallData());
  std::vector<Matcher> api = {Matcher::Eq("app", "api"), Matcher::Eq("env", "prod")};
  auto refs = r->ChunkRefs(api, 180, 320);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_THAT((*refs)[0].chunks, ElementsAre(C(100, 200, 1), C(300, 400, 2)));
  refs = r->ChunkRefs(api, 201, 299);  // in the gap between the two chunks
  ASSERT_TRUE(refs.ok());
  EXPECT_THAT(*refs, IsEmpty());
  refs = r->ChunkRefs(api, 0, 100);  // touches the first chunk's start
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_THAT((*refs)[0].chunks, ElementsAre(C(100, 200, 1)));
  refs = r->ChunkRefs(api, 400, 1000);  // touches the second chunk's end
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_THAT((*refs)[0].chunks, ElementsAre(C(300, 400, 2)));
  EXPECT_THAT(Names(r->Series({}, 220, 260)), ElementsAre(R"({app="web", env="prod", ns="shop"})"));
  EXPECT_THAT(Names(r->Series({}, 700, 800)), IsEmpty());
  EXPECT_THAT(Names(r->Series({}, 300, 200)), IsEmpty());  // from > through
}

TEST(IndexTest, LabelNamesAndValues) {
  auto r = Build(SmallData());
  EXPECT_THAT(Strs(r->LabelNames()), ElementsAre("app", "env", "ns", "team"));
  std::vector<Matcher> shop = {Matcher::Eq("ns", "shop")};
  EXPECT_THAT(Strs(r->LabelNames(shop)), ElementsAre("app", "env", "ns"));
  std::vector<Matcher> dev = {Matcher::Eq("env", "dev")};
  EXPECT_THAT(Strs(r->LabelNames(dev)), ElementsAre("app", "env", "ns", "team"));
  EXPECT_THAT(Strs(r->LabelNames({}, 500, 1000)), ElementsAre("app", "env"));

  EXPECT_THAT(Strs(r->LabelValues("app")), ElementsAre("api", "db", "web"));
  EXPECT_THAT(Strs(r->LabelValues("ns")), ElementsAre("infra", "shop"));
  std::vector<Matcher> prod = {Matcher::Eq("env", "prod")};
  EXPECT_THAT(Strs(r->LabelValues("app", prod)), ElementsAre("api", "web"));
  EXPECT_THAT(Strs(r->LabelValues("ns", dev)), ElementsAre("infra"));
  EXPECT_THAT(Strs(r->LabelValues("app", {}, 0, 120)), ElementsAre("api"));
  EXPECT_THAT(Strs(r->LabelValues("nope")), IsEmpty());
}

TEST(IndexTest, Stats) {
  auto r = Build(SmallData());
  std::vector<Matcher> prod = {Matcher::Eq("env", "prod")};
  auto st = r->Stats(prod, kMinTime, kMaxTime);
  ASSERT_TRUE(st.ok());
  // api/prod: two chunks of 10 entries, web: one chunk of 5.
  EXPECT_EQ(*st, (IndexStats{2, 3, 25, 2500}));
  st = r->Stats(prod, 0, 120);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, (IndexStats{1, 1, 10, 1000}));
  st = r->Stats({}, kMinTime, kMaxTime);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, (IndexStats{4, 5, 28, 2800}));
}

TEST(IndexTest, EmptyIndex) {
  IndexBuilder b;
  auto r = IndexReader::FromBytes(*b.Encode());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->series_count(), 0u);
  EXPECT_THAT(Strs((*r)->LabelNames()), IsEmpty());
  std::vector<Matcher> m = {Matcher::Eq("a", "b")};
  EXPECT_THAT(Names((*r)->Series(m, kMinTime, kMaxTime)), IsEmpty());
  auto st = (*r)->Stats({}, kMinTime, kMaxTime);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, IndexStats{});
}

// Property test: the index must agree with evaluating the matchers on every series directly.
TEST(IndexTest, RandomMatchersAgreeWithBruteForce) {
  std::mt19937_64 rng(7);
  const std::vector<std::string> names = {"a", "b", "c", "d"};
  const std::vector<std::string> values = {"v0", "v1", "v2", "v3", "x.y"};
  std::vector<TestSeries> data;
  for (int i = 0; i < 300; ++i) {
    std::vector<Label> ls;
    for (const auto& n : names) {
      if (rng() % 3 != 0)
        ls.push_back(Label{n, values[rng() % values.size()]});
    }
    ls.push_back(Label{"id", std::to_string(i)});
    std::vector<ChunkRef> chunks;
    int64_t t = static_cast<int64_t>(rng() % 1000);
    for (int c = 0, n = 1 + static_cast<int>(rng() % 4); c < n; ++c) {
      int64_t len = static_cast<int64_t>(rng() % 100);
      chunks.push_back(C(t, t + len, static_cast<uint32_t>(rng())));
      t += len + static_cast<int64_t>(rng() % 200);
    }
    data.push_back({Labels(std::move(ls)), std::move(chunks)});
  }
  auto r = Build(data);
  const std::vector<std::string> patterns = {"v0", "",        "v1|v2",   "v.*",    ".*",
                                             ".+", "v[0-2]|", R"(x\.y)", "x.y|v3", "nope"};
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<Matcher> ms;
    for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) {
      auto type = static_cast<Matcher::Type>(rng() % 4);
      std::string name = rng() % 8 == 0 ? "zz" : names[rng() % names.size()];
      std::string value = patterns[rng() % patterns.size()];
      ms.push_back(*Matcher::Create(type, name, value));
    }
    int64_t from = static_cast<int64_t>(rng() % 1500);
    int64_t through = from + static_cast<int64_t>(rng() % 600);
    std::vector<std::string> want;
    IndexStats want_stats;
    for (const auto& s : data) {
      bool ok = std::all_of(ms.begin(), ms.end(),
                            [&](const Matcher& m) { return m.Matches(s.labels.Get(m.name())); });
      if (!ok)
        continue;
      int n = 0;
      for (const auto& c : s.chunks) {
        if (!c.Overlaps(from, through))
          continue;
        ++n;
        want_stats.entries += c.entries;
        want_stats.bytes += c.uncompressed_bytes;
      }
      if (n == 0)
        continue;
      want.push_back(s.labels.ToString());
      ++want_stats.streams;
      want_stats.chunks += n;
    }
    std::vector<std::string> got = Names(r->Series(ms, from, through));
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    std::string desc;
    for (const auto& m : ms)
      desc += m.ToString() + " ";
    ASSERT_EQ(got, want) << desc << from << ".." << through;
    auto st = r->Stats(ms, from, through);
    ASSERT_TRUE(st.ok());
    ASSERT_EQ(*st, want_stats) << desc;

    // Label names and values of the selection, over the random range and over everything
    // (which takes the look-up paths that skip chunk decoding).
    for (bool everything : {false, true}) {
      int64_t f = everything ? kMinTime : from, t = everything ? kMaxTime : through;
      std::set<std::string> want_names, want_values;
      for (const auto& s : data) {
        bool ok = std::all_of(ms.begin(), ms.end(), [&](const Matcher& m) {
          return m.Matches(s.labels.Get(m.name()));
        });
        ok = ok && std::any_of(s.chunks.begin(), s.chunks.end(),
                               [&](const ChunkRef& c) { return c.Overlaps(f, t); });
        if (!ok) continue;
        for (const Label& l : s.labels) want_names.insert(l.name);
        if (s.labels.Has("a")) want_values.insert(std::string(s.labels.Get("a")));
      }
      ASSERT_EQ(Strs(r->LabelNames(ms, f, t)),
                std::vector<std::string>(want_names.begin(), want_names.end()))
          << desc << everything;
      ASSERT_EQ(Strs(r->LabelValues("a", ms, f, t)),
                std::vector<std::string>(want_values.begin(), want_values.end()))
          << desc << everything;
    }
  }
}

TEST(IndexSetTest, MergesAndDedupesAcrossFiles) {
  Labels a{{"app", "a"}};
  Labels b{{"app", "b"}};
  Labels c{{"app", "c"}};
  // Two replicas flushed the same chunk of `a`; each also has chunks the other lacks.
  IndexBuilder one, two, old;
  ASSERT_TRUE(one.Add(a, std::vector<ChunkRef>{C(100, 200, 1), C(300, 400, 2)}).ok());
  ASSERT_TRUE(one.Add(b, std::vector<ChunkRef>{C(100, 150, 3)}).ok());
  ASSERT_TRUE(two.Add(a, std::vector<ChunkRef>{C(100, 200, 1), C(250, 260, 9)}).ok());
  ASSERT_TRUE(two.Add(c, std::vector<ChunkRef>{C(500, 600, 4)}).ok());
  ASSERT_TRUE(old.Add(c, std::vector<ChunkRef>{C(-900, -800, 5)}).ok());  // earlier period
  IndexSet set;
  for (auto* bld : {&one, &two, &old}) {
    auto r = IndexReader::FromBytes(*bld->Encode());
    ASSERT_TRUE(r.ok());
    set.Add(std::shared_ptr<const IndexReader>(*std::move(r)));
  }
  auto refs = set.ChunkRefs({}, 0, kMaxTime);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 3u);
  EXPECT_EQ((*refs)[0].labels, a);
  EXPECT_THAT((*refs)[0].chunks, ElementsAre(C(100, 200, 1), C(250, 260, 9), C(300, 400, 2)));
  EXPECT_EQ((*refs)[1].labels, b);
  EXPECT_EQ((*refs)[2].labels, c);
  EXPECT_THAT((*refs)[2].chunks, ElementsAre(C(500, 600, 4)));

  auto all = set.ChunkRefs({}, kMinTime, kMaxTime);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT((*all)[2].chunks, ElementsAre(C(-900, -800, 5), C(500, 600, 4)));

  std::vector<Matcher> ac = {Matcher::Re("app", "a|c")};
  auto series = set.Series(ac, kMinTime, kMaxTime);
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->size(), 2u);
  EXPECT_EQ((*series)[0], (SeriesInfo{a, a.Hash()}));
  EXPECT_EQ((*series)[1], (SeriesInfo{c, c.Hash()}));

  auto st = set.Stats({}, 0, kMaxTime);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, (IndexStats{3, 5, 50, 5000}));  // the replicated chunk counts once

  EXPECT_THAT(Strs(set.LabelNames()), ElementsAre("app"));
  EXPECT_THAT(Strs(set.LabelValues("app")), ElementsAre("a", "b", "c"));
  std::vector<Matcher> not_b = {Matcher::Neq("app", "b")};
  EXPECT_THAT(Strs(set.LabelValues("app", not_b, 0, 300)), ElementsAre("a"));
}

std::string EncodeSmall() {
  IndexBuilder b;
  for (const auto& s : SmallData())
    EXPECT_TRUE(b.Add(s.labels, s.chunks).ok());
  return *b.Encode();
}

// Runs every query kind; any status is fine, crashing or reading out of bounds is not.
void Exercise(const IndexReader& r) {
  std::vector<std::vector<Matcher>> sets = {{},
                                            {Matcher::Eq("ns", "shop")},
                                            {Matcher::Re("app", ".+")},
                                            {Matcher::Neq("ns", "")},
                                            {Matcher::Re("app", "a.*|w.b")},
                                            {Matcher::Eq("ns", "")}};
  for (const auto& ms : sets) {
    (void)r.Series(ms, kMinTime, kMaxTime);
    (void)r.ChunkRefs(ms, 100, 300);
    (void)r.Stats(ms, kMinTime, kMaxTime);
    (void)r.LabelNames(ms);
    (void)r.LabelValues("app", ms);
    (void)r.LabelValues("ns");
  }
}

TEST(IndexCorruptionTest, EverySingleByteFlipIsDetected) {
  const std::string good = EncodeSmall();
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
    auto r = IndexReader::FromBytes(bad);
    ASSERT_FALSE(r.ok()) << "flip at " << i << " of " << good.size();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << i;
  }
}

TEST(IndexCorruptionTest, TruncationIsDetected) {
  const std::string good = EncodeSmall();
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = IndexReader::FromBytes(good.substr(0, n));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  }
  auto r = IndexReader::FromBytes(good + "x");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
}

TEST(IndexCorruptionTest, UnknownVersionIsUnimplemented) {
  std::string bytes = EncodeSmall();
  bytes[4] = 2;
  // Re-seal with a valid checksum so only the version differs.
  std::string sum;
  internal::PutU64(&sum, XXH3_64bits(bytes.data(), bytes.size() - 8));
  bytes.replace(bytes.size() - 8, 8, sum);
  auto r = IndexReader::FromBytes(bytes);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
}

// With checksum verification off the structural checks alone must keep every query in bounds.
// Run under ASan to make this test meaningful for memory safety.
TEST(IndexCorruptionTest, RandomCorruptionWithoutChecksumNeverCrashes) {
  IndexBuilder b;
  std::mt19937_64 rng(11);
  for (int i = 0; i < 50; ++i) {
    Labels l{{"app", i % 2 ? "api" : "web"},
             {"ns", i % 3 ? "shop" : "infra"},
             {"pod", "p" + std::to_string(i)}};
    ASSERT_TRUE(
        b.Add(l, std::vector<ChunkRef>{C(i * 10, i * 10 + 5, i), C(i * 10 + 6, i * 10 + 9, i)})
            .ok());
  }
  const std::string good = *b.Encode();
  ReaderOptions no_verify;
  no_verify.verify_checksum = false;
  int opened = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bad = good;
    // Corrupt within the body, where the cheap structural checks cannot catch everything.
    for (int k = 0, n = 1 + static_cast<int>(rng() % 8); k < n; ++k) {
      size_t pos = rng() % (bad.size() - internal::kFooterSize);
      bad[pos] = static_cast<char>(rng());
    }
    auto r = IndexReader::FromBytes(bad, no_verify);
    if (!r.ok()) {
      EXPECT_TRUE(r.status().code() == absl::StatusCode::kDataLoss ||
                  r.status().code() == absl::StatusCode::kUnimplemented)
          << r.status();
      continue;
    }
    ++opened;
    Exercise(**r);
  }
  EXPECT_GT(opened, 100);  // the test really exercised queries over corrupt data
}

class IndexFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/norn-index-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(IndexFileTest, WriteAtomicallyAndOpenWithMmap) {
  IndexBuilder b;
  for (const auto& s : SmallData())
    ASSERT_TRUE(b.Add(s.labels, s.chunks).ok());
  const std::string path = dir_ + "/fake.nidx";
  ASSERT_TRUE(WriteFileAtomically(path, "old contents").ok());
  ASSERT_TRUE(WriteIndexFile(path, b).ok());
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "fake.nidx");  // no temporary file left behind
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(std::filesystem::file_size(path), b.Encode()->size());

  auto r = IndexReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<Matcher> shop = {Matcher::Eq("ns", "shop")};
  EXPECT_THAT(Names((*r)->Series(shop, kMinTime, kMaxTime)),
              ElementsAre(R"({app="api", env="prod", ns="shop"})",
                          R"({app="web", env="prod", ns="shop"})"));
  EXPECT_THAT(Strs((*r)->LabelValues("app")), ElementsAre("api", "db", "web"));
}

TEST_F(IndexFileTest, OpenErrors) {
  EXPECT_EQ(IndexReader::Open(dir_ + "/missing").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/empty", "").ok());
  EXPECT_EQ(IndexReader::Open(dir_ + "/empty").status().code(), absl::StatusCode::kDataLoss);
  std::string bytes = EncodeSmall();
  bytes[bytes.size() / 2] ^= 0x40;
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/bad", bytes).ok());
  auto r = IndexReader::Open(dir_ + "/bad");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("checksum"));
  EXPECT_FALSE(WriteFileAtomically(dir_ + "/no/such/dir/x", "x").ok());
}

}  // namespace
}  // namespace norn::index
