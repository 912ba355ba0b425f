#include "storage/chunk/token_filter.h"

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/chunk/codec.h"
#include "storage/chunk/testdata.h"

namespace norn::chunk {
namespace {

std::vector<std::string_view> Views(const std::vector<std::string>& v) {
  return std::vector<std::string_view>(v.begin(), v.end());
}

TEST(TokenFilterTest, EmptyFilterAcceptsEverything) {
  TokenFilter f;
  EXPECT_TRUE(f.empty());
  EXPECT_TRUE(f.MayContain("anything"));
  std::vector<std::string> lines = {"ab", "", "xyz"};  // nothing of gram length
  TokenFilter g = TokenFilter::Build(Views(lines), 1024);
  EXPECT_TRUE(g.empty());
  EXPECT_TRUE(g.MayContain("nothing here"));
}

TEST(TokenFilterTest, BasicMembershipIsCaseSensitive) {
  std::vector<std::string> lines = {"level=error msg=\"connection refused\"",
                                    "trace 4bf92f3577b34da6a3ce929d0e0e4736 done"};
  TokenFilter f = TokenFilter::Build(Views(lines), 4096);
  ASSERT_FALSE(f.empty());
  EXPECT_TRUE(f.MayContain("error"));
  EXPECT_TRUE(f.MayContain("4bf92f3577b34da6a3ce929d0e0e4736"));
  EXPECT_TRUE(f.MayContain("tion ref"));
  EXPECT_TRUE(f.MayContain("abc"));  // shorter than a gram: cannot test
  EXPECT_FALSE(f.MayContain("ERROR"));
  EXPECT_FALSE(f.MayContain("timeout"));
  EXPECT_FALSE(f.MayContain("00000000000000000000000000000000"));
  // A needle spanning two lines is not a substring of either.
  EXPECT_FALSE(f.MayContain("refused\"trace"));
}

// The property that makes block skipping safe: any substring (length >= 4) of any line of the
// block passes. Random binary and text lines, many sizes and budgets.
TEST(TokenFilterTest, NoFalseNegativesOnRandomData) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    const int nlines = 1 + static_cast<int>(rng() % 300);
    const int alphabet = round % 3 == 0 ? 256 : (round % 3 == 1 ? 16 : 64);
    std::vector<std::string> lines;
    for (int i = 0; i < nlines; ++i) {
      std::string l(rng() % 200, '\0');
      for (char& c : l)
        c = static_cast<char>(alphabet == 256 ? rng() : 'A' + rng() % alphabet);
      lines.push_back(std::move(l));
    }
    const size_t budget = 8 + rng() % 4096;
    TokenFilter f = TokenFilter::Build(Views(lines), budget);
    EXPECT_LE(f.ByteSize(), std::max<size_t>(8, budget));
    std::string encoded;
    f.EncodeTo(&encoded);
    TokenFilter g;
    std::string_view in(encoded);
    ASSERT_TRUE(g.DecodeFrom(&in));
    EXPECT_TRUE(in.empty());
    for (int q = 0; q < 500; ++q) {
      const std::string& l = lines[rng() % lines.size()];
      if (l.size() < TokenFilter::kGramSize)
        continue;
      const size_t len = TokenFilter::kGramSize + rng() % (l.size() - TokenFilter::kGramSize + 1);
      const size_t pos = rng() % (l.size() - len + 1);
      const std::string_view needle = std::string_view(l).substr(pos, len);
      ASSERT_TRUE(f.MayContain(needle)) << "round " << round;
      ASSERT_TRUE(g.MayContain(needle)) << "round " << round;
    }
  }
}

TEST(TokenFilterTest, RejectsMostAbsentTraceIdsOnRealisticLogs) {
  testdata::LogGenerator gen(5);
  for (int kind = 0; kind < 4; ++kind) {
    std::vector<std::string> lines;
    size_t bytes = 0;
    while (bytes < 256 * 1024) {
      lines.push_back(gen.Line(kind, 1700000000000000000 + bytes));
      bytes += lines.back().size();
    }
    // The chunk's budget: 5% of the block compressed with zstd (the best ratio, smallest filter).
    std::string joined, compressed;
    for (const std::string& l : lines)
      joined += l;
    ASSERT_TRUE(GetCodec(Encoding::kZstd)->Compress(joined, &compressed).ok());
    TokenFilter f = TokenFilter::Build(Views(lines), compressed.size() / 20);
    int positives = 0;
    constexpr int kQueries = 5000;
    for (int i = 0; i < kQueries; ++i)
      positives += f.MayContain(gen.Hex(32));
    // JSON lines carrying two random hex ids each are the worst case: about half of all 65536
    // hex 4-grams occur in such a block and the filter runs nearly full.
    const double fp = static_cast<double>(positives) / kQueries;
    std::printf("kind %d: filter %zu bytes, fill %.3f, k %u, fp(hex32) %.4f\n", kind, f.ByteSize(),
                f.FillRatio(), f.num_hashes(), fp);
    EXPECT_LT(fp, kind == 1 ? 0.25 : 0.05) << "kind " << kind;
    // Needles that are present always pass.
    for (int i = 0; i < 100; ++i) {
      const std::string& l = lines[gen.Uniform(0, static_cast<int>(lines.size()) - 1)];
      EXPECT_TRUE(f.MayContain(std::string_view(l).substr(l.size() / 3, 20)));
    }
  }
}

TEST(TokenFilterTest, GenerousBudgetShrinksAndUsesMoreHashes) {
  std::vector<std::string> lines = {"the quick brown fox jumps over the lazy dog"};
  TokenFilter f = TokenFilter::Build(Views(lines), 1 << 20);
  EXPECT_LT(f.ByteSize(), 200u);
  EXPECT_GT(f.num_hashes(), 1u);
  EXPECT_TRUE(f.MayContain("lazy dog"));
  int positives = 0;
  testdata::LogGenerator gen(1);
  for (int i = 0; i < 1000; ++i)
    positives += f.MayContain(gen.Hex(8));
  EXPECT_LT(positives, 20);
}

TEST(TokenFilterTest, DecodeRejectsTruncatedAndInvalid) {
  std::vector<std::string> lines = {"some line with content"};
  TokenFilter f = TokenFilter::Build(Views(lines), 64);
  std::string enc;
  f.EncodeTo(&enc);
  for (size_t n = 0; n < enc.size(); ++n) {
    TokenFilter g;
    std::string_view in = std::string_view(enc).substr(0, n);
    EXPECT_FALSE(g.DecodeFrom(&in)) << n;
  }
  std::string bad = enc;
  bad[1] = 0;  // k = 0
  TokenFilter g;
  std::string_view in(bad);
  EXPECT_FALSE(g.DecodeFrom(&in));
}

}  // namespace
}  // namespace norn::chunk
