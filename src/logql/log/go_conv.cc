#include "logql/log/go_conv.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "common/labels.h"

namespace norn::logql_log {
namespace {

bool EqualFoldPrefix(std::string_view s, std::string_view lower_word, size_t n) {
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower_word[i]) return false;
  }
  return true;
}

void FloatError(std::string_view s, const char* what, std::string* err) {
  if (!err) return;
  err->assign("strconv.ParseFloat: parsing ");
  AppendGoQuoted(err, s);
  err->append(": ");
  err->append(what);
}

// Validates Go's float syntax (decimal or hex with a binary exponent), no underscores.
bool ValidFloatSyntax(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  bool hex = false;
  if (i + 1 < s.size() && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    hex = true;
    i += 2;
  }
  auto is_digit = [&](char c) {
    if (c >= '0' && c <= '9') return true;
    return hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
  };
  bool digits = false, dot = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (is_digit(c)) {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits) return false;
  if (i < s.size()) {
    char c = s[i];
    bool exp = hex ? (c == 'p' || c == 'P') : (c == 'e' || c == 'E');
    if (!exp) return false;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    bool ed = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ed = true;
    }
    if (!ed) return false;
  } else if (hex) {
    return false;  // Go requires the 'p' exponent for hex floats
  }
  return i == s.size();
}

}  // namespace

namespace {

// [+-]digits[.digits] with at most 15 digits in all (so the digits, as an integer, are exact in
// a double) and no exponent: the value is that integer divided by a power of ten <= 10^15,
// which IEEE division rounds correctly, i.e. exactly what strtod (and Go) would return. Label
// values such as `status` and `latency_ms` take this path instead of a strtod call.
bool ParseSimpleDecimal(std::string_view s, double* out) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  size_t i = 0;
  const bool neg = s[0] == '-';
  if (s[0] == '-' || s[0] == '+')
    i = 1;
  uint64_t m = 0;
  int digits = 0, frac = 0;
  bool dot = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      if (++digits > 15)
        return false;
      m = m * 10 + static_cast<uint64_t>(c - '0');
      frac += dot;
    } else if (c == '.' && !dot && digits > 0) {
      dot = true;
    } else {
      return false;
    }
  }
  if (digits == 0 || (dot && frac == 0))
    return false;
  const double v = static_cast<double>(m) / kPow10[frac];
  *out = neg ? -v : v;
  return true;
}

}  // namespace

bool GoParseFloat(std::string_view s, double* out, std::string* err) {
  if (s.empty()) {
    FloatError(s, "invalid syntax", err);
    return false;
  }
  if (ParseSimpleDecimal(s, out))
    return true;
  // Specials: [+-]inf, [+-]infinity, nan (case-insensitive), consuming the whole string.
  {
    std::string_view t = s;
    int sign = 1;
    bool had_sign = false;
    if (t[0] == '+' || t[0] == '-') {
      sign = t[0] == '-' ? -1 : 1;
      t.remove_prefix(1);
      had_sign = true;
    }
    if ((t.size() == 3 && EqualFoldPrefix(t, "inf", 3)) ||
        (t.size() == 8 && EqualFoldPrefix(t, "infinity", 8))) {
      *out = sign * std::numeric_limits<double>::infinity();
      return true;
    }
    if (!had_sign && t.size() == 3 && EqualFoldPrefix(t, "nan", 3)) {
      *out = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
  }
  if (!ValidFloatSyntax(s)) {
    FloatError(s, "invalid syntax", err);
    return false;
  }
  char stack[64];
  std::string heap;
  const char* cstr;
  if (s.size() < sizeof(stack)) {
    std::memcpy(stack, s.data(), s.size());
    stack[s.size()] = '\0';
    cstr = stack;
  } else {
    heap.assign(s);
    cstr = heap.c_str();
  }
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(cstr, &end);
  if (errno == ERANGE && std::isinf(v)) {
    FloatError(s, "value out of range", err);
    return false;
  }
  *out = v;
  return true;
}

namespace {

void DurationError(std::string_view orig, std::string* err) {
  if (!err) return;
  err->assign("time: invalid duration ");
  AppendGoQuoted(err, orig);
}

bool UnitNs(std::string_view u, uint64_t* ns) {
  if (u == "ns") *ns = 1;
  else if (u == "us" || u == "\xC2\xB5s" || u == "\xCE\xBCs") *ns = 1000;
  else if (u == "ms") *ns = 1000000;
  else if (u == "s") *ns = 1000000000ULL;
  else if (u == "m") *ns = 60ULL * 1000000000ULL;
  else if (u == "h") *ns = 3600ULL * 1000000000ULL;
  else return false;
  return true;
}

// The common form, `<digits>[.<digits>]<unit>` with one unit, no sign and at most 18 digits
// on either side of the point (so nothing overflows before the unit is applied): the same
// result as the general parser below (the same arithmetic, powers of ten from a table, which
// for these exponents are the exact values its repeated multiplication reaches), with one pass
// and no error text. False: let the general parser decide.
bool ParseCommonDuration(std::string_view s, int64_t* out_ns) {
  static constexpr double kPow10[19] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                        1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
  constexpr uint64_t kMax = uint64_t{1} << 63;
  auto digit = [&s](size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; };
  size_t i = 0;
  uint64_t v = 0;
  for (; digit(i); ++i) {
    if (i == 18)
      return false;
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  const size_t int_digits = i;
  uint64_t f = 0;
  size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    for (++i; digit(i); ++i, ++frac_digits) {
      if (frac_digits == 18)
        return false;
      f = f * 10 + static_cast<uint64_t>(s[i] - '0');
    }
  }
  if (int_digits == 0 && frac_digits == 0)
    return false;
  uint64_t unit;
  if (!UnitNs(s.substr(i), &unit) || v > kMax / unit)
    return false;
  v *= unit;
  if (f > 0)
    v += static_cast<uint64_t>(static_cast<double>(f) *
                               (static_cast<double>(unit) / kPow10[frac_digits]));
  if (v > kMax - 1)
    return false;
  *out_ns = static_cast<int64_t>(v);
  return true;
}

}  // namespace

bool GoParseDuration(std::string_view orig, int64_t* out_ns, std::string* err) {
  if (ParseCommonDuration(orig, out_ns))
    return true;
  return internal::GoParseDurationGeneral(orig, out_ns, err);
}

namespace internal {

bool GoParseDurationGeneral(std::string_view orig, int64_t* out_ns, std::string* err) {
  std::string_view s = orig;
  uint64_t d = 0;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    *out_ns = 0;
    return true;
  }
  if (s.empty()) {
    DurationError(orig, err);
    return false;
  }
  constexpr uint64_t kMax = uint64_t{1} << 63;
  while (!s.empty()) {
    uint64_t v = 0, f = 0;
    double scale = 1;
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) {
      DurationError(orig, err);
      return false;
    }
    // leading int
    size_t i = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (v > kMax / 10) {
        DurationError(orig, err);
        return false;
      }
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kMax) {
        DurationError(orig, err);
        return false;
      }
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && s[j] >= '0' && s[j] <= '9'; ++j) {
        if (overflow) continue;
        if (f > (kMax - 1) / 10) {
          overflow = true;
          continue;
        }
        uint64_t y = f * 10 + static_cast<uint64_t>(s[j] - '0');
        if (y > kMax) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) {
      DurationError(orig, err);
      return false;
    }
    size_t k = 0;
    for (; k < s.size(); ++k) {
      char c = s[k];
      if (c == '.' || (c >= '0' && c <= '9')) break;
    }
    if (k == 0) {
      if (err) {
        err->assign("time: missing unit in duration ");
        AppendGoQuoted(err, orig);
      }
      return false;
    }
    std::string_view u = s.substr(0, k);
    s.remove_prefix(k);
    uint64_t unit;
    if (!UnitNs(u, &unit)) {
      if (err) {
        err->assign("time: unknown unit ");
        AppendGoQuoted(err, u);
        err->append(" in duration ");
        AppendGoQuoted(err, orig);
      }
      return false;
    }
    if (v > kMax / unit) {
      DurationError(orig, err);
      return false;
    }
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kMax) {
        DurationError(orig, err);
        return false;
      }
    }
    d += v;
    if (d > kMax) {
      DurationError(orig, err);
      return false;
    }
  }
  if (neg) {
    *out_ns = static_cast<int64_t>(0 - d);
    return true;
  }
  if (d > kMax - 1) {
    DurationError(orig, err);
    return false;
  }
  *out_ns = static_cast<int64_t>(d);
  return true;
}

}  // namespace internal

bool GoParseBytes(std::string_view s, uint64_t* out, std::string* err) {
  // Leading run of digits, '.' and ',' (commas removed) is the number; the rest, trimmed and
  // lower-cased, names the unit.
  size_t last = 0;
  bool comma = false;
  while (last < s.size()) {
    char c = s[last];
    if (!((c >= '0' && c <= '9') || c == '.' || c == ',')) break;
    if (c == ',') comma = true;
    ++last;
  }
  std::string num(s.substr(0, last));
  if (comma) {
    std::string t;
    for (char c : num) {
      if (c != ',') t.push_back(c);
    }
    num = std::move(t);
  }
  double f;
  if (!GoParseFloat(num, &f, err)) return false;
  std::string_view rest = s.substr(last);
  while (!rest.empty() && (rest.front() == ' ' || (rest.front() >= '\t' && rest.front() <= '\r')))
    rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || (rest.back() >= '\t' && rest.back() <= '\r')))
    rest.remove_suffix(1);
  std::string unit;
  for (char c : rest) unit.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
  struct U {
    const char* name;
    double mult;
  };
  static constexpr U kUnits[] = {
      {"", 1},          {"b", 1},
      {"k", 1e3},       {"kb", 1e3},         {"ki", 1024.0},      {"kib", 1024.0},
      {"m", 1e6},       {"mb", 1e6},         {"mi", 1048576.0},   {"mib", 1048576.0},
      {"g", 1e9},       {"gb", 1e9},         {"gi", 1073741824.0}, {"gib", 1073741824.0},
      {"t", 1e12},      {"tb", 1e12},        {"ti", 1099511627776.0},
      {"tib", 1099511627776.0},
      {"p", 1e15},      {"pb", 1e15},        {"pi", 1125899906842624.0},
      {"pib", 1125899906842624.0},
      {"e", 1e18},      {"eb", 1e18},        {"ei", 1152921504606846976.0},
      {"eib", 1152921504606846976.0},
  };
  for (const U& u : kUnits) {
    if (unit == u.name) {
      f *= u.mult;
      if (f >= 18446744073709551615.0) {
        if (err) {
          err->assign("too large: ");
          err->append(s);
        }
        return false;
      }
      *out = f <= 0 ? 0 : static_cast<uint64_t>(f);
      return true;
    }
  }
  if (err) {
    err->assign("unhandled size name: ");
    err->append(unit);
  }
  return false;
}

}  // namespace norn::logql_log
