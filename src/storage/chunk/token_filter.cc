#include "storage/chunk/token_filter.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "storage/chunk/coding.h"

namespace norn::chunk {
namespace {

// Little-endian load of the 4 bytes at `p`: the n-gram key.
inline uint32_t LoadGram(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  if constexpr (std::endian::native == std::endian::big)
    v = __builtin_bswap32(v);
  return v;
}

// One 64-bit multiply by the golden-ratio constant (Fibonacci hashing). The high half is the
// first hash, the low half (forced odd) the step for double hashing. Part of the on-disk format
// (docs/formats.md): changing it breaks every stored filter.
inline uint64_t HashGram(uint32_t gram) {
  return gram * 0x9E3779B97F4A7C15ULL;
}

// Maps a 32-bit hash onto [0, n) without division (Lemire's multiply-shift range reduction).
inline uint64_t Reduce(uint32_t h, uint64_t n) {
  return (static_cast<uint64_t>(h) * n) >> 32;
}

constexpr double kMaxBitsPerGram = 10.0;
// Above this fill ratio a filter rejects too little to be worth its bytes.
constexpr double kMaxUsefulFill = 0.985;

}  // namespace

void TokenFilter::Insert(std::span<const std::string_view> lines) {
  const uint64_t nbits = words_.size() * 64;
  uint64_t* words = words_.data();
  const uint32_t k = num_hashes_;
  for (std::string_view line : lines) {
    if (line.size() < kGramSize)
      continue;
    const char* p = line.data();
    const char* end = p + line.size() - kGramSize + 1;
    if (k == 1) {
      for (; p < end; ++p) {
        const uint64_t bit = Reduce(static_cast<uint32_t>(HashGram(LoadGram(p)) >> 32), nbits);
        words[bit >> 6] |= uint64_t{1} << (bit & 63);
      }
      continue;
    }
    for (; p < end; ++p) {
      const uint64_t h = HashGram(LoadGram(p));
      uint32_t h1 = static_cast<uint32_t>(h >> 32);
      const uint32_t h2 = static_cast<uint32_t>(h) | 1;
      for (uint32_t i = 0; i < k; ++i, h1 += h2) {
        const uint64_t bit = Reduce(h1, nbits);
        words[bit >> 6] |= uint64_t{1} << (bit & 63);
      }
    }
  }
}

TokenFilter TokenFilter::Build(std::span<const std::string_view> lines, size_t budget_bytes) {
  TokenFilter f;
  bool any = false;
  for (std::string_view line : lines) {
    if (line.size() >= kGramSize) {
      any = true;
      break;
    }
  }
  if (!any)
    return f;  // nothing testable: an empty filter answers true, which is exact enough
  const size_t words = std::max<size_t>(1, budget_bytes / 8);
  f.words_.assign(words, 0);
  f.num_hashes_ = 1;
  f.Insert(lines);

  // Estimate the number of distinct n-grams from the fill of the k=1 filter (linear counting),
  // then resize when the budget is generous: more bits than ~10 per n-gram buy little.
  const double m = static_cast<double>(words * 64);
  const double fill = f.FillRatio();
  if (fill > kMaxUsefulFill)
    return TokenFilter();
  const double n = std::max(1.0, -m * std::log1p(-fill));
  const double bits_per_gram = m / n;
  if (bits_per_gram < 2.0)
    return f;  // k=1 is optimal below ~1.4 bits/gram; close enough to 2
  const double target_bits = std::min(m, kMaxBitsPerGram * n);
  const size_t new_words = std::max<size_t>(1, static_cast<size_t>(std::ceil(target_bits / 64)));
  const double bpg = static_cast<double>(new_words * 64) / n;
  const uint32_t k =
      std::clamp<uint32_t>(static_cast<uint32_t>(std::lround(bpg * 0.6931)), 1, kMaxHashes);
  if (k == 1 && new_words == words)
    return f;
  f.words_.assign(new_words, 0);
  f.num_hashes_ = k;
  f.Insert(lines);
  return f;
}

bool TokenFilter::TestGram(uint32_t gram) const {
  const uint64_t nbits = words_.size() * 64;
  const uint64_t h = HashGram(gram);
  uint32_t h1 = static_cast<uint32_t>(h >> 32);
  if (num_hashes_ == 1) {
    const uint64_t bit = Reduce(h1, nbits);
    return (words_[bit >> 6] >> (bit & 63)) & 1;
  }
  const uint32_t h2 = static_cast<uint32_t>(h) | 1;
  for (uint32_t i = 0; i < num_hashes_; ++i, h1 += h2) {
    const uint64_t bit = Reduce(h1, nbits);
    if (((words_[bit >> 6] >> (bit & 63)) & 1) == 0)
      return false;
  }
  return true;
}

bool TokenFilter::MayContain(std::string_view needle) const {
  if (words_.empty() || needle.size() < kGramSize)
    return true;
  const char* p = needle.data();
  const char* end = p + needle.size() - kGramSize + 1;
  for (; p < end; ++p) {
    if (!TestGram(LoadGram(p)))
      return false;
  }
  return true;
}

double TokenFilter::FillRatio() const {
  if (words_.empty())
    return 0;
  uint64_t ones = 0;
  for (uint64_t w : words_)
    ones += std::popcount(w);
  return static_cast<double>(ones) / static_cast<double>(words_.size() * 64);
}

void TokenFilter::EncodeTo(std::string* out) const {
  internal::PutVarint(out, words_.size());
  if (words_.empty())
    return;
  out->push_back(static_cast<char>(num_hashes_));
  for (uint64_t w : words_)
    internal::PutFixed64(out, w);
}

bool TokenFilter::DecodeFrom(std::string_view* in) {
  uint64_t nwords = 0;
  if (!internal::GetVarint(in, &nwords))
    return false;
  words_.clear();
  num_hashes_ = 0;
  if (nwords == 0)
    return true;
  uint8_t k = 0;
  if (!internal::GetByte(in, &k) || k == 0 || k > kMaxHashes)
    return false;
  if (nwords > in->size() / 8)
    return false;
  words_.resize(nwords);
  for (uint64_t i = 0; i < nwords; ++i)
    words_[i] = internal::LoadFixed64(in->data() + 8 * i);
  in->remove_prefix(nwords * 8);
  num_hashes_ = k;
  return true;
}

}  // namespace norn::chunk
