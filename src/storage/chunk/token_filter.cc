#include "storage/chunk/token_filter.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/cpu.h"
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

namespace {

// Build sets bits in a byte map (one byte per bit, 1 = set) and packs it into words at the end:
// per gram that is one plain store instead of a load-shift-or-store on a word, and the stores
// of neighbouring grams do not depend on each other. Used up to 2^20 bits (a 1 MiB map, filter
// budgets up to 128 KiB; blocks get ~1-4 KiB); larger filters set bits in place.
constexpr uint64_t kByteMapMaxBits = uint64_t{1} << 20;

// A zeroed map of n bytes, reused per thread (Build runs once per cut block).
uint8_t* ZeroedByteMap(size_t n) {
  thread_local std::unique_ptr<uint8_t[]> buf;
  thread_local size_t cap = 0;
  if (cap < n) {
    buf.reset(new uint8_t[n]);
    cap = n;
  }
  std::memset(buf.get(), 0, n);
  return buf.get();
}

inline uint64_t LoadLE64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big)
    v = __builtin_bswap64(v);
  return v;
}

// Number of set entries of a map whose length is a multiple of 64.
uint64_t CountMap(const uint8_t* map, uint64_t n) {
  uint64_t ones = 0;
  for (uint64_t i = 0; i < n; i += 8)  // eight 0/1 bytes summed by one multiply
    ones += (LoadLE64(map + i) * 0x0101010101010101ULL) >> 56;
  return ones;
}

// Packs map bytes 64w..64w+63 into bits 0..63 of words[w].
void PackMap(const uint8_t* map, uint64_t* words, size_t nwords) {
  for (size_t w = 0; w < nwords; ++w) {
    uint64_t word = 0;
    for (int q = 0; q < 8; ++q) {
      // Byte j (0 or 1) of the 8 lands on bit 56 + j; no two partial products overlap.
      word |= ((LoadLE64(map + 64 * w + 8 * q) * 0x0102040810204080ULL) >> 56) << (8 * q);
    }
    words[w] = word;
  }
}

// Fill check shared by both k=1 variants. It is the very expression FillRatio() > kMaxUsefulFill
// of Build(), and the fill only grows, so stopping when it holds never drops a filter that a
// full pass would have kept.
inline bool Saturated(uint64_t ones, uint64_t nbits) {
  return static_cast<double>(ones) / static_cast<double>(nbits) > kMaxUsefulFill;
}

// Sets the map entry of each gram starting in [p, end).
inline void InsertGramsK1(const char* p, const char* end, uint8_t* map, uint64_t nbits) {
  for (; p < end; ++p)
    map[Reduce(static_cast<uint32_t>(HashGram(LoadGram(p)) >> 32), nbits)] = 1;
}

#if defined(__x86_64__)
// The high 32 bits of the 64-bit product of each 32-bit lane of `a` with the 32-bit value `b`
// holds in each 64-bit lane.
__attribute__((target("avx2"), always_inline)) inline __m256i MulHi32(__m256i a, __m256i b,
                                                                      __m256i odd_lanes) {
  const __m256i even = _mm256_srli_epi64(_mm256_mul_epu32(a, b), 32);
  const __m256i odd = _mm256_and_si256(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b), odd_lanes);
  return _mm256_or_si256(even, odd);
}

// InsertGramsK1 for a line's grams, eight at a time: the 64-bit multiply of HashGram and the
// range reduction, done in 32-bit lanes, give exactly the scalar entries (AVX2 has no 64-bit
// lane multiply, so each is assembled from 32x32->64 products). Building the filter was a
// twelfth of the ingest CPU; this takes about two thirds of the scalar time.
__attribute__((target("avx2"))) void InsertLineK1Avx2(std::string_view line, uint8_t* map,
                                                      uint64_t nbits) {
  // Gram j of eight starts at byte j: lane 0 (grams 0-3) reads bytes 0-6, lane 1 (grams 4-7)
  // bytes 4-10 of the same 16 bytes, broadcast into both lanes.
  const __m256i grams_of = _mm256_setr_epi8(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6,  //
                                            4, 5, 6, 7, 5, 6, 7, 8, 6, 7, 8, 9, 7, 8, 9, 10);
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ULL;  // HashGram's
  const __m256i mul_hi = _mm256_set1_epi32(static_cast<int>(kMul >> 32));
  const __m256i mul_lo = _mm256_set1_epi64x(static_cast<int64_t>(kMul & 0xFFFFFFFFu));
  const __m256i n = _mm256_set1_epi64x(static_cast<int64_t>(nbits));
  const __m256i odd_lanes = _mm256_set1_epi64x(static_cast<int64_t>(0xFFFFFFFF00000000ULL));
  alignas(32) uint32_t bit[8];
  const char* p = line.data();
  const char* line_end = p + line.size();
  for (; p + 16 <= line_end; p += 8) {
    const __m256i bytes =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i g = _mm256_shuffle_epi8(bytes, grams_of);
    // High half of gram * kMul mod 2^64: gram * hi + (gram * lo) >> 32, mod 2^32.
    const __m256i h =
        _mm256_add_epi32(_mm256_mullo_epi32(g, mul_hi), MulHi32(g, mul_lo, odd_lanes));
    _mm256_store_si256(reinterpret_cast<__m256i*>(bit), MulHi32(h, n, odd_lanes));  // Reduce
    for (uint32_t b : bit)
      map[b] = 1;
  }
  InsertGramsK1(p, line_end - TokenFilter::kGramSize + 1, map, nbits);
}
#endif

// The k=1 filter into `map` (nbits entries). Returns false as soon as it is saturated, so a
// block full of random fields (hex ids...) stops after a few times nbits grams, not all. The
// check runs about every nbits grams: an eighth of a gram's work per gram at most.
bool InsertK1Map(std::span<const std::string_view> lines, uint8_t* map, uint64_t nbits) {
#if defined(__x86_64__)
  const bool avx2 = CpuHasAvx2();
#else
  constexpr bool avx2 = false;
#endif
  uint64_t since_check = 0;
  for (std::string_view line : lines) {
    if (line.size() < TokenFilter::kGramSize)
      continue;
    since_check += line.size() - TokenFilter::kGramSize + 1;
    if (avx2) {
#if defined(__x86_64__)
      InsertLineK1Avx2(line, map, nbits);
#endif
    } else {
      InsertGramsK1(line.data(), line.data() + line.size() - TokenFilter::kGramSize + 1, map,
                    nbits);
    }
    if (since_check >= nbits) {
      since_check = 0;
      if (Saturated(CountMap(map, nbits), nbits))
        return false;
    }
  }
  return true;
}

// As InsertK1Map, setting bits in place (filters above kByteMapMaxBits).
bool InsertK1Words(std::span<const std::string_view> lines, uint64_t* words, size_t nwords) {
  const uint64_t nbits = static_cast<uint64_t>(nwords) * 64;
  uint64_t since_check = 0;
  for (std::string_view line : lines) {
    if (line.size() < TokenFilter::kGramSize)
      continue;
    const char* p = line.data();
    const char* end = p + line.size() - TokenFilter::kGramSize + 1;
    since_check += static_cast<uint64_t>(end - p);
    for (; p < end; ++p) {
      const uint64_t bit = Reduce(static_cast<uint32_t>(HashGram(LoadGram(p)) >> 32), nbits);
      words[bit >> 6] |= uint64_t{1} << (bit & 63);
    }
    if (since_check >= nbits) {
      since_check = 0;
      uint64_t ones = 0;
      for (size_t i = 0; i < nwords; ++i)
        ones += static_cast<uint64_t>(std::popcount(words[i]));
      if (Saturated(ones, nbits))
        return false;
    }
  }
  return true;
}

// Sets the k double-hashed bits of every gram through `set(bit)`. Log lines repeat most of
// their 4-grams and inserting a gram twice changes nothing, so a small direct-mapped table of
// recently inserted grams lets repeats skip the k updates: the result is exactly that of
// inserting them all.
template <typename SetBit>
void InsertK(std::span<const std::string_view> lines, uint64_t nbits, uint32_t k, SetBit set) {
  constexpr int kSeenBits = 12;  // 16 KiB: stays in L1 next to a typical bit array.
  // Slot s holds the gram last inserted there. Empty slots hold 0, which no gram but 0 can
  // match, and 0 hashes to slot 0, which starts as 1 (a gram that hashes elsewhere).
  uint32_t seen[1 << kSeenBits] = {};
  seen[0] = 1;
  for (std::string_view line : lines) {
    if (line.size() < TokenFilter::kGramSize)
      continue;
    const char* p = line.data();
    const char* end = p + line.size() - TokenFilter::kGramSize + 1;
    for (; p < end; ++p) {
      const uint32_t gram = LoadGram(p);
      const uint64_t h = HashGram(gram);
      uint32_t& slot = seen[h >> (64 - kSeenBits)];
      if (slot == gram)
        continue;
      slot = gram;
      uint32_t h1 = static_cast<uint32_t>(h >> 32);
      const uint32_t h2 = static_cast<uint32_t>(h) | 1;
      for (uint32_t i = 0; i < k; ++i, h1 += h2)
        set(Reduce(h1, nbits));
    }
  }
}

// Sets the bits of every gram of `lines` in `words` with `k` hashes.
void InsertAll(std::span<const std::string_view> lines, uint64_t* words, size_t nwords,
               uint32_t k) {
  const uint64_t nbits = static_cast<uint64_t>(nwords) * 64;
  if (k == 1) {
    if (nbits <= kByteMapMaxBits) {
      uint8_t* map = ZeroedByteMap(nbits);
      InsertK1Map(lines, map, nbits);
      PackMap(map, words, nwords);
    } else {
      InsertK1Words(lines, words, nwords);
    }
  } else if (nbits <= kByteMapMaxBits) {
    uint8_t* map = ZeroedByteMap(nbits);
    InsertK(lines, nbits, k, [map](uint64_t bit) { map[bit] = 1; });
    PackMap(map, words, nwords);
  } else {
    InsertK(lines, nbits, k,
            [words](uint64_t bit) { words[bit >> 6] |= uint64_t{1} << (bit & 63); });
  }
}

}  // namespace

void TokenFilter::Adopt(std::vector<uint64_t> words, uint32_t num_hashes) {
  if constexpr (std::endian::native == std::endian::big) {
    for (uint64_t& w : words)
      w = __builtin_bswap64(w);
  }
  auto owned = std::make_shared<const std::vector<uint64_t>>(std::move(words));
  num_words_ = owned->size();
  num_hashes_ = num_hashes;
  bits_ = reinterpret_cast<const char*>(owned->data());
  owner_ = std::move(owned);
}

uint64_t TokenFilter::Word(uint64_t i) const {
  return LoadLE64(reinterpret_cast<const uint8_t*>(bits_) + 8 * i);
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
  std::vector<uint64_t> bits(words, 0);
  const uint64_t nbits = uint64_t{words} * 64;
  if (nbits <= kByteMapMaxBits) {
    uint8_t* map = ZeroedByteMap(nbits);
    if (!InsertK1Map(lines, map, nbits))
      return f;  // saturated: see kMaxUsefulFill below
    PackMap(map, bits.data(), words);
  } else if (!InsertK1Words(lines, bits.data(), words)) {
    return f;
  }

  f.Adopt(std::move(bits), 1);

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
  std::vector<uint64_t> resized(new_words, 0);
  InsertAll(lines, resized.data(), new_words, k);
  f.Adopt(std::move(resized), k);
  return f;
}

bool TokenFilter::TestGram(uint32_t gram) const {
  const uint64_t nbits = num_bits();
  const uint64_t h = HashGram(gram);
  uint32_t h1 = static_cast<uint32_t>(h >> 32);
  if (num_hashes_ == 1) {
    const uint64_t bit = Reduce(h1, nbits);
    return (Word(bit >> 6) >> (bit & 63)) & 1;
  }
  const uint32_t h2 = static_cast<uint32_t>(h) | 1;
  for (uint32_t i = 0; i < num_hashes_; ++i, h1 += h2) {
    const uint64_t bit = Reduce(h1, nbits);
    if (((Word(bit >> 6) >> (bit & 63)) & 1) == 0)
      return false;
  }
  return true;
}

bool TokenFilter::MayContain(std::string_view needle) const {
  if (num_words_ == 0 || needle.size() < kGramSize)
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
  if (num_words_ == 0)
    return 0;
  uint64_t ones = 0;
  for (uint64_t i = 0; i < num_words_; ++i)
    ones += static_cast<uint64_t>(std::popcount(Word(i)));
  return static_cast<double>(ones) / static_cast<double>(num_words_ * 64);
}

void TokenFilter::EncodeTo(std::string* out) const {
  internal::PutVarint(out, num_words_);
  if (num_words_ == 0)
    return;
  out->push_back(static_cast<char>(num_hashes_));
  out->append(bits_, num_words_ * 8);  // already little-endian
}

bool TokenFilter::DecodeFrom(std::string_view* in, std::shared_ptr<const void> owner) {
  uint64_t nwords = 0;
  if (!internal::GetVarint(in, &nwords))
    return false;
  *this = TokenFilter();
  if (nwords == 0)
    return true;
  uint8_t k = 0;
  if (!internal::GetByte(in, &k) || k == 0 || k > kMaxHashes)
    return false;
  if (nwords > in->size() / 8)
    return false;
  const size_t bytes = nwords * 8;
  if (owner != nullptr) {
    bits_ = in->data();
    owner_ = std::move(owner);
  } else {
    auto copy = std::make_shared<const std::string>(in->substr(0, bytes));
    bits_ = copy->data();
    owner_ = std::move(copy);
  }
  in->remove_prefix(bytes);
  num_words_ = nwords;
  num_hashes_ = k;
  return true;
}

}  // namespace norn::chunk
