#include "logql/syntax/stage_args.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "logql/syntax/go_compat.h"

namespace norn::logql::syntax {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::optional<IpAddr> ParseIpv4(std::string_view s) {
  IpAddr a;
  a.v4 = true;
  size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= s.size() || s[i] != '.')
        return std::nullopt;
      ++i;
    }
    size_t start = i;
    int v = 0;
    while (i < s.size() && IsDigit(s[i])) {
      v = v * 10 + (s[i] - '0');
      if (v > 255)
        return std::nullopt;
      ++i;
    }
    size_t n = i - start;
    if (n == 0 || (n > 1 && s[start] == '0'))
      return std::nullopt;  // no leading zeros
    a.bytes[octet] = static_cast<uint8_t>(v);
  }
  if (i != s.size())
    return std::nullopt;
  return a;
}

// Sets the host bits (beyond `bits`) of `a` to zero (`ones == false`) or one.
IpAddr MaskBits(IpAddr a, int bits, bool ones) {
  int total = a.v4 ? 32 : 128;
  for (int bit = bits; bit < total; ++bit) {
    uint8_t m = static_cast<uint8_t>(0x80u >> (bit % 8));
    if (ones) {
      a.bytes[bit / 8] |= m;
    } else {
      a.bytes[bit / 8] &= static_cast<uint8_t>(~m);
    }
  }
  return a;
}

}  // namespace

std::optional<IpAddr> ParseIpAddr(std::string_view s) {
  if (s.find(':') == std::string_view::npos)
    return ParseIpv4(s);
  if (s.size() > 64 || s.find('%') != std::string_view::npos)
    return std::nullopt;
  // The embedded IPv4 tail (::ffff:1.2.3.4) must follow netip's no-leading-zero rule too.
  size_t last_colon = s.rfind(':');
  std::string_view tail = s.substr(last_colon + 1);
  if (tail.find('.') != std::string_view::npos && !ParseIpv4(tail))
    return std::nullopt;
  std::string z(s);
  IpAddr a;
  if (inet_pton(AF_INET6, z.c_str(), a.bytes.data()) != 1)
    return std::nullopt;
  return a;
}

absl::StatusOr<IpPattern> ParseIpPattern(std::string_view s) {
  IpPattern p;
  if (auto a = ParseIpAddr(s)) {
    p.kind = IpPattern::Kind::kAddr;
    p.lo = p.hi = *a;
    return p;
  }
  if (size_t slash = s.find('/'); slash != std::string_view::npos) {
    std::string_view bits_str = s.substr(slash + 1);
    auto a = ParseIpAddr(s.substr(0, slash));
    bool ok = a.has_value() && !bits_str.empty() && bits_str.size() <= 3 &&
              !(bits_str.size() > 1 && bits_str[0] == '0');
    int bits = 0;
    for (char c : bits_str) {
      ok = ok && IsDigit(c);
      if (ok)
        bits = bits * 10 + (c - '0');
    }
    if (ok && bits <= (a->v4 ? 32 : 128)) {
      p.kind = IpPattern::Kind::kCidr;
      p.lo = MaskBits(*a, bits, false);
      p.hi = MaskBits(*a, bits, true);
      return p;
    }
  } else if (size_t dash = s.find('-'); dash != std::string_view::npos) {
    auto lo = ParseIpAddr(s.substr(0, dash));
    auto hi = ParseIpAddr(s.substr(dash + 1));
    if (lo && hi && lo->v4 == hi->v4 && *lo <= *hi) {
      p.kind = IpPattern::Kind::kRange;
      p.lo = *lo;
      p.hi = *hi;
      return p;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("ip: invalid pattern: ", GoQuote(s)));
}

absl::StatusOr<std::vector<PatternNode>> ParsePattern(std::string_view in) {
  if (in.empty()) {
    return absl::InvalidArgumentError(
        "syntax error: unexpected $end, expecting IDENTIFIER or LITERAL");
  }
  std::vector<PatternNode> nodes;
  for (size_t i = 0; i < in.size();) {
    if (in[i] == '<' && i + 1 < in.size() && (IsAlpha(in[i + 1]) || in[i + 1] == '_')) {
      size_t j = i + 2;
      while (j < in.size() && (IsAlpha(in[j]) || IsDigit(in[j]) || in[j] == '_'))
        ++j;
      if (j < in.size() && in[j] == '>') {
        nodes.push_back({true, std::string(in.substr(i + 1, j - i - 1))});
        i = j + 1;
        continue;
      }
    }
    if (nodes.empty() || nodes.back().capture)
      nodes.push_back({false, ""});
    nodes.back().text.push_back(in[i]);
    ++i;
  }
  int named = 0;
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i].capture)
      continue;
    if (i + 1 < nodes.size() && nodes[i + 1].capture) {
      return absl::InvalidArgumentError(absl::StrCat("found consecutive capture '<", nodes[i].text,
                                                     "><", nodes[i + 1].text,
                                                     ">': invalid expression"));
    }
    if (nodes[i].text == "_")
      continue;
    ++named;
    if (!seen.insert(nodes[i].text).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate capture name (", nodes[i].text, "): invalid expression"));
    }
  }
  if (named == 0)
    return absl::InvalidArgumentError("at least one capture is required");
  return nodes;
}

absl::StatusOr<std::vector<JsonPathElem>> ParseJsonPath(std::string_view s) {
  enum Kind { kEnd, kDot, kLsb, kRsb, kField, kString, kIndex };
  struct Tok {
    Kind kind;
    std::string text;
    int64_t index = 0;
  };
  std::vector<Tok> toks;
  size_t i = 0;
  while (true) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
      ++i;
    if (i >= s.size() || s[i] == '\0') {
      toks.push_back({kEnd, ""});
      break;
    }
    char c = s[i];
    if (IsDigit(c)) {
      int64_t v = 0;
      while (i < s.size() && !(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == ']')) {
        if (s[i] == '.')
          return absl::InvalidArgumentError("cannot use float as array index");
        if (!IsDigit(s[i])) {
          return absl::InvalidArgumentError(
              absl::StrCat("non-integer value: ", AV(s.substr(i, 1))));
        }
        v = v * 10 + (s[i] - '0');
        if (v > (int64_t{1} << 40))
          return absl::InvalidArgumentError("value out of range");
        ++i;
      }
      toks.push_back({kIndex, "", v});
    } else if (c == '[') {
      toks.push_back({kLsb, ""}), ++i;
    } else if (c == ']') {
      toks.push_back({kRsb, ""}), ++i;
    } else if (c == '.') {
      toks.push_back({kDot, ""}), ++i;
    } else if (IsAlpha(c) || c == '_') {
      size_t start = i;
      while (i < s.size() && (IsAlpha(s[i]) || IsDigit(s[i]) || s[i] == '_'))
        ++i;
      toks.push_back({kField, std::string(s.substr(start, i - start))});
    } else if (c == '"') {
      ++i;
      size_t start = i;
      while (i < s.size() && s[i] != '"' && s[i] != ']' && s[i] != '\0')
        ++i;
      std::string text(s.substr(start, i - start));
      if (i < s.size() && s[i] != '\0')
        ++i;  // the closing quote (or bracket) is consumed
      toks.push_back({kString, text});
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unexpected char ", AV(s.substr(i, 1))));
    }
  }
  std::vector<JsonPathElem> path;
  auto syntax = [] { return absl::InvalidArgumentError("syntax error"); };
  size_t t = 0;
  while (toks[t].kind != kEnd) {
    const Tok& tok = toks[t];
    if (tok.kind == kField && path.empty()) {
      path.push_back({false, tok.text, 0});
      ++t;
    } else if (tok.kind == kDot && !path.empty() && toks[t + 1].kind == kField) {
      path.push_back({false, toks[t + 1].text, 0});
      t += 2;
    } else if (tok.kind == kLsb && (toks[t + 1].kind == kString || toks[t + 1].kind == kIndex) &&
               toks[t + 2].kind == kRsb) {
      const Tok& v = toks[t + 1];
      path.push_back(v.kind == kIndex ? JsonPathElem{true, "", v.index}
                                      : JsonPathElem{false, v.text, 0});
      t += 3;
    } else {
      return syntax();
    }
  }
  if (path.empty())
    return syntax();
  return path;
}

}  // namespace norn::logql::syntax
