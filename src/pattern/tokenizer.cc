#include "pattern/tokenizer.h"

#include <cstdint>

#include "logql/log/utf8.h"

namespace norn::pattern::internal {
namespace {

// Loki caps the punctuation tokenizer at this many tokens before appending the rest of the line.
constexpr size_t kMaxPunctuationTokens = 127;

// Decodes one UTF-8 sequence at s[i]. Invalid or truncated input decodes as U+FFFD with width 1,
// which is what Go's `range` over a string does (the tokenizer's boundaries depend on it).
char32_t DecodeRune(std::string_view s, size_t i, size_t* width) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) -> int {
    if (i + k >= s.size()) return -1;
    const auto b = static_cast<unsigned char>(s[i + k]);
    return (b & 0xC0) == 0x80 ? (b & 0x3F) : -1;
  };
  *width = 1;
  if (b0 < 0x80) return b0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    int c1 = cont(1);
    if (c1 < 0) return 0xFFFD;
    *width = 2;
    return ((b0 & 0x1F) << 6) | c1;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    int c1 = cont(1), c2 = cont(2);
    if (c1 < 0 || c2 < 0) return 0xFFFD;
    char32_t r = ((b0 & 0x0F) << 12) | (c1 << 6) | c2;
    if (r < 0x800 || (r >= 0xD800 && r <= 0xDFFF)) return 0xFFFD;
    *width = 3;
    return r;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    int c1 = cont(1), c2 = cont(2), c3 = cont(3);
    if (c1 < 0 || c2 < 0 || c3 < 0) return 0xFFFD;
    char32_t r = ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3;
    if (r < 0x10000 || r > 0x10FFFF) return 0xFFFD;
    *width = 4;
    return r;
  }
  return 0xFFFD;
}

// Go's unicode.IsPunct for ASCII: !"#%&'()*,-./:;?@[\]_{}
bool IsAsciiPunct(unsigned char c) {
  switch (c) {
    case '!': case '"': case '#': case '%': case '&': case '\'': case '(': case ')': case '*':
    case ',': case '-': case '.': case '/': case ':': case ';': case '?': case '@': case '[':
    case '\\': case ']': case '_': case '{': case '}':
      return true;
    default:
      return false;
  }
}

// Unicode punctuation (categories P*) outside ASCII. Covers the blocks that show up in logs
// (Latin-1, General Punctuation, CJK, fullwidth forms, brackets); rarer scripts' punctuation is
// treated as part of a word, which only changes where such lines split.
bool IsNonAsciiPunct(char32_t r) {
  struct Range {
    char32_t lo, hi;
  };
  static constexpr Range kRanges[] = {
      {0x00A1, 0x00A1}, {0x00A7, 0x00A7}, {0x00AB, 0x00AB}, {0x00B6, 0x00B7}, {0x00BB, 0x00BB},
      {0x00BF, 0x00BF}, {0x037E, 0x037E}, {0x0387, 0x0387}, {0x055A, 0x055F}, {0x0589, 0x058A},
      {0x05BE, 0x05BE}, {0x05C0, 0x05C0}, {0x05C3, 0x05C3}, {0x05C6, 0x05C6}, {0x05F3, 0x05F4},
      {0x0609, 0x060A}, {0x060C, 0x060D}, {0x061B, 0x061B}, {0x061D, 0x061F}, {0x066A, 0x066D},
      {0x06D4, 0x06D4}, {0x0964, 0x0965}, {0x0970, 0x0970}, {0x0E4F, 0x0E4F}, {0x0E5A, 0x0E5B},
      {0x2010, 0x2027}, {0x2030, 0x2043}, {0x2045, 0x2051}, {0x2053, 0x205E}, {0x207D, 0x207E},
      {0x208D, 0x208E}, {0x2308, 0x230B}, {0x2329, 0x232A}, {0x2768, 0x2775}, {0x27C5, 0x27C6},
      {0x27E6, 0x27EF}, {0x2983, 0x2998}, {0x29D8, 0x29DB}, {0x29FC, 0x29FD}, {0x2CF9, 0x2CFC},
      {0x2CFE, 0x2CFF}, {0x2E00, 0x2E2E}, {0x2E30, 0x2E4F}, {0x3001, 0x3003}, {0x3008, 0x3011},
      {0x3014, 0x301F}, {0x3030, 0x3030}, {0x303D, 0x303D}, {0x30A0, 0x30A0}, {0x30FB, 0x30FB},
      {0xFE10, 0xFE19}, {0xFE30, 0xFE52}, {0xFE54, 0xFE61}, {0xFE63, 0xFE63}, {0xFE68, 0xFE68},
      {0xFE6A, 0xFE6B}, {0xFF01, 0xFF03}, {0xFF05, 0xFF0A}, {0xFF0C, 0xFF0F}, {0xFF1A, 0xFF1B},
      {0xFF1F, 0xFF20}, {0xFF3B, 0xFF3D}, {0xFF3F, 0xFF3F}, {0xFF5B, 0xFF5B}, {0xFF5D, 0xFF5D},
      {0xFF5F, 0xFF65},
  };
  for (const Range& range : kRanges) {
    if (r < range.lo) return false;
    if (r <= range.hi) return true;
  }
  return false;
}

bool EqualFoldAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
    if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
    if (x != y) return false;
  }
  return true;
}

// Keys whose values are always variable (timestamps, trace ids): Loki masks them up front.
bool IsVariableLogfmtKey(std::string_view key) {
  return key == "t" || EqualFoldAscii(key, "ts") || EqualFoldAscii(key, "traceID") ||
         EqualFoldAscii(key, "time") || EqualFoldAscii(key, "timestamp");
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ReadHex4(std::string_view s, size_t i, char32_t* r) {
  if (i + 4 > s.size()) return false;
  char32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    int h = HexValue(s[i + k]);
    if (h < 0) return false;
    v = (v << 4) | static_cast<char32_t>(h);
  }
  *r = v;
  return true;
}

// JSON-style unquoting of a logfmt quoted value body (without the surrounding quotes), as the
// logfmt decoder does when the value holds escapes. Appends to *out; false on a bad escape or a
// raw control character.
bool Unquote(std::string_view body, std::string* out) {
  size_t i = 0;
  while (i < body.size()) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (c == '\\') {
      if (i + 1 >= body.size()) return false;
      const char e = body[i + 1];
      i += 2;
      switch (e) {
        case '"': case '\\': case '/': case '\'': out->push_back(e); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          char32_t r;
          if (!ReadHex4(body, i, &r)) return false;
          i += 4;
          if (r >= 0xD800 && r < 0xDC00) {
            char32_t low;
            if (i + 1 < body.size() && body[i] == '\\' && body[i + 1] == 'u' &&
                ReadHex4(body, i + 2, &low) && low >= 0xDC00 && low <= 0xDFFF) {
              r = 0x10000 + ((r - 0xD800) << 10) + (low - 0xDC00);
              i += 6;
            } else {
              r = 0xFFFD;
            }
          } else if (r >= 0xDC00 && r <= 0xDFFF) {
            r = 0xFFFD;
          }
          logql_log::utf8::Append(out, r);
          break;
        }
        default:
          return false;
      }
      continue;
    }
    if (c < ' ' || c == '"') return false;
    if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t width;
    char32_t r = DecodeRune(body, i, &width);
    if (r == 0xFFFD && width == 1) {
      logql_log::utf8::Append(out, 0xFFFD);
    } else {
      out->append(body.substr(i, width));
    }
    i += width;
  }
  return true;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Skips a JSON string starting at s[*i] == '"'; leaves *i after the closing quote.
bool SkipJsonString(std::string_view s, size_t* i) {
  size_t p = *i + 1;
  while (p < s.size()) {
    if (s[p] == '\\') {
      p += 2;
      continue;
    }
    if (s[p] == '"') {
      *i = p + 1;
      return true;
    }
    ++p;
  }
  return false;
}

// Skips any JSON value starting at s[*i]. Structural validation is minimal: enough to find the
// next top-level member.
bool SkipJsonValue(std::string_view s, size_t* i) {
  if (*i >= s.size()) return false;
  if (s[*i] == '"') return SkipJsonString(s, i);
  if (s[*i] == '{' || s[*i] == '[') {
    int depth = 0;
    size_t p = *i;
    while (p < s.size()) {
      const char c = s[p];
      if (c == '"') {
        if (!SkipJsonString(s, &p)) return false;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) {
          *i = p + 1;
          return true;
        }
      }
      ++p;
    }
    return false;
  }
  size_t p = *i;
  while (p < s.size() && s[p] != ',' && s[p] != '}' && s[p] != ']' && !IsJsonSpace(s[p])) ++p;
  if (p == *i) return false;
  *i = p;
  return true;
}

}  // namespace

SkipReason TokenizePunctuation(std::string_view line, int max_line_length, TokenizedLine* out) {
  out->Clear();
  if (max_line_length > 0 && line.size() > static_cast<size_t>(max_line_length)) {
    return SkipReason::kLineTooLong;
  }
  size_t start = 0;
  size_t i = 0;
  while (i < line.size()) {
    if (out->tokens.size() >= kMaxPunctuationTokens) break;
    const auto c = static_cast<unsigned char>(line[i]);
    size_t width = 1;
    bool split;
    bool punct;
    if (c < 0x80) {
      // Letters, digits and `_ - . : /` stay inside tokens.
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-' || c == '.' || c == ':' || c == '/') {
        ++i;
        continue;
      }
      punct = c == '=' || IsAsciiPunct(c);
      split = c == ' ' || punct;
    } else {
      char32_t r = DecodeRune(line, i, &width);
      punct = IsNonAsciiPunct(r);
      split = punct;
    }
    if (split) {
      if (i > start) out->tokens.push_back(line.substr(start, i - start));
      if (c == ' ') {
        out->spaces_after.push_back(static_cast<int>(out->tokens.size()) - 1);
      } else {
        // Loki emits only the first byte of a multi-byte punctuation rune as its token; the
        // continuation bytes begin the next token. Kept so patterns compare byte-for-byte.
        out->tokens.push_back(line.substr(i, 1));
      }
      start = i + 1;
    }
    i += width;
  }
  if (start < line.size()) out->tokens.push_back(line.substr(start));
  return SkipReason::kNone;
}

SkipReason TokenizeLogfmt(std::string_view line, int max_line_length, std::string_view param,
                          TokenizedLine* out) {
  out->Clear();
  if (max_line_length > 0 && line.size() > static_cast<size_t>(max_line_length)) {
    return SkipReason::kLineTooLong;
  }
  // Unescaped values live in scratch; reserve the worst case (each invalid byte becomes a 3-byte
  // U+FFFD) so views into it stay valid while we append.
  out->scratch.reserve(line.size() * 3 + 4);
  size_t pos = 0;
  const size_t n = line.size();
  while (pos < n) {
    // Leading garbage: anything up to a byte > ' '.
    while (pos < n && static_cast<unsigned char>(line[pos]) <= ' ') ++pos;
    if (pos >= n) break;
    const size_t key_start = pos;
    bool has_multibyte = false;
    std::string_view key;
    std::string_view value;
    bool has_equal = false;
    while (pos < n) {
      const auto c = static_cast<unsigned char>(line[pos]);
      if (c == '=') {
        if (pos == key_start) return SkipReason::kParseError;  // unexpected '='
        has_equal = true;
        break;
      }
      if (c == '"') return SkipReason::kParseError;
      if (c <= ' ') break;
      if (c >= 0x80) has_multibyte = true;
      ++pos;
    }
    key = line.substr(key_start, pos - key_start);
    if (has_multibyte) {
      for (size_t k = 0; k < key.size();) {
        size_t w;
        if (DecodeRune(key, k, &w) == 0xFFFD) return SkipReason::kParseError;  // invalid key
        k += w;
      }
    }
    if (has_equal) {
      ++pos;  // past '='
      if (pos < n && static_cast<unsigned char>(line[pos]) > ' ') {
        if (line[pos] == '"') {
          const size_t q = pos;
          bool esc = false, has_esc = false, closed = false;
          size_t p = q + 1;
          for (; p < n; ++p) {
            const char c = line[p];
            if (esc) {
              esc = false;
            } else if (c == '\\') {
              has_esc = esc = true;
            } else if (c == '"') {
              closed = true;
              break;
            }
          }
          if (!closed) return SkipReason::kParseError;  // unterminated quoted value
          std::string_view body = line.substr(q + 1, p - q - 1);
          pos = p + 1;
          if (has_esc) {
            const size_t off = out->scratch.size();
            if (!Unquote(body, &out->scratch)) return SkipReason::kParseError;
            value = std::string_view(out->scratch).substr(off);
          } else {
            value = body;
          }
        } else {
          const size_t v_start = pos;
          while (pos < n) {
            const auto c = static_cast<unsigned char>(line[pos]);
            if (c == '=' || c == '"') return SkipReason::kParseError;
            if (c <= ' ') break;
            ++pos;
          }
          value = line.substr(v_start, pos - v_start);
        }
      }
    }
    out->tokens.push_back(key);
    out->tokens.push_back(IsVariableLogfmtKey(key) ? param : value);
  }
  return SkipReason::kNone;
}

bool FindJsonMessage(std::string_view json, std::span<const std::string> fields,
                     std::string_view* value) {
  size_t best = fields.size();
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < json.size() && IsJsonSpace(json[i])) ++i;
  };
  skip_ws();
  if (i >= json.size() || json[i] != '{') return false;
  ++i;
  while (best != 0) {
    skip_ws();
    if (i >= json.size() || json[i] != '"') break;
    const size_t key_start = i + 1;
    if (!SkipJsonString(json, &i)) break;
    std::string_view key = json.substr(key_start, i - 1 - key_start);
    skip_ws();
    if (i >= json.size() || json[i] != ':') break;
    ++i;
    skip_ws();
    if (i >= json.size()) break;
    if (json[i] == '"') {
      const size_t v_start = i + 1;
      if (!SkipJsonString(json, &i)) break;
      for (size_t f = 0; f < best; ++f) {
        if (fields[f] == key) {
          best = f;
          *value = json.substr(v_start, i - 1 - v_start);
          break;
        }
      }
    } else if (!SkipJsonValue(json, &i)) {
      break;
    }
    skip_ws();
    if (i >= json.size() || json[i] != ',') break;
    ++i;
  }
  return best != fields.size();
}

SkipReason TokenizeJson(std::string_view line, int max_line_length,
                        std::span<const std::string> fields, TokenizedLine* out) {
  out->Clear();
  std::string_view message;
  if (!FindJsonMessage(line, fields, &message)) return SkipReason::kNoMessage;
  return TokenizePunctuation(message, max_line_length, out);
}

void JoinPunctuation(std::span<const std::string> tokens, std::span<const int> spaces_after,
                     std::string* out) {
  size_t spaces_idx = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    out->append(tokens[i]);
    // One entry per space after token i. A leading space (-1) never matches and, as in Loki,
    // stops later spaces from being restored.
    while (spaces_idx < spaces_after.size() && static_cast<int>(i) == spaces_after[spaces_idx]) {
      out->push_back(' ');
      ++spaces_idx;
    }
  }
}

namespace {

bool LogfmtValueNeedsQuotes(std::string_view v) {
  for (size_t i = 0; i < v.size();) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c <= ' ' || c == '=' || c == '"') return true;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t w;
    if (DecodeRune(v, i, &w) == 0xFFFD) return true;
    i += w;
  }
  return false;
}

void AppendLogfmtQuoted(std::string_view v, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < v.size();) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        default:
          if (c < 0x20) {
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 0xF]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    size_t w;
    char32_t r = DecodeRune(v, i, &w);
    if (r == 0xFFFD && w == 1) {
      out->append("\\ufffd");
    } else {
      out->append(v.substr(i, w));
    }
    i += w;
  }
  out->push_back('"');
}

}  // namespace

void JoinLogfmt(std::span<const std::string> tokens, std::string* out) {
  for (size_t i = 0; i < tokens.size(); i += 2) {
    if (i > 0) out->push_back(' ');
    out->append(tokens[i]);
    out->push_back('=');
    std::string_view v = i + 1 < tokens.size() ? std::string_view(tokens[i + 1]) : "";
    if (LogfmtValueNeedsQuotes(v)) {
      AppendLogfmtQuoted(v, out);
    } else {
      out->append(v);
    }
  }
}

std::string DedupPlaceholders(std::string_view s, std::string_view param) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (!param.empty() && s.compare(i, param.size(), param) == 0) {
      out.append(param);
      i += param.size();
      while (s.compare(i, param.size(), param) == 0) i += param.size();
      continue;
    }
    out.push_back(s[i]);
    ++i;
  }
  return out;
}

}  // namespace norn::pattern::internal
