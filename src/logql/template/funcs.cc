#include "logql/template/funcs.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <clocale>
#include <cmath>
#include <cstring>
#include <cwctype>
#include <limits>
#include <vector>

#include <re2/re2.h>

#include "absl/container/inlined_vector.h"
#include "common/labels.h"
#include "common/strings.h"
#include "logql/template/gofmt.h"
#include "logql/template/gotime.h"

namespace norn::logql_template::internal {

enum class FuncId : uint16_t {
  // Go builtins.
  kAnd,
  kOr,
  kNot,
  kLen,
  kIndex,
  kSlice,
  kPrint,
  kPrintf,
  kPrintln,
  kHtml,
  kJs,
  kUrlquery,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  // Loki.
  kLine,
  kTimestamp,
  kToLower,
  kToUpper,
  kReplaceN,
  kTrimCutset,
  kTrimLeft,
  kTrimRight,
  kTrimPrefixGo,
  kTrimSuffixGo,
  kTrimSpace,
  kRegexReplaceAll,
  kRegexReplaceAllLiteral,
  kCount,
  kUrlencode,
  kUrldecode,
  kBytes,
  kDuration,
  kUnixEpoch,
  kUnixEpochMillis,
  kUnixEpochNanos,
  kUnixToTime,
  kToDateInZone,
  kToDate,
  kFromJson,
  kDate,
  kNow,
  kAlignLeft,
  kAlignRight,
  // Sprig.
  kB64enc,
  kB64dec,
  kTitle,
  kTrunc,
  kSubstr,
  kContains,
  kHasPrefix,
  kHasSuffix,
  kIndent,
  kNindent,
  kReplace,
  kRepeat,
  kTrimAll,
  kTrimPrefix,
  kTrimSuffix,
  kAbbrev,
  kAbbrevboth,
  kWrap,
  kInt,
  kFloat64,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kAddf,
  kSubf,
  kMulf,
  kDivf,
  kMax,
  kMin,
  kMaxf,
  kMinf,
  kCeil,
  kFloor,
  kRound,
  kDefault,
};

namespace {

using P = Param;
using F = FuncId;

constexpr FuncInfo kFuncs[] = {
    {"and", F::kAnd, {P::kValue}, 1, true, P::kValue},
    {"or", F::kOr, {P::kValue}, 1, true, P::kValue},
    {"not", F::kNot, {P::kValue}, 1, false, P::kAny},
    {"len", F::kLen, {P::kValue}, 1, false, P::kAny},
    {"index", F::kIndex, {P::kValue}, 1, true, P::kValue},
    {"slice", F::kSlice, {P::kValue}, 1, true, P::kValue},
    {"print", F::kPrint, {}, 0, true, P::kAny},
    {"printf", F::kPrintf, {P::kString}, 1, true, P::kAny},
    {"println", F::kPrintln, {}, 0, true, P::kAny},
    {"html", F::kHtml, {}, 0, true, P::kAny},
    {"js", F::kJs, {}, 0, true, P::kAny},
    {"urlquery", F::kUrlquery, {}, 0, true, P::kAny},
    {"eq", F::kEq, {P::kValue}, 1, true, P::kValue},
    {"ne", F::kNe, {P::kValue, P::kValue}, 2, false, P::kAny},
    {"lt", F::kLt, {P::kValue, P::kValue}, 2, false, P::kAny},
    {"le", F::kLe, {P::kValue, P::kValue}, 2, false, P::kAny},
    {"gt", F::kGt, {P::kValue, P::kValue}, 2, false, P::kAny},
    {"ge", F::kGe, {P::kValue, P::kValue}, 2, false, P::kAny},

    {"__line__", F::kLine, {}, 0, false, P::kAny},
    {"__timestamp__", F::kTimestamp, {}, 0, false, P::kAny},
    {"ToLower", F::kToLower, {P::kString}, 1, false, P::kAny},
    {"ToUpper", F::kToUpper, {P::kString}, 1, false, P::kAny},
    {"Replace", F::kReplaceN, {P::kString, P::kString, P::kString, P::kInt}, 4, false, P::kAny},
    {"Trim", F::kTrimCutset, {P::kString, P::kString}, 2, false, P::kAny},
    {"TrimLeft", F::kTrimLeft, {P::kString, P::kString}, 2, false, P::kAny},
    {"TrimRight", F::kTrimRight, {P::kString, P::kString}, 2, false, P::kAny},
    {"TrimPrefix", F::kTrimPrefixGo, {P::kString, P::kString}, 2, false, P::kAny},
    {"TrimSuffix", F::kTrimSuffixGo, {P::kString, P::kString}, 2, false, P::kAny},
    {"TrimSpace", F::kTrimSpace, {P::kString}, 1, false, P::kAny},
    {"regexReplaceAll",
     F::kRegexReplaceAll,
     {P::kString, P::kString, P::kString},
     3,
     false,
     P::kAny},
    {"regexReplaceAllLiteral",
     F::kRegexReplaceAllLiteral,
     {P::kString, P::kString, P::kString},
     3,
     false,
     P::kAny},
    {"count", F::kCount, {P::kString, P::kString}, 2, false, P::kAny},
    {"urlencode", F::kUrlencode, {P::kString}, 1, false, P::kAny},
    {"urldecode", F::kUrldecode, {P::kString}, 1, false, P::kAny},
    {"bytes", F::kBytes, {P::kString}, 1, false, P::kAny},
    {"duration", F::kDuration, {P::kString}, 1, false, P::kAny},
    {"duration_seconds", F::kDuration, {P::kString}, 1, false, P::kAny},
    {"unixEpoch", F::kUnixEpoch, {P::kTime}, 1, false, P::kAny},
    {"unixEpochMillis", F::kUnixEpochMillis, {P::kTime}, 1, false, P::kAny},
    {"unixEpochNanos", F::kUnixEpochNanos, {P::kTime}, 1, false, P::kAny},
    {"unixToTime", F::kUnixToTime, {P::kString}, 1, false, P::kAny},
    {"toDateInZone", F::kToDateInZone, {P::kString, P::kString, P::kString}, 3, false, P::kAny},
    {"toDate", F::kToDate, {P::kString, P::kString}, 2, false, P::kAny},
    {"fromJson", F::kFromJson, {P::kString}, 1, false, P::kAny},
    {"date", F::kDate, {P::kString, P::kAny}, 2, false, P::kAny},
    {"now", F::kNow, {}, 0, false, P::kAny},
    {"alignLeft", F::kAlignLeft, {P::kInt, P::kString}, 2, false, P::kAny},
    {"alignRight", F::kAlignRight, {P::kInt, P::kString}, 2, false, P::kAny},

    {"b64enc", F::kB64enc, {P::kString}, 1, false, P::kAny},
    {"b64dec", F::kB64dec, {P::kString}, 1, false, P::kAny},
    {"lower", F::kToLower, {P::kString}, 1, false, P::kAny},
    {"upper", F::kToUpper, {P::kString}, 1, false, P::kAny},
    {"title", F::kTitle, {P::kString}, 1, false, P::kAny},
    {"trunc", F::kTrunc, {P::kInt, P::kString}, 2, false, P::kAny},
    {"substr", F::kSubstr, {P::kInt, P::kInt, P::kString}, 3, false, P::kAny},
    {"contains", F::kContains, {P::kString, P::kString}, 2, false, P::kAny},
    {"hasPrefix", F::kHasPrefix, {P::kString, P::kString}, 2, false, P::kAny},
    {"hasSuffix", F::kHasSuffix, {P::kString, P::kString}, 2, false, P::kAny},
    {"indent", F::kIndent, {P::kInt, P::kString}, 2, false, P::kAny},
    {"nindent", F::kNindent, {P::kInt, P::kString}, 2, false, P::kAny},
    {"replace", F::kReplace, {P::kString, P::kString, P::kString}, 3, false, P::kAny},
    {"repeat", F::kRepeat, {P::kInt, P::kString}, 2, false, P::kAny},
    {"trim", F::kTrimSpace, {P::kString}, 1, false, P::kAny},
    {"trimAll", F::kTrimAll, {P::kString, P::kString}, 2, false, P::kAny},
    {"trimPrefix", F::kTrimPrefix, {P::kString, P::kString}, 2, false, P::kAny},
    {"trimSuffix", F::kTrimSuffix, {P::kString, P::kString}, 2, false, P::kAny},
    {"abbrev", F::kAbbrev, {P::kInt, P::kString}, 2, false, P::kAny},
    {"abbrevboth", F::kAbbrevboth, {P::kInt, P::kInt, P::kString}, 3, false, P::kAny},
    {"wrap", F::kWrap, {P::kInt, P::kString}, 2, false, P::kAny},
    {"int", F::kInt, {P::kAny}, 1, false, P::kAny},
    {"float64", F::kFloat64, {P::kAny}, 1, false, P::kAny},
    {"add", F::kAdd, {}, 0, true, P::kAny},
    {"sub", F::kSub, {P::kAny, P::kAny}, 2, false, P::kAny},
    {"mul", F::kMul, {P::kAny}, 1, true, P::kAny},
    {"div", F::kDiv, {P::kAny, P::kAny}, 2, false, P::kAny},
    {"mod", F::kMod, {P::kAny, P::kAny}, 2, false, P::kAny},
    {"addf", F::kAddf, {}, 0, true, P::kAny},
    {"subf", F::kSubf, {P::kAny}, 1, true, P::kAny},
    {"mulf", F::kMulf, {P::kAny}, 1, true, P::kAny},
    {"divf", F::kDivf, {P::kAny}, 1, true, P::kAny},
    {"max", F::kMax, {P::kAny}, 1, true, P::kAny},
    {"min", F::kMin, {P::kAny}, 1, true, P::kAny},
    {"maxf", F::kMaxf, {P::kAny}, 1, true, P::kAny},
    {"minf", F::kMinf, {P::kAny}, 1, true, P::kAny},
    {"ceil", F::kCeil, {P::kAny}, 1, false, P::kAny},
    {"floor", F::kFloor, {P::kAny}, 1, false, P::kAny},
    {"round", F::kRound, {P::kAny, P::kInt}, 2, true, P::kFloat64},
    {"default", F::kDefault, {P::kAny}, 1, true, P::kAny},
};

// ---------------------------------------------------------------------------------------------
// UTF-8 helpers (Go semantics: an invalid byte decodes as U+FFFD of width 1).

uint32_t DecodeRune(std::string_view s, size_t i, size_t* width) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *width = 1;
    return c;
  }
  auto cont = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  uint32_t r;
  if (c >= 0xC2 && c <= 0xDF && cont(1)) {
    *width = 2;
    return ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
  }
  if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
    r = ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
        (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
    if (r >= 0x800 && (r < 0xD800 || r > 0xDFFF)) {
      *width = 3;
      return r;
    }
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    r = ((c & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
        ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) |
        (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
    if (r >= 0x10000 && r <= 0x10FFFF) {
      *width = 4;
      return r;
    }
  }
  *width = 1;
  return 0xFFFD;
}

void AppendRune(std::string* out, uint32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
    r = 0xFFFD;
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

size_t RuneCount(std::string_view s) {
  size_t n = 0, w = 0;
  for (size_t i = 0; i < s.size(); i += w) {
    DecodeRune(s, i, &w);
    n++;
  }
  return n;
}

// Byte offset of rune number `n` (clamped to the end).
size_t RuneOffset(std::string_view s, size_t n) {
  size_t i = 0, w = 0;
  for (size_t k = 0; k < n && i < s.size(); k++) {
    DecodeRune(s, i, &w);
    i += w;
  }
  return i;
}

locale_t Utf8Locale() {
  static locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    return l;
  }();
  return loc;
}

uint32_t RuneLower(uint32_t r) {
  if (r < 0x80)
    return (r >= 'A' && r <= 'Z') ? r + 32 : r;
  locale_t l = Utf8Locale();
  return l ? static_cast<uint32_t>(towlower_l(static_cast<wint_t>(r), l)) : r;
}

uint32_t RuneUpper(uint32_t r) {
  if (r < 0x80)
    return (r >= 'a' && r <= 'z') ? r - 32 : r;
  locale_t l = Utf8Locale();
  return l ? static_cast<uint32_t>(towupper_l(static_cast<wint_t>(r), l)) : r;
}

bool RuneIsLetterOrDigit(uint32_t r) {
  if (r < 0x80)
    return std::isalnum(static_cast<int>(r)) != 0;
  locale_t l = Utf8Locale();
  return l ? iswalnum_l(static_cast<wint_t>(r), l) != 0 : true;
}

bool RuneIsSpace(uint32_t r) {
  switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

template <typename Fn>
std::string MapRunes(std::string_view s, Fn fn) {
  std::string out;
  out.reserve(s.size());
  size_t w = 0;
  for (size_t i = 0; i < s.size(); i += w) {
    uint32_t r = DecodeRune(s, i, &w);
    AppendRune(&out, fn(r));
  }
  return out;
}

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80)
      return false;
  }
  return true;
}

std::string ToLower(std::string_view s) {
  if (IsAscii(s)) {
    std::string out(s);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c + 32);
    }
    return out;
  }
  return MapRunes(s, RuneLower);
}

std::string ToUpper(std::string_view s) {
  if (IsAscii(s)) {
    std::string out(s);
    for (char& c : out) {
      if (c >= 'a' && c <= 'z')
        c = static_cast<char>(c - 32);
    }
    return out;
  }
  return MapRunes(s, RuneUpper);
}

// strings.Title: upper-cases letters that start words.
std::string Title(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  uint32_t prev = ' ';
  size_t w = 0;
  auto is_sep = [](uint32_t r) {
    if (r <= 0x7F) {
      return !((r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
               r == '_');
    }
    if (RuneIsLetterOrDigit(r))
      return false;
    return RuneIsSpace(r);
  };
  for (size_t i = 0; i < s.size(); i += w) {
    uint32_t r = DecodeRune(s, i, &w);
    if (is_sep(prev)) {
      AppendRune(&out, RuneUpper(r));
    } else if (r == 0xFFFD && w == 1) {
      out.push_back(s[i]);  // strings.Map keeps invalid bytes it does not change
    } else {
      out.append(s.substr(i, w));
    }
    prev = r;
  }
  return out;
}

bool InCutset(uint32_t r, std::string_view cutset) {
  if (r < 0x80 && IsAscii(cutset))
    return cutset.find(static_cast<char>(r)) != cutset.npos;
  size_t w = 0;
  for (size_t i = 0; i < cutset.size(); i += w) {
    if (DecodeRune(cutset, i, &w) == r)
      return true;
  }
  return false;
}

std::string_view TrimLeftFn(std::string_view s, std::string_view cutset) {
  size_t w = 0, i = 0;
  while (i < s.size()) {
    uint32_t r = DecodeRune(s, i, &w);
    if (!InCutset(r, cutset))
      break;
    i += w;
  }
  return s.substr(i);
}

std::string_view TrimRightFn(std::string_view s, std::string_view cutset) {
  // Walk forward remembering where the trailing run of cutset runes starts.
  size_t w = 0, keep = 0;
  for (size_t i = 0; i < s.size(); i += w) {
    uint32_t r = DecodeRune(s, i, &w);
    if (!InCutset(r, cutset))
      keep = i + w;
  }
  return s.substr(0, keep);
}

std::string_view TrimSpace(std::string_view s) {
  size_t w = 0, i = 0;
  while (i < s.size()) {
    uint32_t r = DecodeRune(s, i, &w);
    if (!RuneIsSpace(r))
      break;
    i += w;
  }
  s = s.substr(i);
  size_t keep = 0;
  for (size_t k = 0; k < s.size(); k += w) {
    uint32_t r = DecodeRune(s, k, &w);
    if (!RuneIsSpace(r))
      keep = k + w;
  }
  return s.substr(0, keep);
}

size_t CountSubstr(std::string_view s, std::string_view sub) {
  if (sub.empty())
    return RuneCount(s) + 1;
  size_t n = 0, pos = 0;
  while ((pos = s.find(sub, pos)) != s.npos) {
    n++;
    pos += sub.size();
  }
  return n;
}

// strings.Replace.
std::string ReplaceN(std::string_view s, std::string_view old_s, std::string_view new_s,
                     int64_t n) {
  if (old_s == new_s || n == 0)
    return std::string(s);
  int64_t m = static_cast<int64_t>(CountSubstr(s, old_s));
  if (m == 0)
    return std::string(s);
  if (n < 0 || m < n)
    n = m;
  std::string out;
  out.reserve(s.size() + static_cast<size_t>(n) * new_s.size());
  size_t start = 0;
  for (int64_t i = 0; i < n; i++) {
    size_t j = start;
    if (old_s.empty()) {
      if (i > 0) {
        size_t w = 0;
        DecodeRune(s, start, &w);
        j += w;
      }
    } else {
      j = s.find(old_s, start);
    }
    out.append(s.substr(start, j - start));
    out.append(new_s);
    start = j + old_s.size();
  }
  out.append(s.substr(std::min(start, s.size())));
  return out;
}

// Output size guard: Go would build any size; a log line formatter has no business producing
// more than this, and unbounded repeat/indent would let one query exhaust memory.
constexpr size_t kMaxOutput = size_t{64} << 20;

bool Repeat(std::string_view s, int64_t count, std::string* out, std::string* err) {
  if (count < 0) {
    *err = "strings: negative Repeat count";
    return false;
  }
  if (!s.empty() && static_cast<uint64_t>(count) > kMaxOutput / s.size()) {
    *err = "strings: Repeat output length overflow";
    return false;
  }
  out->reserve(s.size() * static_cast<size_t>(count));
  for (int64_t i = 0; i < count; i++)
    out->append(s);
  return true;
}

void Indent(int64_t spaces, std::string_view v, std::string* out) {
  if (spaces < 0)
    spaces = 0;  // strings.Repeat would panic; sprig callers never pass < 0
  size_t n = std::min<size_t>(static_cast<size_t>(spaces), 4096);
  std::string pad(n, ' ');
  out->append(pad);
  for (char c : v) {
    out->push_back(c);
    if (c == '\n')
      out->append(pad);
  }
}

// goutils.AbbreviateFull (byte based, as sprig is).
std::string AbbreviateFull(std::string_view str, int64_t offset, int64_t max_width) {
  const int64_t len = static_cast<int64_t>(str.size());
  if (str.empty())
    return "";
  if (max_width < 4)
    return "";
  if (len <= max_width)
    return std::string(str);
  if (offset > len)
    offset = len;
  if (len - offset < max_width - 3)
    offset = len - (max_width - 3);
  if (offset <= 4)
    return std::string(str.substr(0, max_width - 3)) + "...";
  if (max_width < 7)
    return "";
  if (offset + max_width - 3 < len) {
    return "..." + AbbreviateFull(str.substr(offset), 0, max_width - 3);
  }
  return "..." + std::string(str.substr(len - (max_width - 3)));
}

// goutils.WrapCustom(str, n, "\n", false).
std::string Wrap(std::string_view str, int64_t wrap_length) {
  if (str.empty())
    return "";
  if (wrap_length < 1)
    wrap_length = 1;
  const size_t wl = static_cast<size_t>(std::min<int64_t>(wrap_length, 1 << 30));
  size_t offset = 0;
  std::string out;
  while (str.size() - offset > wl) {
    if (str[offset] == ' ') {
      offset++;
      continue;
    }
    size_t end = std::min(wl + offset + 1, str.size());
    size_t sp = str.substr(offset, end - offset).rfind(' ');
    if (sp != std::string_view::npos) {
      out.append(str.substr(offset, sp));
      out.push_back('\n');
      offset = offset + sp + 1;
    } else {
      size_t e = wl + offset;
      size_t idx = str.find(' ', e);
      if (idx == std::string_view::npos) {
        out.append(str.substr(offset));
        offset = str.size();
      } else {
        out.append(str.substr(offset, idx - offset));
        out.push_back('\n');
        offset = idx + 1;
      }
    }
  }
  out.append(str.substr(offset));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Number parsing as Go's strconv does it.

bool GoParseInt(std::string_view s, int64_t* out) {
  if (s.empty())
    return false;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  bool prefixed = false;
  if (s.size() >= 2 && s[0] == '0') {
    char c = static_cast<char>(s[1] | 0x20);
    if (c == 'x') {
      base = 16;
      s.remove_prefix(2);
      prefixed = true;
    } else if (c == 'o') {
      base = 8;
      s.remove_prefix(2);
      prefixed = true;
    } else if (c == 'b') {
      base = 2;
      s.remove_prefix(2);
      prefixed = true;
    } else {
      base = 8;
      s.remove_prefix(1);
      prefixed = true;
    }
  }
  std::string digits;
  char prev = prefixed ? '_' : '0';
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '_') {
      if (prev == '_' && !(i == 0 && prefixed))
        return false;
      prev = '_';
      continue;
    }
    prev = s[i];
    digits.push_back(s[i]);
  }
  if (prev == '_' && !s.empty())
    return false;
  if (digits.empty()) {
    if (base == 8 && !prefixed)
      return false;
    if (base == 8 && s.empty()) {  // "0"
      *out = 0;
      return true;
    }
    return false;
  }
  uint64_t v = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (r.ec != std::errc() || r.ptr != digits.data() + digits.size())
    return false;
  if (neg) {
    if (v > uint64_t{1} << 63)
      return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

bool GoParseFloat(std::string_view s, double* out) {
  if (s.empty())
    return false;
  bool neg = false;
  std::string_view t = s;
  if (t[0] == '+' || t[0] == '-') {
    neg = t[0] == '-';
    t.remove_prefix(1);
  }
  std::string lower = ToLower(t);
  if (lower == "inf" || lower == "infinity") {
    *out = neg ? -HUGE_VAL : HUGE_VAL;
    return true;
  }
  if (lower == "nan") {
    *out = std::nan("");
    return true;
  }
  std::string clean;
  bool hex = lower.size() > 2 && lower[0] == '0' && lower[1] == 'x';
  for (char c : t) {
    if (c != '_')
      clean.push_back(c);
  }
  if (clean.size() != t.size() && !hex && false)
    return false;
  double v = 0;
  std::from_chars_result r;
  if (hex) {
    r = std::from_chars(clean.data() + 2, clean.data() + clean.size(), v, std::chars_format::hex);
    if (clean.find_first_of("pP") == std::string::npos)
      return false;  // Go requires p exponent
  } else {
    if (clean.empty() || !(std::isdigit(static_cast<unsigned char>(clean[0])) || clean[0] == '.')) {
      return false;
    }
    r = std::from_chars(clean.data(), clean.data() + clean.size(), v, std::chars_format::general);
  }
  if (r.ptr != clean.data() + clean.size())
    return false;
  if (r.ec == std::errc::result_out_of_range) {
    // Go returns ±Inf (with an error) for overflow and 0 for underflow; either way cast yields 0.
    return false;
  }
  if (r.ec != std::errc())
    return false;
  *out = neg ? -v : v;
  return true;
}

// spf13/cast trimZeroDecimal: "10.00" -> "10".
std::string_view TrimZeroDecimal(std::string_view s) {
  bool found_zero = false;
  for (size_t i = s.size(); i > 0; i--) {
    char c = s[i - 1];
    if (c == '.') {
      if (found_zero)
        return s.substr(0, i - 1);
    } else if (c == '0') {
      found_zero = true;
    } else {
      return s;
    }
  }
  return s;
}

int64_t FloatToInt64(double f) {
  if (std::isnan(f))
    return std::numeric_limits<int64_t>::min();
  if (f >= 9223372036854775807.0 || f < -9223372036854775808.0) {
    return std::numeric_limits<int64_t>::min();  // what amd64 Go yields for out-of-range
  }
  return static_cast<int64_t>(f);
}

// cast.ToInt64 (errors become 0).
int64_t ToInt64(const Value& v) {
  switch (v.type()) {
    case Type::kInt:
    case Type::kInt64:
    case Type::kInt32:
    case Type::kUint8:
      return v.i();
    case Type::kFloat64:
      return FloatToInt64(v.f());
    case Type::kBool:
      return v.b() ? 1 : 0;
    case Type::kString: {
      int64_t x = 0;
      if (GoParseInt(TrimZeroDecimal(v.str()), &x))
        return x;
      return 0;
    }
    default:
      return 0;
  }
}

// cast.ToFloat64 (errors become 0).
double ToFloat64(const Value& v) {
  switch (v.type()) {
    case Type::kInt:
    case Type::kInt64:
    case Type::kInt32:
    case Type::kUint8:
      return static_cast<double>(v.i());
    case Type::kFloat64:
      return v.f();
    case Type::kBool:
      return v.b() ? 1 : 0;
    case Type::kString: {
      double f = 0;
      if (GoParseFloat(v.str(), &f))
        return f;
      return 0;
    }
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// shopspring/decimal arithmetic as sprig's addf/subf/mulf/divf use it: operands are taken at
// their shortest decimal representation, combined exactly, then rounded to the nearest double.

struct Dec {
  __int128 mant = 0;  // signed
  int exp = 0;        // value = mant * 10^exp
};

Dec ToDec(double f) {
  Dec d;
  if (f == 0 || !std::isfinite(f))
    return d;
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), std::fabs(f), std::chars_format::scientific);
  std::string_view s(buf, r.ptr - buf);
  size_t e = s.find('e');
  int exp = 0;
  std::from_chars(s.data() + e + (s[e + 1] == '+' ? 2 : 1), s.data() + s.size(), exp);
  int frac_digits = 0;
  bool after_dot = false;
  for (size_t i = 0; i < e; i++) {
    if (s[i] == '.') {
      after_dot = true;
      continue;
    }
    d.mant = d.mant * 10 + (s[i] - '0');
    if (after_dot)
      frac_digits++;
  }
  d.exp = exp - frac_digits;
  if (f < 0)
    d.mant = -d.mant;
  return d;
}

double DecToDouble(const Dec& d) {
  if (d.mant == 0)
    return 0;
  unsigned __int128 m =
      d.mant < 0 ? static_cast<unsigned __int128>(-d.mant) : static_cast<unsigned __int128>(d.mant);
  char digits[48];
  int n = 0;
  while (m > 0) {
    digits[n++] = static_cast<char>('0' + static_cast<int>(m % 10));
    m /= 10;
  }
  std::string s;
  for (int i = n - 1; i >= 0; i--)
    s.push_back(digits[i]);
  s += "e" + std::to_string(d.exp);
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return d.mant < 0 ? -v : v;
}

const __int128 kPow10Limit = static_cast<__int128>(1) << 120;

bool Align(Dec* a, Dec* b) {
  Dec* hi = a->exp > b->exp ? a : b;
  Dec* lo = a->exp > b->exp ? b : a;
  while (hi->exp > lo->exp) {
    if (hi->mant > kPow10Limit / 10 || hi->mant < -kPow10Limit / 10)
      return false;
    hi->mant *= 10;
    hi->exp--;
  }
  return true;
}

double DecAdd(double x, double y, bool subtract) {
  if (!std::isfinite(x) || !std::isfinite(y))
    return subtract ? x - y : x + y;
  Dec a = ToDec(x), b = ToDec(y);
  if (subtract)
    b.mant = -b.mant;
  if (a.mant == 0)
    return DecToDouble(b);
  if (b.mant == 0)
    return DecToDouble(a);
  if (!Align(&a, &b))
    return subtract ? x - y : x + y;
  Dec r{a.mant + b.mant, a.exp};
  return DecToDouble(r);
}

double DecMul(double x, double y) {
  if (!std::isfinite(x) || !std::isfinite(y))
    return x * y;
  Dec a = ToDec(x), b = ToDec(y);
  Dec r{a.mant * b.mant, a.exp + b.exp};  // both < 10^18: fits
  return DecToDouble(r);
}

// decimal.Div: quotient rounded (half away from zero) to 16 fractional digits.
bool DecDiv(double x, double y, double* out) {
  if (y == 0)
    return false;
  if (!std::isfinite(x) || !std::isfinite(y)) {
    *out = x / y;
    return true;
  }
  Dec a = ToDec(x), b = ToDec(y);
  // q = a.mant / b.mant * 10^(a.exp - b.exp); want N = round(q * 10^16).
  int shift = a.exp - b.exp + 16;
  __int128 num = a.mant;
  __int128 den = b.mant;
  if (den < 0) {
    den = -den;
    num = -num;
  }
  while (shift > 0) {
    if (num > kPow10Limit / 10 || num < -kPow10Limit / 10) {
      *out = x / y;
      return true;
    }
    num *= 10;
    shift--;
  }
  while (shift < 0) {
    if (den > kPow10Limit / 10) {
      *out = x / y;
      return true;
    }
    den *= 10;
    shift++;
  }
  __int128 q = num / den;
  __int128 rem = num % den;
  if (rem < 0)
    rem = -rem;
  if (rem * 2 >= den)
    q += num < 0 ? -1 : 1;
  *out = DecToDouble(Dec{q, -16});
  return true;
}

double GoMax(double a, double b) {
  if (std::isinf(a) && a > 0)
    return a;
  if (std::isinf(b) && b > 0)
    return b;
  if (std::isnan(a) || std::isnan(b))
    return std::nan("");
  if (a == 0 && a == b)
    return std::signbit(a) ? b : a;
  return a > b ? a : b;
}

double GoMin(double a, double b) {
  if (std::isinf(a) && a < 0)
    return a;
  if (std::isinf(b) && b < 0)
    return b;
  if (std::isnan(a) || std::isnan(b))
    return std::nan("");
  if (a == 0 && a == b)
    return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

// ---------------------------------------------------------------------------------------------
// Encodings.

void QueryEscape(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out->push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out->push_back('+');
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

int HexVal(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

bool QueryUnescape(std::string_view s, std::string* out, std::string* err) {
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || HexVal(s[i + 1]) < 0 || HexVal(s[i + 2]) < 0) {
        std::string bad(s.substr(i, 3));
        *err = "invalid URL escape ";
        AppendGoQuoted(err, bad);
        return false;
      }
      out->push_back(static_cast<char>(HexVal(s[i + 1]) * 16 + HexVal(s[i + 2])));
      i += 2;
    } else if (s[i] == '+') {
      out->push_back(' ');
    } else {
      out->push_back(s[i]);
    }
  }
  return true;
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void B64Encode(std::string_view s, std::string* out) {
  size_t i = 0;
  for (; i + 3 <= s.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(s[i]) << 16) |
                 (static_cast<unsigned char>(s[i + 1]) << 8) | static_cast<unsigned char>(s[i + 2]);
    out->push_back(kB64[(v >> 18) & 63]);
    out->push_back(kB64[(v >> 12) & 63]);
    out->push_back(kB64[(v >> 6) & 63]);
    out->push_back(kB64[v & 63]);
  }
  size_t rem = s.size() - i;
  if (rem == 1) {
    uint32_t v = static_cast<unsigned char>(s[i]) << 16;
    out->push_back(kB64[(v >> 18) & 63]);
    out->push_back(kB64[(v >> 12) & 63]);
    out->append("==");
  } else if (rem == 2) {
    uint32_t v =
        (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8);
    out->push_back(kB64[(v >> 18) & 63]);
    out->push_back(kB64[(v >> 12) & 63]);
    out->push_back(kB64[(v >> 6) & 63]);
    out->push_back('=');
  }
}

int B64Val(char c) {
  const char* p = std::strchr(kB64, c);
  return (p == nullptr || c == '\0') ? -1 : static_cast<int>(p - kB64);
}

// base64.StdEncoding.DecodeString; on error *bad_at is Go's CorruptInputError offset.
bool B64Decode(std::string_view src, std::string* out, size_t* bad_at) {
  size_t si = 0;
  while (si < src.size()) {
    int vals[4];
    int j = 0;
    for (; j < 4; j++) {
      while (si < src.size() && (src[si] == '\n' || src[si] == '\r'))
        si++;
      if (si == src.size()) {
        if (j == 0)
          return true;
        *bad_at = si - static_cast<size_t>(j);
        return false;
      }
      char c = src[si++];
      if (c == '=') {
        if (j == 0 || j == 1) {
          *bad_at = si - 1;
          return false;
        }
        if (j == 2) {
          while (si < src.size() && (src[si] == '\n' || src[si] == '\r'))
            si++;
          if (si == src.size()) {
            *bad_at = src.size();
            return false;
          }
          if (src[si] != '=') {
            *bad_at = si - 1;
            return false;
          }
          si++;
        }
        while (si < src.size() && (src[si] == '\n' || src[si] == '\r'))
          si++;
        if (si < src.size()) {
          *bad_at = si;
          return false;
        }
        break;
      }
      int v = B64Val(c);
      if (v < 0) {
        *bad_at = si - 1;
        return false;
      }
      vals[j] = v;
    }
    uint32_t v = 0;
    for (int k = 0; k < j; k++)
      v |= static_cast<uint32_t>(vals[k]) << (18 - 6 * k);
    if (j >= 2)
      out->push_back(static_cast<char>((v >> 16) & 0xFF));
    if (j >= 3)
      out->push_back(static_cast<char>((v >> 8) & 0xFF));
    if (j >= 4)
      out->push_back(static_cast<char>(v & 0xFF));
    if (j < 4)
      return true;
  }
  return true;
}

void HtmlEscape(std::string_view s, std::string* out) {
  for (char c : s) {
    switch (c) {
      case '\0':
        out->append("\xEF\xBF\xBD");
        break;
      case '"':
        out->append("&#34;");
        break;
      case '\'':
        out->append("&#39;");
        break;
      case '&':
        out->append("&amp;");
        break;
      case '<':
        out->append("&lt;");
        break;
      case '>':
        out->append("&gt;");
        break;
      default:
        out->push_back(c);
    }
  }
}

void JsEscape(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  size_t w = 0;
  for (size_t i = 0; i < s.size(); i += w) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    w = 1;
    switch (c) {
      case '\\':
        out->append("\\\\");
        continue;
      case '\'':
        out->append("\\'");
        continue;
      case '"':
        out->append("\\\"");
        continue;
      case '<':
        out->append("\\u003C");
        continue;
      case '>':
        out->append("\\u003E");
        continue;
      case '&':
        out->append("\\u0026");
        continue;
      case '=':
        out->append("\\u003D");
        continue;
      default:
        break;
    }
    if (c < ' ') {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else if (c < 0x80) {
      out->push_back(static_cast<char>(c));
    } else {
      uint32_t r = DecodeRune(s, i, &w);
      if (r == 0xFFFD && w == 1) {
        out->append("\\uFFFD");
      } else {
        out->append(s.substr(i, w));
      }
    }
  }
}

// humanize.ParseBytes.
bool ParseBytes(std::string_view s, double* out, std::string* err) {
  size_t last = 0;
  bool comma = false;
  while (last < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[last])) || s[last] == '.' || s[last] == ',')) {
    if (s[last] == ',')
      comma = true;
    last++;
  }
  std::string num(s.substr(0, last));
  if (comma)
    num.erase(std::remove(num.begin(), num.end(), ','), num.end());
  double f = 0;
  if (!GoParseFloat(num, &f)) {
    *err = "strconv.ParseFloat: parsing ";
    AppendGoQuoted(err, num);
    *err += ": invalid syntax";
    return false;
  }
  std::string extra = ToLower(TrimSpace(s.substr(last)));
  static const struct {
    const char* name;
    double mult;
  } kTable[] = {
      {"b", 1},
      {"", 1},
      {"kib", 1024.0},
      {"ki", 1024.0},
      {"kb", 1e3},
      {"k", 1e3},
      {"mib", 1048576.0},
      {"mi", 1048576.0},
      {"mb", 1e6},
      {"m", 1e6},
      {"gib", 1073741824.0},
      {"gi", 1073741824.0},
      {"gb", 1e9},
      {"g", 1e9},
      {"tib", 1099511627776.0},
      {"ti", 1099511627776.0},
      {"tb", 1e12},
      {"t", 1e12},
      {"pib", 1125899906842624.0},
      {"pi", 1125899906842624.0},
      {"pb", 1e15},
      {"p", 1e15},
      {"eib", 1152921504606846976.0},
      {"ei", 1152921504606846976.0},
      {"eb", 1e18},
      {"e", 1e18},
  };
  for (const auto& e : kTable) {
    if (extra == e.name) {
      f *= e.mult;
      if (f >= 18446744073709551615.0) {
        *err = "too large: " + std::string(s);
        return false;
      }
      *out = static_cast<double>(static_cast<uint64_t>(f));
      return true;
    }
  }
  *err = "unhandled size name: " + extra;
  return false;
}

GoTime Now() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return GoTime::FromUnixNanos(static_cast<int64_t>(ns));
}

int64_t UnixMilli(const GoTime& t) {
  return static_cast<int64_t>(static_cast<uint64_t>(t.sec) * 1000u +
                              static_cast<uint64_t>(t.nsec / 1000000));
}

bool Empty(const Value& v) {
  switch (v.type()) {
    case Type::kInvalid:
    case Type::kNil:
      return true;
    case Type::kTime:
      return false;
    default:
      return !IsTrue(v);
  }
}

// Regex replacement with Go's Expand syntax ($1, ${1}, $name, ${name}, $$).
void Expand(const re2::RE2& re, std::string_view tmpl, const re2::StringPiece* groups, int ngroups,
            std::string* out) {
  while (!tmpl.empty()) {
    size_t d = tmpl.find('$');
    if (d == std::string_view::npos)
      break;
    out->append(tmpl.substr(0, d));
    tmpl.remove_prefix(d + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out->push_back('$');
      tmpl.remove_prefix(1);
      continue;
    }
    // extract()
    std::string_view str = tmpl;
    bool brace = false;
    if (!str.empty() && str[0] == '{') {
      brace = true;
      str.remove_prefix(1);
    }
    size_t i = 0, w = 0;
    while (i < str.size()) {
      uint32_t r = DecodeRune(str, i, &w);
      if (!(r == '_' ||
            (r < 0x80 ? std::isalnum(static_cast<int>(r)) != 0 : RuneIsLetterOrDigit(r)))) {
        break;
      }
      i += w;
    }
    if (i == 0 || (brace && (i >= str.size() || str[i] != '}'))) {
      out->push_back('$');  // malformed: the $ is literal text
      continue;
    }
    std::string_view name = str.substr(0, i);
    if (brace)
      i++;
    tmpl = str.substr(i);
    int num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100000000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name[0] == '0' && name.size() > 1)
      num = -1;
    if (num < 0) {
      const auto& names = re.NamedCapturingGroups();
      auto it = names.find(std::string(name));
      if (it != names.end())
        num = it->second;
    }
    if (num >= 0 && num < ngroups && groups[num].data() != nullptr) {
      out->append(groups[num].data(), groups[num].size());
    }
  }
  out->append(tmpl);
}

void ReplaceAll(const re2::RE2& re, std::string_view src, std::string_view repl, bool literal,
                std::string* out) {
  int ngroups = literal ? 1 : re.NumberOfCapturingGroups() + 1;
  absl::InlinedVector<re2::StringPiece, 10> groups(static_cast<size_t>(ngroups));
  re2::StringPiece text(src.data(), src.size());
  size_t last_end = 0, search = 0;
  const size_t end = src.size();
  while (search <= end) {
    if (!re.Match(text, search, end, re2::RE2::UNANCHORED, groups.data(), ngroups))
      break;
    size_t a0 = static_cast<size_t>(groups[0].data() - src.data());
    size_t a1 = a0 + groups[0].size();
    out->append(src.substr(last_end, a0 - last_end));
    if (a1 > last_end || a0 == 0) {
      if (literal) {
        out->append(repl);
      } else {
        Expand(re, repl, groups.data(), ngroups, out);
      }
    }
    last_end = a1;
    size_t width = 0;
    if (search < end)
      DecodeRune(src, search, &width);
    if (search + width > a1) {
      search += width;
    } else if (search + 1 > a1) {
      search++;
    } else {
      search = a1;
    }
  }
  out->append(src.substr(std::min(last_end, src.size())));
}

int64_t CountMatches(const re2::RE2& re, std::string_view src) {
  re2::StringPiece text(src.data(), src.size());
  re2::StringPiece m;
  size_t pos = 0;
  const size_t end = src.size();
  int64_t n = 0;
  int64_t prev_end = -1;
  while (pos <= end) {
    if (!re.Match(text, pos, end, re2::RE2::UNANCHORED, &m, 1))
      break;
    size_t m0 = static_cast<size_t>(m.data() - src.data());
    size_t m1 = m0 + m.size();
    bool accept = true;
    if (m1 == pos) {
      if (static_cast<int64_t>(m0) == prev_end)
        accept = false;
      size_t width = 0;
      if (pos < end) {
        DecodeRune(src, pos, &width);
        pos += width;
      } else {
        pos = end + 1;
      }
    } else {
      pos = m1;
    }
    prev_end = static_cast<int64_t>(m1);
    if (accept)
      n++;
  }
  return n;
}

enum class Kind { kInvalid, kBool, kInt, kUint, kFloat, kString, kOther };

Kind BasicKind(const Value& v) {
  switch (v.type()) {
    case Type::kBool:
      return Kind::kBool;
    case Type::kInt:
    case Type::kInt64:
    case Type::kInt32:
      return Kind::kInt;
    case Type::kUint8:
      return Kind::kUint;
    case Type::kFloat64:
      return Kind::kFloat;
    case Type::kString:
      return Kind::kString;
    case Type::kInvalid:
    case Type::kNil:
      return Kind::kInvalid;
    default:
      return Kind::kOther;
  }
}

constexpr char kBadComparison[] = "incompatible types for comparison";
constexpr char kBadComparisonType[] = "invalid type for comparison";

}  // namespace

bool GoEq(const Value& a, std::span<const Value> bs, bool* truth, std::string* err) {
  *truth = false;
  if (bs.empty()) {
    *err = "missing argument for comparison";
    return false;
  }
  Kind k1 = BasicKind(a);
  for (const Value& b : bs) {
    Kind k2 = BasicKind(b);
    bool t = false;
    if (k1 != k2) {
      if ((k1 == Kind::kInt && k2 == Kind::kUint) || (k1 == Kind::kUint && k2 == Kind::kInt)) {
        t = a.i() == b.i();
      } else if (a.valid() && b.valid() && a.type() != Type::kNil && b.type() != Type::kNil) {
        *err = kBadComparison;
        return false;
      }
    } else {
      switch (k1) {
        case Kind::kBool:
          t = a.b() == b.b();
          break;
        case Kind::kInt:
        case Kind::kUint:
          t = a.i() == b.i();
          break;
        case Kind::kFloat:
          t = a.f() == b.f();
          break;
        case Kind::kString:
          t = a.str() == b.str();
          break;
        case Kind::kInvalid:
          t = true;  // nil == nil
          break;
        case Kind::kOther:
          if (a.type() != b.type()) {
            *err = kBadComparison;
            return false;
          }
          if (a.type() == Type::kMap || a.type() == Type::kObject || a.type() == Type::kList) {
            *err = "non-comparable type " + std::string(TypeName(a.type()));
            return false;
          }
          t = a.time().sec == b.time().sec && a.time().nsec == b.time().nsec;
          break;
      }
    }
    if (t) {
      *truth = true;
      return true;
    }
  }
  return true;
}

bool GoLt(const Value& a, const Value& b, bool* truth, std::string* err) {
  *truth = false;
  Kind k1 = BasicKind(a), k2 = BasicKind(b);
  if (k1 == Kind::kInvalid || k1 == Kind::kOther || k2 == Kind::kInvalid || k2 == Kind::kOther) {
    *err = kBadComparisonType;
    return false;
  }
  if (k1 != k2) {
    if ((k1 == Kind::kInt && k2 == Kind::kUint) || (k1 == Kind::kUint && k2 == Kind::kInt)) {
      *truth = a.i() < b.i();
      return true;
    }
    *err = kBadComparison;
    return false;
  }
  switch (k1) {
    case Kind::kBool:
      *err = kBadComparisonType;
      return false;
    case Kind::kFloat:
      *truth = a.f() < b.f();
      return true;
    case Kind::kInt:
    case Kind::kUint:
      *truth = a.i() < b.i();
      return true;
    case Kind::kString:
      *truth = a.str() < b.str();
      return true;
    default:
      *err = kBadComparisonType;
      return false;
  }
}

std::string_view ParamName(Param p) {
  switch (p) {
    case Param::kAny:
      return "interface {}";
    case Param::kValue:
      return "reflect.Value";
    case Param::kString:
      return "string";
    case Param::kInt:
      return "int";
    case Param::kFloat64:
      return "float64";
    case Param::kBool:
      return "bool";
    case Param::kTime:
      return "time.Time";
  }
  return "?";
}

const FuncInfo* LookupFunc(std::string_view name) {
  for (const FuncInfo& f : kFuncs) {
    if (f.name == name)
      return &f;
  }
  return nullptr;
}

bool IsAndOr(const FuncInfo& f) {
  return f.id == FuncId::kAnd || f.id == FuncId::kOr;
}

bool TakesRegex(const FuncInfo& f) {
  return f.id == FuncId::kRegexReplaceAll || f.id == FuncId::kRegexReplaceAllLiteral ||
         f.id == FuncId::kCount;
}

CompiledRegex::~CompiledRegex() = default;

std::unique_ptr<CompiledRegex> CompileGoRegex(std::string_view pattern) {
  auto out = std::make_unique<CompiledRegex>();
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_unique<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), opts);
  if (!re->ok()) {
    const char* what = "invalid regular expression";
    switch (re->error_code()) {
      case re2::RE2::ErrorBadEscape:
        what = "invalid escape sequence";
        break;
      case re2::RE2::ErrorBadCharClass:
        what = "invalid character class";
        break;
      case re2::RE2::ErrorBadCharRange:
        what = "invalid character class range";
        break;
      case re2::RE2::ErrorMissingBracket:
        what = "missing closing ]";
        break;
      case re2::RE2::ErrorMissingParen:
        what = "missing closing )";
        break;
      case re2::RE2::ErrorTrailingBackslash:
        what = "trailing backslash at end of expression";
        break;
      case re2::RE2::ErrorRepeatArgument:
        what = "missing argument to repetition operator";
        break;
      case re2::RE2::ErrorRepeatSize:
        what = "invalid repeat count";
        break;
      case re2::RE2::ErrorRepeatOp:
        what = "invalid nested repetition operator";
        break;
      case re2::RE2::ErrorBadPerlOp:
        what = "invalid or unsupported Perl syntax";
        break;
      case re2::RE2::ErrorBadUTF8:
        what = "invalid UTF-8";
        break;
      case re2::RE2::ErrorBadNamedCapture:
        what = "invalid named capture";
        break;
      default:
        break;
    }
    std::string arg = re->error_arg();
    if (re->error().find("unexpected )") != std::string::npos)
      what = "unexpected )";
    out->error = "error parsing regexp: " + std::string(what) + ": `" + arg + "`";
    return out;
  }
  out->re = std::move(re);
  return out;
}

bool CallFunc(const FuncInfo& f, std::span<Value> args, const CallEnv& env, Value* result,
              std::string* err) {
  auto S = [&](size_t i) { return args[i].str(); };
  auto I = [&](size_t i) { return args[i].i(); };
  auto ret_str = [&](std::string s) {
    *result = Value::Owned(std::move(s));
    return true;
  };
  auto ret_view = [&](std::string_view s) {
    // A substring of a borrowed argument can stay a view; anything else is copied.
    for (const Value& a : args) {
      if (!a.borrowed())
        continue;
      std::string_view src = a.str();
      if (s.data() >= src.data() && s.data() + s.size() <= src.data() + src.size()) {
        *result = Value::Borrowed(s);
        return true;
      }
    }
    *result = Value::Owned(std::string(s));
    return true;
  };
  switch (f.id) {
    case F::kAnd:
    case F::kOr:
      *err = "internal error: and/or are evaluated by the executor";
      return false;
    case F::kNot:
      *result = Value::Bool(!IsTrue(args[0]));
      return true;
    case F::kLen: {
      const Value& v = args[0];
      if (v.type() == Type::kString) {
        *result = Value::Int(static_cast<int64_t>(v.str().size()));
        return true;
      }
      if (v.type() == Type::kMap) {
        int64_t n = 0;
        if (v.map() != nullptr)
          v.map()->ForEach([&](std::string_view, std::string_view) { n++; });
        *result = Value::Int(n);
        return true;
      }
      if (v.type() == Type::kObject || v.type() == Type::kList) {
        *result = Value::Int(static_cast<int64_t>(v.comp().size()));
        return true;
      }
      if (!v.valid() || v.type() == Type::kNil) {
        *err = "len of nil pointer";
        return false;
      }
      *err = "len of type " + std::string(TypeName(v.type()));
      return false;
    }
    case F::kIndex: {
      Value item = std::move(args[0]);
      if (!item.valid() || item.type() == Type::kNil) {
        *err = "index of untyped nil";
        return false;
      }
      for (size_t k = 1; k < args.size(); k++) {
        const Value& idx = args[k];
        if (item.type() == Type::kNil) {
          *err = "index of nil pointer";  // a JSON null or missing key, indexed further
          return false;
        }
        if (item.type() == Type::kList) {
          if (!idx.is_int()) {
            *err = idx.valid() && idx.type() != Type::kNil
                       ? "cannot index slice/array with type " + std::string(TypeName(idx.type()))
                       : "cannot index slice/array with nil";
            return false;
          }
          int64_t x = idx.i();
          const auto& list = item.comp().list;
          if (x < 0 || x > static_cast<int64_t>(list.size())) {
            *err = "index out of range: " + std::to_string(x);
            return false;
          }
          if (x == static_cast<int64_t>(list.size())) {
            *err = "reflect: slice index out of range";  // Go's recovered reflect panic
            return false;
          }
          Value next = list[static_cast<size_t>(x)];
          item = std::move(next);
        } else if (item.type() == Type::kObject) {
          if (idx.type() != Type::kString) {
            *err =
                idx.valid() && idx.type() != Type::kNil
                    ? "value has type " + std::string(TypeName(idx.type())) + "; should be string"
                    : "value is nil; should be of type string";
            return false;
          }
          // Missing: the zero interface{} (nil), which prints "<no value>".
          const Value* got = item.comp().Find(idx.str());
          Value next = got != nullptr ? *got : Value::Nil();
          item = std::move(next);
        } else if (item.type() == Type::kString) {
          if (!idx.is_int()) {
            *err = idx.valid() && idx.type() != Type::kNil
                       ? "cannot index slice/array with type " + std::string(TypeName(idx.type()))
                       : "cannot index slice/array with nil";
            return false;
          }
          int64_t x = idx.i();
          int64_t len = static_cast<int64_t>(item.str().size());
          if (x < 0 || x > len) {
            *err = "index out of range: " + std::to_string(x);
            return false;
          }
          if (x == len) {
            *err = "reflect: string index out of range";
            return false;
          }
          item = Value::Int(static_cast<unsigned char>(item.str()[x]), Type::kUint8);
        } else if (item.type() == Type::kMap) {
          if (idx.type() != Type::kString) {
            *err = "value has type " + std::string(TypeName(idx.type())) + "; should be string";
            return false;
          }
          std::optional<std::string_view> got;
          if (item.map() != nullptr)
            got = item.map()->Get(idx.str());
          item = Value::Borrowed(got.value_or(std::string_view()));
        } else {
          *err = "can't index item of type " + std::string(TypeName(item.type()));
          return false;
        }
      }
      *result = std::move(item);
      return true;
    }
    case F::kSlice: {
      const Value& item = args[0];
      if (!item.valid() || item.type() == Type::kNil) {
        *err = "slice of untyped nil";
        return false;
      }
      if (args.size() > 4) {
        *err = "too many slice indexes: " + std::to_string(args.size() - 1);
        return false;
      }
      if (item.type() != Type::kString) {
        *err = "can't slice item of type " + std::string(TypeName(item.type()));
        return false;
      }
      if (args.size() == 4) {
        *err = "cannot 3-index slice a string";
        return false;
      }
      int64_t len = static_cast<int64_t>(item.str().size());
      int64_t idx[2] = {0, len};
      for (size_t k = 1; k < args.size(); k++) {
        if (!args[k].is_int()) {
          *err = "cannot index slice/array with type " + std::string(TypeName(args[k].type()));
          return false;
        }
        int64_t x = args[k].i();
        if (x < 0 || x > len) {
          *err = "index out of range: " + std::to_string(x);
          return false;
        }
        idx[k - 1] = x;
      }
      if (idx[0] > idx[1]) {
        *err = "invalid slice index: " + std::to_string(idx[0]) + " > " + std::to_string(idx[1]);
        return false;
      }
      return ret_view(item.str().substr(idx[0], idx[1] - idx[0]));
    }
    case F::kPrint: {
      std::string s;
      AppendSprint(&s, args);
      return ret_str(std::move(s));
    }
    case F::kPrintf: {
      std::string s;
      AppendSprintf(&s, S(0), args.subspan(1));
      return ret_str(std::move(s));
    }
    case F::kPrintln: {
      std::string s;
      AppendSprintln(&s, args);
      return ret_str(std::move(s));
    }
    case F::kHtml:
    case F::kJs:
    case F::kUrlquery: {
      std::string in;
      if (args.size() == 1 && args[0].type() == Type::kString) {
        in = std::string(args[0].str());
      } else {
        AppendSprint(&in, args);
      }
      std::string s;
      if (f.id == F::kHtml) {
        HtmlEscape(in, &s);
      } else if (f.id == F::kJs) {
        JsEscape(in, &s);
      } else {
        QueryEscape(in, &s);
      }
      return ret_str(std::move(s));
    }
    case F::kEq:
    case F::kNe: {
      bool t = false;
      if (!GoEq(args[0], args.subspan(1), &t, err))
        return false;
      *result = Value::Bool(f.id == F::kEq ? t : !t);
      return true;
    }
    case F::kLt:
    case F::kLe:
    case F::kGt:
    case F::kGe: {
      bool lt = false, eq = false;
      if (!GoLt(args[0], args[1], &lt, err))
        return false;
      if (f.id == F::kLe || f.id == F::kGt) {
        if (!lt && !GoEq(args[0], args.subspan(1, 1), &eq, err))
          return false;
        bool le = lt || eq;
        *result = Value::Bool(f.id == F::kLe ? le : !le);
      } else {
        *result = Value::Bool(f.id == F::kLt ? lt : !lt);
      }
      return true;
    }

    case F::kLine:
      *result = Value::Borrowed(env.ctx->line);
      return true;
    case F::kTimestamp:
      *result = Value::Time(GoTime::FromUnixNanos(env.ctx->timestamp_ns));
      return true;
    case F::kToLower:
      return ret_str(ToLower(S(0)));
    case F::kToUpper:
      return ret_str(ToUpper(S(0)));
    case F::kReplaceN:
      return ret_str(ReplaceN(S(0), S(1), S(2), I(3)));
    case F::kTrimCutset:
      return ret_view(TrimRightFn(TrimLeftFn(S(0), S(1)), S(1)));
    case F::kTrimLeft:
      return ret_view(TrimLeftFn(S(0), S(1)));
    case F::kTrimRight:
      return ret_view(TrimRightFn(S(0), S(1)));
    case F::kTrimPrefixGo: {
      std::string_view s = S(0), p = S(1);
      if (s.substr(0, p.size()) == p)
        s.remove_prefix(p.size());
      return ret_view(s);
    }
    case F::kTrimSuffixGo: {
      std::string_view s = S(0), p = S(1);
      if (s.size() >= p.size() && s.substr(s.size() - p.size()) == p)
        s.remove_suffix(p.size());
      return ret_view(s);
    }
    case F::kTrimSpace:
      return ret_view(TrimSpace(S(0)));
    case F::kRegexReplaceAll:
    case F::kRegexReplaceAllLiteral:
    case F::kCount: {
      std::unique_ptr<CompiledRegex> dynamic;
      const CompiledRegex* rx = env.regex;
      if (rx == nullptr) {
        dynamic = CompileGoRegex(S(0));
        rx = dynamic.get();
      }
      if (rx->re == nullptr) {
        *err = rx->error;
        return false;
      }
      if (f.id == F::kCount) {
        *result = Value::Int(CountMatches(*rx->re, S(1)));
        return true;
      }
      std::string s;
      ReplaceAll(*rx->re, S(1), S(2), f.id == F::kRegexReplaceAllLiteral, &s);
      return ret_str(std::move(s));
    }
    case F::kUrlencode: {
      std::string s;
      QueryEscape(S(0), &s);
      return ret_str(std::move(s));
    }
    case F::kUrldecode: {
      std::string s;
      if (!QueryUnescape(S(0), &s, err))
        return false;
      return ret_str(std::move(s));
    }
    case F::kBytes: {
      double v = 0;
      if (!ParseBytes(S(0), &v, err))
        return false;
      *result = Value::Float(v);
      return true;
    }
    case F::kDuration: {
      int64_t ns = 0;
      if (!ParseGoDuration(S(0), &ns, err))
        return false;
      int64_t sec = ns / 1000000000, nsec = ns % 1000000000;
      *result = Value::Float(static_cast<double>(sec) + static_cast<double>(nsec) / 1e9);
      return true;
    }
    case F::kUnixEpoch:
      return ret_str(std::to_string(args[0].time().sec));
    case F::kUnixEpochMillis:
      return ret_str(std::to_string(UnixMilli(args[0].time())));
    case F::kUnixEpochNanos:
      return ret_str(std::to_string(args[0].time().UnixNanos()));
    case F::kUnixToTime: {
      std::string_view s = S(0);
      int64_t v = 0;
      if (s.size() != 5 && s.size() != 10 && s.size() != 13 && s.size() != 16 && s.size() != 19) {
        *err = "unable to parse time '" + std::string(s) + "'";
        return false;
      }
      // strconv.ParseInt(epoch, 10, 64)
      bool ok = !s.empty();
      size_t k = (s[0] == '+' || s[0] == '-') ? 1 : 0;
      if (k == s.size())
        ok = false;
      for (size_t j = k; ok && j < s.size(); j++)
        ok = s[j] >= '0' && s[j] <= '9';
      if (ok) {
        auto r = std::from_chars(s.data() + k, s.data() + s.size(), v);
        ok = r.ec == std::errc();
        if (s[0] == '-')
          v = -v;
      }
      if (!ok) {
        *err = "strconv.ParseInt: parsing ";
        AppendGoQuoted(err, s);
        *err += ": invalid syntax";
        return false;
      }
      GoTime t;
      switch (s.size()) {
        case 5:
          t.sec = v * 86400;  // |v| < 10^5: no overflow
          t.nsec = 0;
          break;
        case 10:
          t.sec = v;
          t.nsec = 0;
          break;
        case 13:  // Go's int64 multiplication wraps
          t = GoTime::FromUnixNanos(static_cast<int64_t>(static_cast<uint64_t>(v) * 1000000u));
          break;
        case 16:
          t = GoTime::FromUnixNanos(static_cast<int64_t>(static_cast<uint64_t>(v) * 1000u));
          break;
        default:
          t = GoTime::FromUnixNanos(v);
      }
      *result = Value::Time(t);
      return true;
    }
    case F::kToDateInZone: {
      GoTime loc;
      if (!LoadGoLocation(S(1), &loc))
        loc = GoTime();
      GoTime t;
      if (!ParseGoTime(S(0), S(2), loc, &t))
        t = GoTime();
      *result = Value::Time(t);
      return true;
    }
    case F::kFromJson: {
      // sprig ignores the decode error: invalid JSON yields a nil interface{}.
      if (!DecodeJson(S(0), result))
        *result = Value::Nil();
      return true;
    }
    case F::kToDate: {
      GoTime t;
      if (!ParseGoTime(S(0), S(1), GoTime(), &t))
        t = GoTime();
      *result = Value::Time(t);
      return true;
    }
    case F::kDate: {
      GoTime t;
      const Value& d = args[1];
      if (d.type() == Type::kTime) {
        t = d.time();
        t.zone = GoTime::Zone::kUtc;  // t.In(Local), Local being UTC
      } else if (d.type() == Type::kInt || d.type() == Type::kInt64 || d.type() == Type::kInt32) {
        t.sec = d.i();
        t.nsec = 0;
      } else {
        t = Now();
      }
      std::string s;
      AppendGoTimeFormat(&s, t, S(0));
      return ret_str(std::move(s));
    }
    case F::kNow:
      *result = Value::Time(Now());
      return true;
    case F::kAlignLeft:
    case F::kAlignRight: {
      int64_t count = I(0);
      std::string_view src = S(1);
      int64_t l = static_cast<int64_t>(RuneCount(src));
      if (count < 0 || count == l)
        return ret_view(src);
      int64_t pad = count - l;
      if (pad > 0) {
        if (static_cast<size_t>(pad) > kMaxOutput) {
          *err = "strings: Repeat output length overflow";
          return false;
        }
        std::string s;
        if (f.id == F::kAlignLeft) {
          s.append(src);
          s.append(static_cast<size_t>(pad), ' ');
        } else {
          s.append(static_cast<size_t>(pad), ' ');
          s.append(src);
        }
        return ret_str(std::move(s));
      }
      if (f.id == F::kAlignLeft)
        return ret_view(src.substr(0, RuneOffset(src, count)));
      return ret_view(src.substr(RuneOffset(src, static_cast<size_t>(l - count))));
    }

    case F::kB64enc: {
      std::string s;
      B64Encode(S(0), &s);
      return ret_str(std::move(s));
    }
    case F::kB64dec: {
      std::string s;
      size_t bad = 0;
      if (!B64Decode(S(0), &s, &bad)) {
        return ret_str("illegal base64 data at input byte " + std::to_string(bad));
      }
      return ret_str(std::move(s));
    }
    case F::kTitle:
      return ret_str(Title(S(0)));
    case F::kTrunc: {
      int64_t c = I(0);
      std::string_view s = S(1);
      int64_t l = static_cast<int64_t>(RuneCount(s));
      if (c < 0 && l + c > 0)
        return ret_view(s.substr(RuneOffset(s, static_cast<size_t>(l + c))));
      if (c >= 0 && l > c)
        return ret_view(s.substr(0, RuneOffset(s, static_cast<size_t>(c))));
      return ret_view(s);
    }
    case F::kSubstr: {
      int64_t start = I(0), end = I(1);
      std::string_view s = S(2);
      int64_t l = static_cast<int64_t>(RuneCount(s));
      if (end > l)
        end = l;
      if (start > l)
        start = l;
      auto off = [&](int64_t n) { return RuneOffset(s, static_cast<size_t>(n)); };
      if (start < 0) {
        if (end < 0)
          return ret_view("");
        return ret_view(s.substr(0, off(end)));
      }
      if (end < 0)
        return ret_view(s.substr(off(start)));
      if (start > end)
        return ret_view("");
      size_t a = off(start);
      return ret_view(s.substr(a, off(end) - a));
    }
    case F::kContains:
      *result = Value::Bool(S(1).find(S(0)) != std::string_view::npos);
      return true;
    case F::kHasPrefix:
      *result = Value::Bool(S(1).substr(0, S(0).size()) == S(0));
      return true;
    case F::kHasSuffix:
      *result =
          Value::Bool(S(1).size() >= S(0).size() && S(1).substr(S(1).size() - S(0).size()) == S(0));
      return true;
    case F::kIndent:
    case F::kNindent: {
      std::string s;
      if (f.id == F::kNindent)
        s.push_back('\n');
      Indent(I(0), S(1), &s);
      return ret_str(std::move(s));
    }
    case F::kReplace:
      return ret_str(ReplaceN(S(2), S(0), S(1), -1));
    case F::kRepeat: {
      std::string s;
      if (!Repeat(S(1), I(0), &s, err))
        return false;
      return ret_str(std::move(s));
    }
    case F::kTrimAll:
      return ret_view(TrimRightFn(TrimLeftFn(S(1), S(0)), S(0)));
    case F::kTrimPrefix: {
      std::string_view s = S(1), p = S(0);
      if (s.substr(0, p.size()) == p)
        s.remove_prefix(p.size());
      return ret_view(s);
    }
    case F::kTrimSuffix: {
      std::string_view s = S(1), p = S(0);
      if (s.size() >= p.size() && s.substr(s.size() - p.size()) == p)
        s.remove_suffix(p.size());
      return ret_view(s);
    }
    case F::kAbbrev:
      if (I(0) < 4)
        return ret_view(S(1));
      return ret_str(AbbreviateFull(S(1), 0, I(0)));
    case F::kAbbrevboth:
      if (I(1) < 4 || (I(0) > 0 && I(1) < 7))
        return ret_view(S(2));
      return ret_str(AbbreviateFull(S(2), I(0), I(1)));
    case F::kWrap:
      return ret_str(Wrap(S(1), I(0)));
    case F::kInt:
      *result = Value::Int(ToInt64(args[0]));
      return true;
    case F::kFloat64:
      *result = Value::Float(ToFloat64(args[0]));
      return true;
    case F::kAdd: {
      uint64_t a = 0;  // Go integer arithmetic wraps
      for (const Value& v : args)
        a += static_cast<uint64_t>(ToInt64(v));
      *result = Value::Int(static_cast<int64_t>(a), Type::kInt64);
      return true;
    }
    case F::kSub:
      *result = Value::Int(static_cast<int64_t>(static_cast<uint64_t>(ToInt64(args[0])) -
                                                static_cast<uint64_t>(ToInt64(args[1]))),
                           Type::kInt64);
      return true;
    case F::kMul: {
      uint64_t a = static_cast<uint64_t>(ToInt64(args[0]));
      for (size_t k = 1; k < args.size(); k++)
        a *= static_cast<uint64_t>(ToInt64(args[k]));
      *result = Value::Int(static_cast<int64_t>(a), Type::kInt64);
      return true;
    }
    case F::kDiv:
    case F::kMod: {
      int64_t a = ToInt64(args[0]), b = ToInt64(args[1]);
      if (b == 0) {
        *err = "runtime error: integer divide by zero";
        return false;
      }
      int64_t r;
      if (b == -1) {
        r = f.id == F::kDiv ? static_cast<int64_t>(0 - static_cast<uint64_t>(a)) : 0;
      } else {
        r = f.id == F::kDiv ? a / b : a % b;
      }
      *result = Value::Int(r, Type::kInt64);
      return true;
    }
    case F::kAddf: {
      double acc = 0;
      for (const Value& v : args)
        acc = DecAdd(acc, ToFloat64(v), false);
      *result = Value::Float(acc);
      return true;
    }
    case F::kSubf:
    case F::kMulf:
    case F::kDivf: {
      double acc = ToFloat64(args[0]);
      acc = DecAdd(acc, 0, false);  // normalise through the decimal, as NewFromFloat does
      for (size_t k = 1; k < args.size(); k++) {
        double b = ToFloat64(args[k]);
        if (f.id == F::kSubf) {
          acc = DecAdd(acc, b, true);
        } else if (f.id == F::kMulf) {
          acc = DecMul(acc, b);
        } else if (!DecDiv(acc, b, &acc)) {
          *err = "decimal division by 0";
          return false;
        }
      }
      *result = Value::Float(acc);
      return true;
    }
    case F::kMax:
    case F::kMin: {
      int64_t a = ToInt64(args[0]);
      for (size_t k = 1; k < args.size(); k++) {
        int64_t b = ToInt64(args[k]);
        a = f.id == F::kMax ? std::max(a, b) : std::min(a, b);
      }
      *result = Value::Int(a, Type::kInt64);
      return true;
    }
    case F::kMaxf:
    case F::kMinf: {
      double a = ToFloat64(args[0]);
      for (size_t k = 1; k < args.size(); k++) {
        double b = ToFloat64(args[k]);
        a = f.id == F::kMaxf ? GoMax(a, b) : GoMin(a, b);
      }
      *result = Value::Float(a);
      return true;
    }
    case F::kCeil:
      *result = Value::Float(std::ceil(ToFloat64(args[0])));
      return true;
    case F::kFloor:
      *result = Value::Float(std::floor(ToFloat64(args[0])));
      return true;
    case F::kRound: {
      double round_on = args.size() > 2 ? args[2].f() : 0.5;
      double val = ToFloat64(args[0]);
      double pow = std::pow(10.0, static_cast<double>(I(1)));
      double digit = pow * val;
      double ip = 0;
      double frac = std::modf(digit, &ip);
      double r = frac >= round_on ? std::ceil(digit) : std::floor(digit);
      *result = Value::Float(r / pow);
      return true;
    }
    case F::kDefault: {
      if (args.size() < 2 || Empty(args[1])) {
        *result = std::move(args[0]);
      } else {
        *result = std::move(args[1]);
      }
      return true;
    }
  }
  *err = "unknown function";
  return false;
}

}  // namespace norn::logql_template::internal
