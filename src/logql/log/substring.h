// Substring: a compiled needle for fast "does this line contain X" tests, the hot loop of
// `|= "literal"` and the literal prefilter of regex line filters.
//
// The search compares the needle's first and last bytes against 32 (AVX2) or 16 (SSE2)
// haystack positions at once and verifies candidates with memcmp (Muła's SIMD-friendly
// algorithm), so a miss costs about two vector compares per 32 bytes. Case-insensitive mode
// folds ASCII letters only (callers use it only for needles where that is exact).
//
// Immutable after construction; Find is thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace norn::logql_log {

class Substring {
 public:
  explicit Substring(std::string needle, bool ascii_case_insensitive = false);

  const std::string& needle() const { return needle_; }
  bool case_insensitive() const { return ci_; }

  // Offset of the first occurrence in `hay`, or npos.
  size_t Find(std::string_view hay) const;
  bool In(std::string_view hay) const { return Find(hay) != std::string_view::npos; }

 private:
  size_t FindScalar(std::string_view hay, size_t from) const;
  bool EqualAt(const char* p) const;

  std::string needle_;  // lower-cased when ci_
  bool ci_;
  // Probe bytes (first, last) and the OR mask that folds them when they are letters.
  unsigned char first_, last_;
  unsigned char first_mask_, last_mask_;
};

}  // namespace norn::logql_log
