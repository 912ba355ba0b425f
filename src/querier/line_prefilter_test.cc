// NeedlePrefilter over real chunk iterators: cut blocks (lines back to back), a head copy whose
// lines have metadata bytes between them, and a head appended out of order. A line is kept
// exactly when it holds a needle of every group; hits that run across two lines, or lie in the
// bytes between lines, keep nothing.
#include "querier/line_prefilter.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "logql/log/line_filter.h"
#include "storage/chunk/memchunk.h"

namespace norn::querier {
namespace {

using logql_log::LineMatchType;

struct Read {
  std::vector<std::string> lines;
  chunk::IteratorStats stats;
};

Read ReadAll(const chunk::MemChunk& c, const chunk::LinePrefilter* prefilter,
             chunk::Direction direction = chunk::Direction::kForward) {
  chunk::IteratorOptions o;
  o.direction = direction;
  o.line_prefilter = prefilter;
  auto it = c.Iterator(o);
  Read r;
  while (it->Next())
    r.lines.emplace_back(it->entry().line);
  EXPECT_TRUE(it->status().ok()) << it->status();
  r.stats = it->stats();
  return r;
}

std::unique_ptr<logql_log::LineFilter> Filter(LineMatchType type, std::string_view match) {
  auto f = logql_log::NewLineFilter(type, match);
  EXPECT_TRUE(f.ok()) << f.status();
  return std::move(*f);
}

// Lines of `all` (in order) that `f` passes.
std::vector<std::string> Passing(const std::vector<std::string>& all,
                                 const logql_log::LineFilter& f) {
  std::vector<std::string> out;
  for (const auto& l : all)
    if (f.Matches(l))
      out.push_back(l);
  return out;
}

// Lines built so that needles sit at the start and end of lines and across line boundaries.
std::vector<std::string> TrickyLines() {
  return {
      "error at the start",
      "ends with err",  // with the next line: "err" + "or ..." spells error across them
      "or begins here",
      "nothing to see",
      "the very end: error",
      "ERROR in capitals",
      "GET /api/v1/orders/42 200",
      "GET /api/v1/orders/x 200",
      "GET /api/v1/cart/7 404",
      "",
      "e",
      "rror alone",
      "GET /api/v1/users/3 200 error",
      "GET /api/v1/or",  // with the next line: /api/v1/orders/ across them
      "ders/5 200",
      "GET /api/v1/users/1 then /api/v1/cart/9",  // the needle at the prefix's second hit
  };
}

chunk::MemChunk CutChunk(const std::vector<std::string>& lines, size_t block_size) {
  chunk::ChunkOptions o;
  o.block_size = block_size;
  chunk::MemChunk c(o);
  int64_t ts = 1000;
  for (const auto& l : lines)
    EXPECT_TRUE(c.Append(ts++, l).ok());
  EXPECT_TRUE(c.Close().ok());
  return c;
}

TEST(NeedlePrefilterTest, KeepsExactlyTheLinesWithTheNeedle) {
  const std::vector<std::string> lines = TrickyLines();
  for (size_t block_size : {size_t{1}, size_t{64}, size_t{1} << 20}) {
    const chunk::MemChunk c = CutChunk(lines, block_size);
    for (const char* needle : {"error", "rror", "e", "or", "/api/v1/", "GET /api/v1/cart/7 404"}) {
      auto f = Filter(LineMatchType::kContains, needle);
      auto p = NeedlePrefilter::For(*f);
      ASSERT_NE(p, nullptr);
      for (auto dir : {chunk::Direction::kForward, chunk::Direction::kBackward}) {
        Read r = ReadAll(c, p.get(), dir);
        std::vector<std::string> want = Passing(lines, *f);
        if (dir == chunk::Direction::kBackward)
          std::reverse(want.begin(), want.end());
        EXPECT_EQ(r.lines, want) << "needle " << needle << " block_size " << block_size;
        EXPECT_EQ(r.stats.entries + r.stats.prefiltered_entries, lines.size());
      }
    }
  }
}

TEST(NeedlePrefilterTest, CaseInsensitiveAlternativesAndChains) {
  const std::vector<std::string> lines = TrickyLines();
  const chunk::MemChunk c = CutChunk(lines, 1 << 20);
  // (?i) literal: a case-insensitive needle.
  {
    auto f = Filter(LineMatchType::kRegex, "(?i)error");
    auto p = NeedlePrefilter::For(*f);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ReadAll(c, p.get()).lines, Passing(lines, *f));
  }
  // Alternatives: one group of two needles.
  {
    auto f = logql_log::NewLineFilterOr(LineMatchType::kContains, {"cart", "start"});
    ASSERT_TRUE(f.ok());
    auto p = NeedlePrefilter::For(**f);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ReadAll(c, p.get()).lines, Passing(lines, **f));
  }
  // Two filters: two groups, both required.
  {
    std::vector<std::unique_ptr<logql_log::LineFilter>> fs;
    fs.push_back(Filter(LineMatchType::kContains, "GET"));
    fs.push_back(Filter(LineMatchType::kContains, "200"));
    auto f = logql_log::NewAndLineFilter(std::move(fs));
    auto p = NeedlePrefilter::For(*f);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ReadAll(c, p.get()).lines,
              (std::vector<std::string>{"GET /api/v1/orders/42 200", "GET /api/v1/orders/x 200",
                                        "GET /api/v1/users/3 200 error"}));
  }
  // A regex with literal alternatives keeps a superset of its matches, each holding one
  // (found by a scan for their common prefix, /api/v1/).
  {
    auto f = Filter(LineMatchType::kRegex, "/api/v1/(orders|cart)/[0-9]+");
    auto p = NeedlePrefilter::For(*f);
    ASSERT_NE(p, nullptr);
    const std::vector<std::string> kept = ReadAll(c, p.get()).lines;
    EXPECT_EQ(kept, (std::vector<std::string>{"GET /api/v1/orders/42 200",
                                              "GET /api/v1/orders/x 200", "GET /api/v1/cart/7 404",
                                              "GET /api/v1/users/1 then /api/v1/cart/9"}));
    for (const auto& l : Passing(lines, *f))
      EXPECT_NE(std::find(kept.begin(), kept.end(), l), kept.end()) << l;
  }
}

TEST(NeedlePrefilterTest, FiltersWithoutNeedlesHaveNoPrefilter) {
  EXPECT_EQ(NeedlePrefilter::For(*Filter(LineMatchType::kNotContains, "error")), nullptr);
  EXPECT_EQ(NeedlePrefilter::For(*Filter(LineMatchType::kContains, "")), nullptr);
  EXPECT_EQ(NeedlePrefilter::For(*Filter(LineMatchType::kRegex, "[0-9]+")), nullptr);
}

// The head is read through a sorted copy whose lines have their metadata between them: a
// needle found only in metadata keeps nothing.
TEST(NeedlePrefilterTest, HeadCopyWithMetadataBetweenLines) {
  chunk::MemChunk c;
  std::vector<std::string> want;
  for (int i = 0; i < 50; ++i) {
    const std::string line =
        i % 7 == 3 ? "found the needle " + std::to_string(i) : "plain line " + std::to_string(i);
    const std::vector<Label> md = {Label{"note", "needle in metadata"}};
    ASSERT_TRUE(c.Append(1000 + i, line, md).ok());
    if (i % 7 == 3)
      want.push_back(line);
  }
  auto f = Filter(LineMatchType::kContains, "needle");
  auto p = NeedlePrefilter::For(*f);
  const Read with = ReadAll(c, p.get());
  EXPECT_EQ(with.lines, want);
  EXPECT_EQ(with.stats.prefiltered_entries, 43u);
}

// A copy of entries given out of time order is sorted, so its lines are no longer in memory
// order: each line is then searched on its own.
TEST(NeedlePrefilterTest, LinesOutOfMemoryOrder) {
  std::vector<std::string> lines;
  std::vector<chunk::EntryView> views;
  for (int i = 0; i < 50; ++i)
    lines.push_back(i % 7 == 3 ? "found the needle " + std::to_string(i)
                               : "plain line " + std::to_string(i));
  for (int i = 0; i < 50; ++i)
    views.push_back(chunk::EntryView{i % 2 ? 1000 + i : 2000 - i, lines[i], {}});
  chunk::DecodedBlock block;
  block.LoadCopy(views, 0, 1 << 30);
  ASSERT_FALSE(block.lines_ascending());
  auto p = NeedlePrefilter::For(*Filter(LineMatchType::kContains, "needle"));
  std::vector<uint8_t> keep(block.size(), 7);
  p->Mark(block, 0, block.size(), keep);
  size_t kept = 0;
  for (size_t i = 0; i < block.size(); ++i) {
    EXPECT_EQ(keep[i], block.line(i).find("needle") != std::string_view::npos ? 1 : 0) << i;
    kept += keep[i];
  }
  EXPECT_EQ(kept, 7u);
  // A sub-range leaves the rest of `keep` alone.
  std::vector<uint8_t> part(block.size(), 7);
  p->Mark(block, 10, 20, part);
  EXPECT_EQ(part[9], 7);
  EXPECT_EQ(part[20], 7);
}

}  // namespace
}  // namespace norn::querier
