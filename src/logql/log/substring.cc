#include "logql/log/substring.h"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NORN_SUBSTRING_X86 1
#endif

#include "common/cpu.h"

namespace norn::logql_log {
namespace {

inline unsigned char Lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c;
}
inline bool IsLetter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

Substring::Substring(std::string needle, bool ascii_case_insensitive)
    : needle_(std::move(needle)), ci_(ascii_case_insensitive) {
  if (ci_) {
    for (char& c : needle_) c = static_cast<char>(Lower(static_cast<unsigned char>(c)));
  }
  if (needle_.empty()) {
    first_ = last_ = 0;
    first_mask_ = last_mask_ = 0;
    return;
  }
  first_ = static_cast<unsigned char>(needle_.front());
  last_ = static_cast<unsigned char>(needle_.back());
  first_mask_ = (ci_ && IsLetter(first_)) ? 0x20 : 0;
  last_mask_ = (ci_ && IsLetter(last_)) ? 0x20 : 0;
}

bool Substring::EqualAt(const char* p) const {
  if (!ci_) return std::memcmp(p, needle_.data(), needle_.size()) == 0;
  for (size_t i = 0; i < needle_.size(); ++i) {
    if (Lower(static_cast<unsigned char>(p[i])) != static_cast<unsigned char>(needle_[i])) {
      return false;
    }
  }
  return true;
}

size_t Substring::FindScalar(std::string_view hay, size_t from) const {
  const size_t n = needle_.size();
  if (hay.size() < n) return std::string_view::npos;
  if (!ci_) {
    // This runs on the short tails the vector loops leave (under 32 + n bytes) and on short
    // lines: memchr for the first byte and memcmp, because glibc's memmem prepares the needle
    // (two-way factorisation) on every call, which costs more than such a scan.
    const char* const base = hay.data();
    const char* p = base + from;
    const char* const last = base + hay.size() - n;  // last possible start
    while (p <= last) {
      p = static_cast<const char*>(std::memchr(p, needle_[0], static_cast<size_t>(last - p) + 1));
      if (p == nullptr) return std::string_view::npos;
      if (std::memcmp(p + 1, needle_.data() + 1, n - 1) == 0) return static_cast<size_t>(p - base);
      ++p;
    }
    return std::string_view::npos;
  }
  for (size_t i = from; i + n <= hay.size(); ++i) {
    if (EqualAt(hay.data() + i)) return i;
  }
  return std::string_view::npos;
}

#ifdef NORN_SUBSTRING_X86
namespace {

__attribute__((target("avx2"))) size_t FindAvx2(const char* s, size_t len, const char* needle,
                                                size_t n, unsigned char f, unsigned char l,
                                                unsigned char fm, unsigned char lm, bool ci,
                                                size_t* scanned) {
  const __m256i vf = _mm256_set1_epi8(static_cast<char>(f));
  const __m256i vl = _mm256_set1_epi8(static_cast<char>(l));
  const __m256i mf = _mm256_set1_epi8(static_cast<char>(fm));
  const __m256i ml = _mm256_set1_epi8(static_cast<char>(lm));
  size_t i = 0;
  for (; i + n - 1 + 32 <= len; i += 32) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + n - 1));
    __m256i ea = _mm256_cmpeq_epi8(_mm256_or_si256(a, mf), vf);
    __m256i eb = _mm256_cmpeq_epi8(_mm256_or_si256(b, ml), vl);
    uint32_t mask = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_and_si256(ea, eb)));
    while (mask) {
      unsigned bit = static_cast<unsigned>(__builtin_ctz(mask));
      const char* p = s + i + bit;
      bool eq;
      if (!ci) {
        eq = n <= 2 || std::memcmp(p + 1, needle + 1, n - 2) == 0;
      } else {
        eq = true;
        for (size_t k = 1; k + 1 < n; ++k) {
          unsigned char c = static_cast<unsigned char>(p[k]);
          if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
          if (c != static_cast<unsigned char>(needle[k])) {
            eq = false;
            break;
          }
        }
      }
      if (eq) return i + bit;
      mask &= mask - 1;
    }
  }
  *scanned = i;
  return std::string_view::npos;
}

size_t FindSse2(const char* s, size_t len, const char* needle, size_t n, unsigned char f,
                unsigned char l, unsigned char fm, unsigned char lm, bool ci, size_t* scanned) {
  const __m128i vf = _mm_set1_epi8(static_cast<char>(f));
  const __m128i vl = _mm_set1_epi8(static_cast<char>(l));
  const __m128i mf = _mm_set1_epi8(static_cast<char>(fm));
  const __m128i ml = _mm_set1_epi8(static_cast<char>(lm));
  size_t i = 0;
  for (; i + n - 1 + 16 <= len; i += 16) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + n - 1));
    __m128i ea = _mm_cmpeq_epi8(_mm_or_si128(a, mf), vf);
    __m128i eb = _mm_cmpeq_epi8(_mm_or_si128(b, ml), vl);
    uint32_t mask = static_cast<uint32_t>(_mm_movemask_epi8(_mm_and_si128(ea, eb)));
    while (mask) {
      unsigned bit = static_cast<unsigned>(__builtin_ctz(mask));
      const char* p = s + i + bit;
      bool eq;
      if (!ci) {
        eq = n <= 2 || std::memcmp(p + 1, needle + 1, n - 2) == 0;
      } else {
        eq = true;
        for (size_t k = 1; k + 1 < n; ++k) {
          unsigned char c = static_cast<unsigned char>(p[k]);
          if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
          if (c != static_cast<unsigned char>(needle[k])) {
            eq = false;
            break;
          }
        }
      }
      if (eq) return i + bit;
      mask &= mask - 1;
    }
  }
  *scanned = i;
  return std::string_view::npos;
}

}  // namespace
#endif

size_t Substring::Find(std::string_view hay) const {
  const size_t n = needle_.size();
  if (n == 0) return 0;
  if (hay.size() < n) return std::string_view::npos;
#ifdef NORN_SUBSTRING_X86
  size_t scanned = 0;
  size_t r;
  if (CpuHasAvx2()) {
    r = FindAvx2(hay.data(), hay.size(), needle_.data(), n, first_, last_, first_mask_,
                 last_mask_, ci_, &scanned);
  } else {
    r = FindSse2(hay.data(), hay.size(), needle_.data(), n, first_, last_, first_mask_,
                 last_mask_, ci_, &scanned);
  }
  if (r != std::string_view::npos) return r;
  return FindScalar(hay, scanned);
#else
  return FindScalar(hay, 0);
#endif
}

}  // namespace norn::logql_log
