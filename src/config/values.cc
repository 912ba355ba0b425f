// Scalar syntaxes: durations (Go and Prometheus units), byte sizes (go-humanize units), booleans
// (YAML 1.1 and Go strconv spellings), integers, floats, dates; and environment expansion.

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "config/config.h"
#include "config/internal.h"

namespace norn::config {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

bool IsPlainInteger(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+'))
    s.remove_prefix(1);
  if (s.empty())
    return false;
  for (char c : s) {
    if (!IsDigit(c))
      return false;
  }
  return true;
}

struct Unit {
  std::string_view name;
  absl::Duration value;
};

// Two-letter units first so "ms" is not read as "m" + "s".
const Unit kDurationUnits[] = {
    {"ns", absl::Nanoseconds(1)},
    {"us", absl::Microseconds(1)},
    {"\xC2\xB5s", absl::Microseconds(1)},
    {"\xCE\xBCs", absl::Microseconds(1)},
    {"ms", absl::Milliseconds(1)},
    {"s", absl::Seconds(1)},
    {"m", absl::Minutes(1)},
    {"h", absl::Hours(1)},
    {"d", absl::Hours(24)},
    {"w", absl::Hours(24 * 7)},
    {"y", absl::Hours(24 * 365)},
};

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot parse \"", internal::AV(text), "\" as a duration (e.g. 30s, 1h30m, 500ms, 7d)"));
  };
  std::string_view s = internal::StripSpace(text);
  if (s.empty())
    return bad();
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0")
    return absl::ZeroDuration();
  if (s.empty())
    return bad();
  absl::Duration total = absl::ZeroDuration();
  while (!s.empty()) {
    size_t i = 0;
    int64_t whole = 0;
    bool any = false;
    while (i < s.size() && IsDigit(s[i])) {
      if (whole > (std::numeric_limits<int64_t>::max() - 9) / 10)
        return bad();
      whole = whole * 10 + (s[i] - '0');
      any = true;
      ++i;
    }
    double frac = 0;
    if (i < s.size() && s[i] == '.') {
      ++i;
      double scale = 0.1;
      while (i < s.size() && IsDigit(s[i])) {
        frac += (s[i] - '0') * scale;
        scale /= 10;
        any = true;
        ++i;
      }
    }
    if (!any)
      return bad();
    s.remove_prefix(i);
    const Unit* unit = nullptr;
    for (const Unit& u : kDurationUnits) {
      if (s.substr(0, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr)
      return bad();
    s.remove_prefix(unit->name.size());
    total += unit->value * whole + unit->value * frac;
    if (total == absl::InfiniteDuration())
      return bad();
  }
  return negative ? -total : total;
}

std::string DurationToString(absl::Duration d, bool model_style) {
  if (d == absl::ZeroDuration())
    return "0s";
  std::string out;
  if (d < absl::ZeroDuration()) {
    out = "-";
    d = -d;
  }
  static const Unit kGo[] = {{"h", absl::Hours(1)},         {"m", absl::Minutes(1)},
                             {"s", absl::Seconds(1)},       {"ms", absl::Milliseconds(1)},
                             {"us", absl::Microseconds(1)}, {"ns", absl::Nanoseconds(1)}};
  static const Unit kModel[] = {{"y", absl::Hours(24 * 365)}, {"w", absl::Hours(24 * 7)},
                                {"d", absl::Hours(24)},       {"h", absl::Hours(1)},
                                {"m", absl::Minutes(1)},      {"s", absl::Seconds(1)},
                                {"ms", absl::Milliseconds(1)}};
  absl::Duration rem;
  absl::IDivDuration(d, absl::Milliseconds(1), &rem);
  const bool use_model = model_style && rem == absl::ZeroDuration();
  auto emit = [&](const auto& units) {
    for (const Unit& u : units) {
      int64_t n = absl::IDivDuration(d, u.value, &d);
      if (n > 0)
        absl::StrAppend(&out, n, internal::AV(u.name));
    }
  };
  if (use_model) {
    emit(kModel);
  } else {
    emit(kGo);
  }
  return out;
}

absl::StatusOr<uint64_t> ParseByteSize(std::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot parse \"", internal::AV(text), "\" as a byte size (e.g. 1048576, 256KB, 1.5MiB)"));
  };
  std::string s;
  for (char c : text) {
    if (c != ' ' && c != ',' && c != '\t')
      s.push_back(static_cast<char>(std::tolower(c)));
  }
  if (s.empty())
    return bad();
  if (IsPlainInteger(s)) {
    uint64_t v = 0;
    if (s[0] == '-' || !absl::SimpleAtoi(s, &v))
      return bad();
    return v;
  }
  size_t i = 0;
  while (i < s.size() && (IsDigit(s[i]) || s[i] == '.'))
    ++i;
  double number = 0;
  if (i == 0 || !absl::SimpleAtod(absl::string_view(s).substr(0, i), &number) || number < 0)
    return bad();
  std::string suffix = s.substr(i);
  static const std::pair<std::string_view, double> kUnits[] = {
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
  };
  for (const auto& [name, mult] : kUnits) {
    if (suffix == name) {
      double bytes = number * mult;
      if (bytes >= 18446744073709551615.0)
        return bad();
      return static_cast<uint64_t>(bytes);
    }
  }
  return bad();
}

std::string ExpandEnv(std::string_view text) {
  auto lookup = [](std::string_view name) -> std::string {
    const char* v = std::getenv(std::string(name).c_str());
    return v == nullptr ? std::string() : std::string(v);
  };
  auto is_name_start = [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
  };
  auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  };
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    if (text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        out.append(text.substr(i));
        break;
      }
      std::string_view body = text.substr(i + 2, close - i - 2);
      std::string_view name = body;
      std::string_view def;
      bool has_default = false;
      if (size_t sep = body.find(":-"); sep != std::string_view::npos) {
        name = body.substr(0, sep);
        def = body.substr(sep + 2);
        has_default = true;
      }
      std::string value = lookup(name);
      if (value.empty() && has_default)
        value = std::string(def);
      out += value;
      i = close + 1;
      continue;
    }
    if (is_name_start(text[i + 1])) {
      size_t j = i + 1;
      while (j < text.size() && is_name_char(text[j]))
        ++j;
      out += lookup(text.substr(i + 1, j - i - 1));
      i = j;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

namespace internal {

std::string_view StripSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

namespace {
absl::Status CannotParse(std::string_view text, const char* what) {
  return absl::InvalidArgumentError(absl::StrCat("cannot parse \"", AV(text), "\" as ", what));
}
}  // namespace

absl::Status ParseLeaf(bool& out, std::string_view text, const FieldOpts&) {
  static const std::string_view kTrue[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "y",
                                           "Y",    "on",   "On",   "ON",  "1",   "t",   "T"};
  static const std::string_view kFalse[] = {"false", "False", "FALSE", "no",  "No", "NO", "n",
                                            "N",     "off",   "Off",   "OFF", "0",  "f",  "F"};
  for (auto t : kTrue) {
    if (text == t)
      return out = true, absl::OkStatus();
  }
  for (auto f : kFalse) {
    if (text == f)
      return out = false, absl::OkStatus();
  }
  return CannotParse(text, "a boolean (true or false)");
}

absl::Status ParseLeaf(int& out, std::string_view text, const FieldOpts&) {
  int32_t v = 0;
  if (!absl::SimpleAtoi(AV(text), &v))
    return CannotParse(text, "an integer");
  out = v;
  return absl::OkStatus();
}

absl::Status ParseLeaf(double& out, std::string_view text, const FieldOpts&) {
  double v = 0;
  if (!absl::SimpleAtod(AV(text), &v) || !std::isfinite(v))
    return CannotParse(text, "a number");
  out = v;
  return absl::OkStatus();
}

absl::Status ParseLeaf(uint64_t& out, std::string_view text, const FieldOpts&) {
  auto v = ParseByteSize(text);
  if (!v.ok())
    return v.status();
  out = *v;
  return absl::OkStatus();
}

absl::Status ParseLeaf(std::string& out, std::string_view text, const FieldOpts&) {
  out = std::string(text);
  return absl::OkStatus();
}

absl::Status ParseLeaf(absl::Duration& out, std::string_view text, const FieldOpts& o) {
  std::string_view t = StripSpace(text);
  if (IsPlainInteger(t) && t != "0" && t != "-0" && t != "+0") {
    if (o.model_duration) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot parse \"", AV(text), "\" as a duration: a unit is required (e.g. 30s, 1h, 7d)"));
    }
    // Loki decodes a bare YAML integer into a Go time.Duration as nanoseconds.
    int64_t ns = 0;
    if (!absl::SimpleAtoi(AV(t), &ns))
      return CannotParse(text, "a duration");
    out = absl::Nanoseconds(ns);
    return absl::OkStatus();
  }
  auto v = ParseDuration(t);
  if (!v.ok())
    return v.status();
  out = *v;
  return absl::OkStatus();
}

absl::Status ParseLeaf(absl::CivilDay& out, std::string_view text, const FieldOpts&) {
  absl::CivilDay day;
  std::string_view t = StripSpace(text);
  if (t.size() != 10 || !absl::ParseCivilTime(AV(t), &day) || absl::FormatCivilTime(day) != t) {
    return CannotParse(text, "a date (YYYY-MM-DD)");
  }
  out = day;
  return absl::OkStatus();
}

absl::Status ParseLeaf(std::vector<std::string>& out, std::string_view text, const FieldOpts&) {
  out.emplace_back(text);
  return absl::OkStatus();
}

std::string LeafToString(bool v, const FieldOpts&) {
  return v ? "true" : "false";
}
std::string LeafToString(int v, const FieldOpts&) {
  return absl::StrCat(v);
}
std::string LeafToString(double v, const FieldOpts&) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}
std::string LeafToString(uint64_t v, const FieldOpts&) {
  return absl::StrCat(v);
}
std::string LeafToString(const std::string& v, const FieldOpts&) {
  return v;
}
std::string LeafToString(absl::Duration v, const FieldOpts& o) {
  return DurationToString(v, o.model_duration);
}
std::string LeafToString(absl::CivilDay v, const FieldOpts&) {
  return absl::FormatCivilTime(v);
}
std::string LeafToString(const std::vector<std::string>& v, const FieldOpts&) {
  return "[" + absl::StrJoin(v, ", ") + "]";
}

}  // namespace internal
}  // namespace norn::config
