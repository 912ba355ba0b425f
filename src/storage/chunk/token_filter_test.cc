#include "storage/chunk/token_filter.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
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

// A filter decoded with an owner views the encoded bytes: it keeps them alive by itself, and so
// do its copies, after every other reference is gone (ASan runs would catch a dangling view).
TEST(TokenFilterTest, DecodedViewKeepsItsBytesAlive) {
  std::vector<std::string> lines = {"trace 4bf92f3577b34da6a3ce929d0e0e4736 done",
                                    "level=error msg=\"connection refused\""};
  TokenFilter built = TokenFilter::Build(Views(lines), 64);
  ASSERT_FALSE(built.empty());
  auto bytes = std::make_shared<std::string>("prefix");
  const size_t at = bytes->size();
  built.EncodeTo(bytes.get());
  bytes->append("suffix");
  TokenFilter copy;
  {
    TokenFilter viewed;
    std::string_view in = std::string_view(*bytes).substr(at);
    ASSERT_TRUE(viewed.DecodeFrom(&in, bytes));
    EXPECT_EQ(in, "suffix");
    EXPECT_EQ(viewed.num_bits(), built.num_bits());
    EXPECT_EQ(viewed.FillRatio(), built.FillRatio());
    copy = viewed;
  }
  bytes.reset();
  EXPECT_TRUE(copy.MayContain("4bf92f3577b34da6a3ce929d0e0e4736"));
  EXPECT_TRUE(copy.MayContain("connection"));
  EXPECT_FALSE(copy.MayContain("timeout"));
  std::string again;
  copy.EncodeTo(&again);
  std::string first;
  built.EncodeTo(&first);
  EXPECT_EQ(again, first);
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

// The straightforward Build of the format spec (docs/formats.md, "Chunks"): every 4-gram of every
// line, k=1 pass, size/k from linear counting, full second pass. Build's optimisations (early
// stop on saturation, skipping repeated grams) must give byte-identical filters.
std::string ReferenceBuild(const std::vector<std::string>& lines, size_t budget_bytes) {
  auto insert = [&](std::vector<uint64_t>& words, uint32_t k) {
    const uint64_t nbits = words.size() * 64;
    for (const std::string& line : lines) {
      for (size_t i = 0; i + 4 <= line.size(); ++i) {
        uint32_t gram;
        std::memcpy(&gram, line.data() + i, 4);
        const uint64_t h = gram * 0x9E3779B97F4A7C15ULL;
        uint32_t h1 = static_cast<uint32_t>(h >> 32);
        const uint32_t h2 = static_cast<uint32_t>(h) | 1;
        for (uint32_t j = 0; j < k; ++j, h1 += h2) {
          const uint64_t bit = (static_cast<uint64_t>(h1) * nbits) >> 32;
          words[bit >> 6] |= uint64_t{1} << (bit & 63);
        }
      }
    }
  };
  auto encode = [](const std::vector<uint64_t>& words, uint32_t k) {
    std::string enc;
    // Varint word count, k, little-endian words (the documented encoding).
    uint64_t n = words.size();
    while (n >= 0x80) {
      enc.push_back(static_cast<char>(n | 0x80));
      n >>= 7;
    }
    enc.push_back(static_cast<char>(n));
    if (words.empty())
      return enc;
    enc.push_back(static_cast<char>(k));
    for (uint64_t w : words) {
      for (int b = 0; b < 8; ++b)
        enc.push_back(static_cast<char>(w >> (8 * b)));
    }
    return enc;
  };
  if (std::none_of(lines.begin(), lines.end(), [](const std::string& l) { return l.size() >= 4; }))
    return encode({}, 0);
  const size_t words = std::max<size_t>(1, budget_bytes / 8);
  std::vector<uint64_t> w(words, 0);
  insert(w, 1);
  uint64_t ones = 0;
  for (uint64_t x : w)
    ones += std::popcount(x);
  const double m = static_cast<double>(words * 64);
  const double fill = static_cast<double>(ones) / m;
  if (fill > 0.985)
    return encode({}, 0);
  const double n = std::max(1.0, -m * std::log1p(-fill));
  if (m / n < 2.0)
    return encode(w, 1);
  const double target_bits = std::min(m, 10.0 * n);
  const size_t new_words = std::max<size_t>(1, static_cast<size_t>(std::ceil(target_bits / 64)));
  const uint32_t k = std::clamp<uint32_t>(
      static_cast<uint32_t>(std::lround(static_cast<double>(new_words * 64) / n * 0.6931)), 1, 8);
  if (k == 1 && new_words == words)
    return encode(w, 1);
  std::vector<uint64_t> w2(new_words, 0);
  insert(w2, k);
  return encode(w2, k);
}

TEST(TokenFilterTest, BuildIsByteIdenticalToTheReferenceAlgorithm) {
  std::mt19937_64 rng(7);
  testdata::LogGenerator gen(3);
  int saturated = 0, multi = 0;
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE(round);
    std::vector<std::string> lines;
    const int shape = round % 5;
    const int nlines = 1 + static_cast<int>(rng() % (shape == 4 ? 30 : 400));
    for (int i = 0; i < nlines; ++i) {
      std::string line;
      switch (shape) {
        case 0:
          line = gen.Line(3, i);
          break;
        case 1:  // few distinct bytes, including NULs: gram 0 and heavy repetition
          line.resize(rng() % 300);
          for (char& c : line)
            c = "\0\0ab"[rng() % 4];
          break;
        case 2:  // random binary
          line.resize(rng() % 200);
          for (char& c : line)
            c = static_cast<char>(rng());
          break;
        case 3:  // one repeated line
          line = "GET /api/v1/users HTTP/1.1 200";
          break;
        default:
          line.resize(rng() % 8);  // around the gram size
          for (char& c : line)
            c = static_cast<char>('a' + rng() % 3);
      }
      lines.push_back(std::move(line));
    }
    const size_t budget = (round % 3 == 0) ? rng() % 64 : 8 + rng() % 8192;
    const TokenFilter f = TokenFilter::Build(Views(lines), budget);
    std::string got;
    f.EncodeTo(&got);
    ASSERT_EQ(got, ReferenceBuild(lines, budget)) << "shape " << shape << " budget " << budget;
    saturated += f.empty();
    multi += f.num_hashes() > 1;
  }
  // Both the early-stop and the repeated-gram paths were exercised.
  EXPECT_GT(saturated, 10);
  EXPECT_GT(multi, 10);
}

// Filters above 2^20 bits are built in place rather than through the byte map: same bytes.
TEST(TokenFilterTest, LargeFiltersAreByteIdenticalToo) {
  std::mt19937_64 rng(11);
  std::vector<std::string> lines(600);
  for (std::string& line : lines) {
    line.resize(500);
    for (char& c : line)
      c = static_cast<char>(rng());
  }
  for (size_t budget : {size_t{200} << 10, size_t{1} << 20}) {
    SCOPED_TRACE(budget);
    const TokenFilter f = TokenFilter::Build(Views(lines), budget);
    ASSERT_GT(f.num_bits(), uint64_t{1} << 20);  // pass 2 also above the byte-map limit
    ASSERT_GT(f.num_hashes(), 1u);
    std::string got;
    f.EncodeTo(&got);
    EXPECT_EQ(got, ReferenceBuild(lines, budget));
  }
  // Just above the limit: the k=1 estimate keeps the size, k > 1 rebuild in place.
  const TokenFilter g = TokenFilter::Build(Views(lines), 160 << 10);
  std::string got;
  g.EncodeTo(&got);
  EXPECT_EQ(got, ReferenceBuild(lines, 160 << 10));
}

// A fixed input's encoding, pinned: existing chunks must keep decoding to the same answers.
TEST(TokenFilterTest, EncodingIsStable) {
  std::vector<std::string> lines = {"level=info msg=\"request done\" status=200",
                                    "level=error msg=\"connection refused\" status=503"};
  TokenFilter f = TokenFilter::Build(Views(lines), 64);
  std::string enc;
  f.EncodeTo(&enc);
  EXPECT_EQ(enc, ReferenceBuild(lines, 64));
  EXPECT_EQ(f.num_hashes(), 5u);
  uint64_t sum = 0;
  for (unsigned char c : enc)
    sum = sum * 131 + c;
  // Computed with the original (pre-optimisation) implementation.
  EXPECT_EQ(enc.size(), 66u);
  EXPECT_EQ(sum, 14614456252534563198ull) << "golden checksum of the encoding";
}

}  // namespace
}  // namespace norn::chunk
