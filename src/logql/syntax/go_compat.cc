#include "logql/syntax/go_compat.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "re2/re2.h"

namespace norn::logql::syntax {
namespace {

constexpr int64_t kNs = 1;
constexpr int64_t kUs = 1000 * kNs;
constexpr int64_t kMs = 1000 * kUs;
constexpr int64_t kSecond = 1000 * kMs;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;

// Decodes one UTF-8 sequence at s[i]. Returns the rune and its length, or length 0 when the bytes
// are not valid UTF-8 (overlong forms, surrogates and > U+10FFFF included, as Go does).
struct Rune {
  char32_t r;
  size_t len;
};
Rune DecodeRune(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80)
    return {c, 1};
  size_t n;
  char32_t r;
  char32_t min;
  if ((c & 0xE0) == 0xC0) {
    n = 2, r = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, r = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, r = c & 0x07, min = 0x10000;
  } else {
    return {0, 0};
  }
  if (i + n > s.size())
    return {0, 0};
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80)
      return {0, 0};
    r = (r << 6) | (b(k) & 0x3F);
  }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
    return {0, 0};
  return {r, n};
}

void AppendUtf8(std::string* out, char32_t r) {
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

// An approximation of Go's unicode.IsPrint for non-ASCII runes: the control, format and
// separator characters that people actually meet. Either answer round-trips through GoUnquote.
bool IsPrintNonAscii(char32_t r) {
  if (r >= 0x80 && r <= 0xA0)
    return false;  // C1 controls and NBSP (Go escapes U+00A0).
  if (r == 0xAD)
    return false;  // soft hyphen
  if (r >= 0x200B && r <= 0x200F)
    return false;
  if (r >= 0x2028 && r <= 0x202E)
    return false;
  if (r >= 0x2060 && r <= 0x206F)
    return false;
  if (r == 0xFEFF)
    return false;
  if (r >= 0xFFF9 && r <= 0xFFFB)
    return false;
  if (r == 0xFFFE || r == 0xFFFF)
    return false;
  return true;
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

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// Shortest round-trip decimal digits of a finite, non-zero |v| and its decimal point position:
// v = 0.d1d2d3... * 10^point.
struct Digits {
  std::string digits;
  int point;
};
Digits ShortestDigits(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), std::fabs(v), std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(res.ptr - buf));
  size_t e = s.find('e');
  std::string_view mant = s.substr(0, e);
  int exp = std::atoi(std::string(s.substr(e + 1)).c_str());
  Digits d;
  for (char c : mant) {
    if (c != '.')
      d.digits.push_back(c);
  }
  while (d.digits.size() > 1 && d.digits.back() == '0')
    d.digits.pop_back();
  d.point = exp + 1;
  return d;
}

std::string FixedFromDigits(const Digits& d) {
  std::string out;
  if (d.point <= 0) {
    out = "0.";
    out.append(static_cast<size_t>(-d.point), '0');
    out += d.digits;
  } else if (static_cast<size_t>(d.point) >= d.digits.size()) {
    out = d.digits;
    out.append(static_cast<size_t>(d.point) - d.digits.size(), '0');
  } else {
    out = d.digits.substr(0, static_cast<size_t>(d.point));
    out.push_back('.');
    out += d.digits.substr(static_cast<size_t>(d.point));
  }
  return out;
}

std::string SpecialFloat(double v) {
  if (std::isnan(v))
    return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

absl::Status DurationError(std::string_view s) {
  return absl::InvalidArgumentError(absl::StrCat("time: invalid duration \"", AV(s), "\""));
}

std::string RegexErrorCode(re2::RE2::ErrorCode code) {
  switch (code) {
    case re2::RE2::ErrorBadEscape:
      return "invalid escape sequence";
    case re2::RE2::ErrorBadCharClass:
      return "invalid character class";
    case re2::RE2::ErrorBadCharRange:
      return "invalid character class range";
    case re2::RE2::ErrorMissingBracket:
      return "missing closing ]";
    case re2::RE2::ErrorMissingParen:
      return "missing closing )";
    case re2::RE2::ErrorUnexpectedParen:
      return "unexpected )";
    case re2::RE2::ErrorTrailingBackslash:
      return "trailing backslash at end of expression";
    case re2::RE2::ErrorRepeatArgument:
      return "missing argument to repetition operator";
    case re2::RE2::ErrorRepeatSize:
      return "invalid repeat count";
    case re2::RE2::ErrorRepeatOp:
      return "invalid nested repetition operator";
    case re2::RE2::ErrorBadPerlOp:
      return "invalid or unsupported Perl syntax";
    case re2::RE2::ErrorBadUTF8:
      return "invalid UTF-8";
    case re2::RE2::ErrorBadNamedCapture:
      return "invalid named capture";
    case re2::RE2::ErrorPatternTooLarge:
      return "expression too large";
    default:
      return "regexp/syntax: internal error";
  }
}

// Go 1.22 accepts `(?<name>re)` besides `(?P<name>re)`; this RE2 release only the latter.
std::string TranslateNamedGroups(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 8);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      out.push_back(c);
      out.push_back(p[++i]);
      continue;
    }
    if (in_class) {
      if (c == ']')
        in_class = false;
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      out.push_back(c);
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < p.size() && p[i + 1] == '^')
        out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']')
        out.push_back(p[++i]);
      continue;
    }
    if (c == '(' && p.substr(i).starts_with("(?<") && i + 3 < p.size() && p[i + 3] != '=' &&
        p[i + 3] != '!') {
      out.append("(?P<");
      i += 2;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void AppendGoQuote(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      Rune r = DecodeRune(s, i);
      if (r.len == 0) {
        out->append("\\x");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xF]);
        ++i;
        continue;
      }
      if (IsPrintNonAscii(r.r)) {
        out->append(s.substr(i, r.len));
      } else if (r.r < 0x10000) {
        out->append("\\u");
        for (int sh = 12; sh >= 0; sh -= 4)
          out->push_back(kHex[(r.r >> sh) & 0xF]);
      } else {
        out->append("\\U");
        for (int sh = 28; sh >= 0; sh -= 4)
          out->push_back(kHex[(r.r >> sh) & 0xF]);
      }
      i += r.len;
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\a':
        out->append("\\a");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\v':
        out->append("\\v");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append("\\x");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string GoQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendGoQuote(&out, s);
  return out;
}

absl::StatusOr<std::string> GoUnquote(std::string_view lit) {
  auto syntax = [] { return absl::InvalidArgumentError("invalid syntax"); };
  auto bad_escape = [] { return absl::InvalidArgumentError("invalid char escape"); };
  if (lit.size() < 2)
    return syntax();
  char q = lit.front();
  if (lit.back() != q)
    return syntax();
  std::string_view body = lit.substr(1, lit.size() - 2);
  std::string out;
  out.reserve(body.size());
  if (q == '`') {
    for (char c : body) {
      if (c == '`')
        return syntax();
      if (c != '\r')
        out.push_back(c);
    }
    return out;
  }
  if (q != '"')
    return syntax();
  for (size_t i = 0; i < body.size();) {
    char c = body[i];
    if (c == '"' || c == '\n')
      return syntax();
    if (c != '\\') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 >= body.size())
      return syntax();
    char e = body[i + 1];
    i += 2;
    switch (e) {
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'x':
      case 'u':
      case 'U': {
        size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (i + n > body.size())
          return bad_escape();
        uint32_t v = 0;
        for (size_t k = 0; k < n; ++k) {
          int h = HexVal(body[i + k]);
          if (h < 0)
            return bad_escape();
          v = v * 16 + static_cast<uint32_t>(h);
        }
        i += n;
        if (e == 'x') {
          out.push_back(static_cast<char>(v));
        } else {
          if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return syntax();
          AppendUtf8(&out, v);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          if (i + 2 > body.size())
            return bad_escape();
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (size_t k = 0; k < 2; ++k) {
            char d = body[i + k];
            if (d < '0' || d > '7')
              return bad_escape();
            v = v * 8 + static_cast<uint32_t>(d - '0');
          }
          i += 2;
          if (v > 255)
            return syntax();
          out.push_back(static_cast<char>(v));
          break;
        }
        return bad_escape();
    }
  }
  return out;
}

std::string FormatGoFloat(double v) {
  if (!std::isfinite(v))
    return SpecialFloat(v);
  if (v == 0)
    return std::signbit(v) ? "-0" : "0";
  Digits d = ShortestDigits(v);
  int exp = d.point - 1;
  std::string out = v < 0 ? "-" : "";
  if (exp < -4 || exp >= 6) {
    out.push_back(d.digits[0]);
    if (d.digits.size() > 1) {
      out.push_back('.');
      out.append(d.digits, 1);
    }
    out.push_back('e');
    out.push_back(exp < 0 ? '-' : '+');
    int a = exp < 0 ? -exp : exp;
    if (a < 10)
      out.push_back('0');
    absl::StrAppend(&out, a);
    return out;
  }
  return out + FixedFromDigits(d);
}

std::string FormatFloatPlain(double v) {
  if (!std::isfinite(v))
    return SpecialFloat(v);
  if (v == 0)
    return std::signbit(v) ? "-0" : "0";
  Digits d = ShortestDigits(v);
  return (v < 0 ? "-" : "") + FixedFromDigits(d);
}

absl::StatusOr<double> ParseGoFloat(std::string_view s) {
  auto err = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("strconv.ParseFloat: parsing ", GoQuote(s), ": ", AV(why)));
  };
  std::string_view body = s;
  bool neg = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  std::string lower;
  for (char c : body)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "inf" || lower == "infinity") {
    return neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (lower == "nan")
    return std::numeric_limits<double>::quiet_NaN();
  // Decimal only: digits, optional fraction, optional exponent (Go also takes hex floats with a
  // p exponent and '_' separators after a base prefix; LogQL's lexer never produces those).
  size_t i = 0;
  bool digits = false;
  while (i < body.size() && IsDigit(body[i]))
    ++i, digits = true;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && IsDigit(body[i]))
      ++i, digits = true;
  }
  if (!digits)
    return err("invalid syntax");
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-'))
      ++i;
    size_t start = i;
    while (i < body.size() && IsDigit(body[i]))
      ++i;
    if (i == start)
      return err("invalid syntax");
  }
  if (i != body.size())
    return err("invalid syntax");
  double v = 0;
  auto res = std::from_chars(body.data(), body.data() + body.size(), v);
  if (res.ec == std::errc::result_out_of_range) {
    std::string copy(body);
    v = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(v))
      return err("value out of range");
  } else if (res.ec != std::errc() || res.ptr != body.data() + body.size()) {
    return err("invalid syntax");
  }
  return neg ? -v : v;
}

absl::StatusOr<int64_t> ParsePromDuration(std::string_view s) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("not a valid duration string: ", GoQuote(s)));
  };
  if (s == "0")
    return 0;
  if (s.empty())
    return bad();
  static constexpr struct {
    std::string_view unit;
    int64_t mult;
  } kUnits[] = {{"y", 365 * 24 * kHour}, {"w", 7 * 24 * kHour}, {"d", 24 * kHour}, {"h", kHour},
                {"m", kMinute},          {"s", kSecond},        {"ms", kMs}};
  int next_unit = 0;
  __int128 total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    __int128 v = 0;
    while (i < s.size() && IsDigit(s[i])) {
      v = v * 10 + (s[i] - '0');
      if (v > std::numeric_limits<int64_t>::max())
        return bad();
      ++i;
    }
    if (i == start)
      return bad();
    std::string_view rest = s.substr(i);
    int found = -1;
    // "ms" must win over "m".
    if (rest.starts_with("ms")) {
      found = 6;
    } else {
      for (int u = 0; u < 6; ++u) {
        if (rest.starts_with(kUnits[u].unit)) {
          found = u;
          break;
        }
      }
    }
    if (found < next_unit)
      return bad();
    i += kUnits[found].unit.size();
    next_unit = found + 1;
    total += v * kUnits[found].mult;
    if (total > std::numeric_limits<int64_t>::max()) {
      return absl::InvalidArgumentError("duration out of range");
    }
  }
  return static_cast<int64_t>(total);
}

std::string FormatPromDuration(int64_t ns) {
  int64_t ms = ns / kMs;
  if (ms == 0)
    return "0s";
  std::string out;
  if (ms < 0) {
    out.push_back('-');
    ms = -ms;
  }
  auto f = [&](std::string_view unit, int64_t mult, bool exact) {
    if (exact && ms % mult != 0)
      return;
    int64_t v = ms / mult;
    if (v > 0) {
      absl::StrAppend(&out, v, AV(unit));
      ms -= v * mult;
    }
  };
  f("y", 1000LL * 60 * 60 * 24 * 365, true);
  f("w", 1000LL * 60 * 60 * 24 * 7, true);
  f("d", 1000LL * 60 * 60 * 24, false);
  f("h", 1000LL * 60 * 60, false);
  f("m", 1000LL * 60, false);
  f("s", 1000, false);
  f("ms", 1, false);
  return out;
}

absl::StatusOr<int64_t> ParseGoDuration(std::string_view orig) {
  std::string_view s = orig;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0")
    return 0;
  if (s.empty())
    return DurationError(orig);
  __int128 total = 0;
  const __int128 kMax = static_cast<__int128>(std::numeric_limits<int64_t>::max()) + (neg ? 1 : 0);
  while (!s.empty()) {
    if (!(s[0] == '.' || IsDigit(s[0])))
      return DurationError(orig);
    __int128 v = 0;
    size_t i = 0;
    bool pre = false;
    while (i < s.size() && IsDigit(s[i])) {
      v = v * 10 + (s[i] - '0');
      if (v > kMax)
        return DurationError(orig);
      ++i;
      pre = true;
    }
    __int128 frac = 0, scale = 1;
    bool post = false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && IsDigit(s[i])) {
        if (scale < static_cast<__int128>(1000000000000000000LL)) {
          frac = frac * 10 + (s[i] - '0');
          scale *= 10;
        }
        ++i;
        post = true;
      }
    }
    if (!pre && !post)
      return DurationError(orig);
    size_t u = i;
    while (u < s.size() && s[u] != '.' && !IsDigit(s[u]))
      ++u;
    std::string_view unit = s.substr(i, u - i);
    if (unit.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("time: missing unit in duration ", GoQuote(orig)));
    }
    int64_t mult;
    if (unit == "ns") {
      mult = kNs;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      mult = kUs;
    } else if (unit == "ms") {
      mult = kMs;
    } else if (unit == "s") {
      mult = kSecond;
    } else if (unit == "m") {
      mult = kMinute;
    } else if (unit == "h") {
      mult = kHour;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("time: unknown unit ", GoQuote(unit), " in duration ", GoQuote(orig)));
    }
    __int128 part = v * mult;
    if (frac > 0)
      part += frac * mult / scale;
    total += part;
    if (total > kMax)
      return DurationError(orig);
    s.remove_prefix(u);
  }
  return static_cast<int64_t>(neg ? -total : total);
}

std::string FormatGoDuration(int64_t d) {
  if (d == 0)
    return "0s";
  bool neg = d < 0;
  uint64_t u = neg ? static_cast<uint64_t>(-(d + 1)) + 1 : static_cast<uint64_t>(d);
  // Trims trailing zeros of the `prec` fractional digits of v; returns v / 10^prec.
  auto frac = [](std::string* out, uint64_t v, int prec) -> uint64_t {
    std::string digits;
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      int digit = static_cast<int>(v % 10);
      print = print || digit != 0;
      if (print)
        digits.insert(digits.begin(), static_cast<char>('0' + digit));
      v /= 10;
    }
    if (print)
      *out = "." + digits + *out;
    return v;
  };
  std::string out;
  if (u < static_cast<uint64_t>(kSecond)) {
    int prec;
    if (u < static_cast<uint64_t>(kUs)) {
      return (neg ? "-" : "") + absl::StrCat(u) + "ns";
    } else if (u < static_cast<uint64_t>(kMs)) {
      prec = 3;
      out = "\xC2\xB5s";
    } else {
      prec = 6;
      out = "ms";
    }
    std::string tail;
    u = frac(&tail, u, prec);
    out = absl::StrCat(u) + tail + out;
  } else {
    std::string tail;
    u = frac(&tail, u, 9);
    out = absl::StrCat(u % 60) + tail + "s";
    u /= 60;
    if (u > 0) {
      out = absl::StrCat(u % 60) + "m" + out;
      u /= 60;
      if (u > 0)
        out = absl::StrCat(u) + "h" + out;
    }
  }
  return (neg ? "-" : "") + out;
}

absl::StatusOr<int64_t> ParseLokiDuration(std::string_view s) {
  if (auto p = ParsePromDuration(s); p.ok())
    return *p;
  return ParseGoDuration(s);
}

absl::StatusOr<uint64_t> ParseHumanBytes(std::string_view s) {
  size_t last = 0;
  bool comma = false;
  // go-humanize walks runes with unicode.IsDigit; ASCII digits cover every realistic input.
  while (last < s.size() && (IsDigit(s[last]) || s[last] == '.' || s[last] == ',')) {
    comma = comma || s[last] == ',';
    ++last;
  }
  std::string num(s.substr(0, last));
  if (comma) {
    std::string no_commas;
    for (char c : num) {
      if (c != ',')
        no_commas.push_back(c);
    }
    num = no_commas;
  }
  absl::StatusOr<double> f = ParseGoFloat(num);
  if (!f.ok())
    return f.status();
  std::string_view extra = s.substr(last);
  while (!extra.empty() && (extra.front() == ' ' || extra.front() == '\t'))
    extra.remove_prefix(1);
  while (!extra.empty() && (extra.back() == ' ' || extra.back() == '\t'))
    extra.remove_suffix(1);
  std::string unit;
  for (char c : extra)
    unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  static constexpr struct {
    std::string_view name;
    double mult;
  } kTable[] = {
      {"", 1},
      {"b", 1},
      {"k", 1e3},
      {"kb", 1e3},
      {"ki", 1024.0},
      {"kib", 1024.0},
      {"m", 1e6},
      {"mb", 1e6},
      {"mi", 1048576.0},
      {"mib", 1048576.0},
      {"g", 1e9},
      {"gb", 1e9},
      {"gi", 1073741824.0},
      {"gib", 1073741824.0},
      {"t", 1e12},
      {"tb", 1e12},
      {"ti", 1099511627776.0},
      {"tib", 1099511627776.0},
      {"p", 1e15},
      {"pb", 1e15},
      {"pi", 1125899906842624.0},
      {"pib", 1125899906842624.0},
      {"e", 1e18},
      {"eb", 1e18},
      {"ei", 1152921504606846976.0},
      {"eib", 1152921504606846976.0},
  };
  for (const auto& u : kTable) {
    if (u.name == unit) {
      double v = *f * u.mult;
      if (v >= 18446744073709551615.0) {
        return absl::InvalidArgumentError(absl::StrCat("too large: ", AV(s)));
      }
      return static_cast<uint64_t>(v);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unhandled size name: ", unit));
}

std::string FormatBytesLiteral(uint64_t v) {
  // "0B" would lex as an empty binary literal (Go's 0b prefix), so zero gets another unit.
  if (v == 0)
    return "0kB";
  std::string human;
  if (v < 10) {
    human = absl::StrCat(v, "B");
  } else {
    static constexpr std::string_view kSizes[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    double fv = static_cast<double>(v);
    int e = static_cast<int>(std::floor(std::log(fv) / std::log(1000.0)));
    if (e > 6)
      e = 6;
    double val = std::floor(fv / std::pow(1000.0, e) * 10 + 0.5) / 10;
    char buf[64];
    std::snprintf(buf, sizeof(buf), val < 10 ? "%.1f" : "%.0f", val);
    human = absl::StrCat(buf, AV(kSizes[e]));
  }
  absl::StatusOr<uint64_t> back = ParseHumanBytes(human);
  if (back.ok() && *back == v)
    return human;
  return absl::StrCat(v, "B");
}

absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileGoRegex(std::string_view pattern,
                                                               bool dot_nl) {
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(64 << 20);
  std::string translated = TranslateNamedGroups(pattern);
  // Validate the pattern on its own first: wrapping an unbalanced pattern such as `a)|(b` in
  // `(?s:...)` would otherwise compile into something else entirely.
  auto alone = std::make_shared<re2::RE2>(translated, opts);
  if (!alone->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("error parsing regexp: ", RegexErrorCode(alone->error_code()), ": `",
                     alone->error_arg(), "`"));
  }
  if (!dot_nl)
    return std::shared_ptr<const re2::RE2>(std::move(alone));
  auto wrapped = std::make_shared<re2::RE2>("(?s:" + translated + ")", opts);
  if (!wrapped->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("error parsing regexp: ", RegexErrorCode(wrapped->error_code()), ": `",
                     wrapped->error_arg(), "`"));
  }
  return std::shared_ptr<const re2::RE2>(std::move(wrapped));
}

}  // namespace norn::logql::syntax
