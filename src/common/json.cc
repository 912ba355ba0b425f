#include "common/json.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace norn {

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t run_start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
#if defined(__SSE2__)
    // Skip 16 bytes at a time while none is a control byte, '"' or '\\'.
    while (i + 16 <= s.size()) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
      // A byte is at least 0x20 (unsigned; bytes >= 0x80 are plain here) when it is the
      // maximum of itself and 0x20.
      const __m128i printable = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x20)), v);
      __m128i special = _mm_andnot_si128(printable, _mm_set1_epi8(-1));
      special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
      special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
      const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(special));
      if (mask != 0) {
        i += static_cast<size_t>(__builtin_ctz(mask));
        break;
      }
      i += 16;
    }
    if (i >= s.size())
      break;
#endif
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xf]);
    }
  }
  out->append(s.data() + run_start, s.size() - run_start);
  out->push_back('"');
}

}  // namespace norn
