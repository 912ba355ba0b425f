// Small UTF-8 helpers with Go's decoding rules (invalid bytes decode as U+FFFD of width 1), used
// where LogQL semantics depend on Go's rune iteration. Header-only, stateless, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace norn::logql_log::utf8 {

inline constexpr char32_t kRuneError = 0xFFFD;

// Decodes the rune at s[i]; sets *width (>= 1). Invalid or truncated sequences, surrogates and
// overlong forms yield kRuneError with width 1, as Go's utf8.DecodeRune does.
inline char32_t Decode(std::string_view s, size_t i, size_t* width) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  size_t n = s.size() - i;
  unsigned char c = p[0];
  if (c < 0x80) {
    *width = 1;
    return c;
  }
  *width = 1;
  if (c < 0xC2) return kRuneError;
  if (c < 0xE0) {
    if (n < 2 || (p[1] & 0xC0) != 0x80) return kRuneError;
    *width = 2;
    return (char32_t(c & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (c < 0xF0) {
    if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return kRuneError;
    if (c == 0xE0 && p[1] < 0xA0) return kRuneError;  // overlong
    if (c == 0xED && p[1] > 0x9F) return kRuneError;  // surrogate
    *width = 3;
    return (char32_t(c & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  if (c < 0xF5) {
    if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) {
      return kRuneError;
    }
    if (c == 0xF0 && p[1] < 0x90) return kRuneError;
    if (c == 0xF4 && p[1] > 0x8F) return kRuneError;
    *width = 4;
    return (char32_t(c & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) |
           (char32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
  }
  return kRuneError;
}

inline void Append(std::string* out, char32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = kRuneError;
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

// Go's unicode.IsSpace.
inline bool IsSpace(char32_t r) {
  switch (r) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ': case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

// True when s contains an invalid sequence or a literal U+FFFD (Go's
// bytes.ContainsRune(s, utf8.RuneError)).
inline bool ContainsRuneError(std::string_view s) {
  size_t i = 0;
  // ASCII fast path, 8 bytes at a time.
  while (i + 8 <= s.size()) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & 0x8080808080808080ULL) break;
    i += 8;
  }
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t w;
    if (Decode(s, i, &w) == kRuneError) return true;
    i += w;
  }
  return false;
}

}  // namespace norn::logql_log::utf8
