#include "logql/log/ip.h"

#include <cstring>

#include "common/labels.h"

namespace norn::logql_log {
namespace {

bool ParseV4(std::string_view s, uint8_t out[4]) {
  int field = 0;
  int val = 0;
  int digits = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      if (digits == 1 && val == 0) return false;  // leading zero
      val = val * 10 + (c - '0');
      if (val > 255) return false;
      ++digits;
    } else if (c == '.') {
      if (digits == 0 || field == 3) return false;
      out[field++] = static_cast<uint8_t>(val);
      val = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  if (field != 3 || digits == 0) return false;
  out[3] = static_cast<uint8_t>(val);
  return true;
}

bool ParseV6(std::string_view s, uint8_t ip[16]) {
  std::memset(ip, 0, 16);
  int ellipsis = -1;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    ellipsis = 0;
    s.remove_prefix(2);
    if (s.empty()) return true;
  }
  int i = 0;
  while (i < 16) {
    size_t off = 0;
    uint32_t acc = 0;
    for (; off < s.size(); ++off) {
      char c = s[off];
      uint32_t d;
      if (c >= '0' && c <= '9') d = static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') d = static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = static_cast<uint32_t>(c - 'A' + 10);
      else break;
      acc = (acc << 4) + d;
      if (acc > 0xFFFF) return false;
    }
    if (off == 0) return false;
    if (off < s.size() && s[off] == '.') {
      if (ellipsis < 0 && i != 12) return false;
      if (i + 4 > 16) return false;
      uint8_t v4[4];
      if (!ParseV4(s, v4)) return false;
      std::memcpy(ip + i, v4, 4);
      s = {};
      i += 4;
      break;
    }
    ip[i] = static_cast<uint8_t>(acc >> 8);
    ip[i + 1] = static_cast<uint8_t>(acc);
    i += 2;
    s.remove_prefix(off);
    if (s.empty()) break;
    if (s[0] != ':' || s.size() == 1) return false;
    s.remove_prefix(1);
    if (s[0] == ':') {
      if (ellipsis >= 0) return false;
      ellipsis = i;
      s.remove_prefix(1);
      if (s.empty()) break;
    }
  }
  if (!s.empty()) return false;
  if (i < 16) {
    if (ellipsis < 0) return false;
    int n = 16 - i;
    for (int j = i - 1; j >= ellipsis; --j) ip[j + n] = ip[j];
    for (int j = ellipsis + n - 1; j >= ellipsis; --j) ip[j] = 0;
  } else if (ellipsis >= 0) {
    return false;
  }
  return true;
}

int Compare(const IpAddr& a, const IpAddr& b) {
  return std::memcmp(a.bytes.data(), b.bytes.data(), a.is4 ? 4 : 16);
}

constexpr std::string_view kV4Charset = "0123456789.";
constexpr std::string_view kV6Charset = "0123456789abcdefABCDEF:.";

inline bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool IsHex(unsigned char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

std::optional<IpAddr> ParseIpAddr(std::string_view s) {
  for (char c : s) {
    if (c == '.') {
      IpAddr a;
      a.is4 = true;
      if (!ParseV4(s, a.bytes.data())) return std::nullopt;
      return a;
    }
    if (c == ':') {
      IpAddr a;
      if (!ParseV6(s, a.bytes.data())) return std::nullopt;
      return a;
    }
    if (c == '%') return std::nullopt;
  }
  return std::nullopt;
}

absl::StatusOr<IpMatcher> IpMatcher::Parse(std::string_view pattern) {
  IpMatcher m;
  if (auto a = ParseIpAddr(pattern)) {
    m.kind_ = Kind::kAddr;
    m.a_ = *a;
    return m;
  }
  size_t slash = pattern.rfind('/');
  if (slash != std::string_view::npos) {
    auto a = ParseIpAddr(pattern.substr(0, slash));
    std::string_view bits = pattern.substr(slash + 1);
    bool ok = a.has_value() && !bits.empty() && bits.size() <= 3;
    int n = 0;
    for (char c : bits) {
      if (c < '0' || c > '9') ok = false;
      n = n * 10 + (c - '0');
    }
    if (ok && n <= (a->is4 ? 32 : 128)) {
      m.kind_ = Kind::kPrefix;
      m.a_ = *a;
      m.bits_ = n;
      return m;
    }
  }
  size_t dash = pattern.find('-');
  if (dash != std::string_view::npos) {
    auto from = ParseIpAddr(pattern.substr(0, dash));
    auto to = ParseIpAddr(pattern.substr(dash + 1));
    if (from && to && from->is4 == to->is4 && Compare(*from, *to) <= 0) {
      m.kind_ = Kind::kRange;
      m.a_ = *from;
      m.b_ = *to;
      return m;
    }
  }
  std::string msg = "ip: invalid pattern: ";
  AppendGoQuoted(&msg, pattern);
  return absl::InvalidArgumentError(msg);
}

bool IpMatcher::Contains(const IpAddr& ip) const {
  if (ip.is4 != a_.is4) return false;
  switch (kind_) {
    case Kind::kAddr:
      return Compare(ip, a_) == 0;
    case Kind::kRange:
      return Compare(a_, ip) <= 0 && Compare(ip, b_) <= 0;
    case Kind::kPrefix: {
      int full = bits_ / 8, rem = bits_ % 8;
      if (std::memcmp(ip.bytes.data(), a_.bytes.data(), full) != 0) return false;
      if (rem == 0) return true;
      uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rem));
      return (ip.bytes[full] & mask) == (a_.bytes[full] & mask);
    }
  }
  return false;
}

bool IpMatcher::MatchLine(std::string_view line) const {
  const size_t n = line.size();
  if (n == 0) return false;
  const auto* s = reinterpret_cast<const unsigned char*>(line.data());
  auto try_at = [&](size_t start, std::string_view charset, size_t* len) {
    size_t l = 0;
    while (start + l < n && charset.find(static_cast<char>(s[start + l])) != std::string_view::npos)
      ++l;
    *len = l;
    auto ip = ParseIpAddr(line.substr(start, l));
    return ip.has_value() && Contains(*ip);
  };
  // Loki's scan: an IPv4 hint (digit then a '.' within 3 bytes) or an IPv6 hint (a hex run of
  // up to 4 then ':' or a leading "::h"); after a failed candidate it skips the token plus one.
  for (size_t i = 0; i < n; ++i) {
    if (i + 3 < n && IsDigit(s[i]) && (s[i + 1] == '.' || s[i + 2] == '.' || s[i + 3] == '.')) {
      size_t len;
      if (try_at(i, kV4Charset, &len)) return true;
      i += len;
      continue;
    }
    if (i + 4 < n) {
      bool h1 = s[i] == ':' && s[i + 1] == ':' && IsHex(s[i + 2]);
      bool h2 = IsHex(s[i]) && s[i + 1] == ':';
      bool h3 = IsHex(s[i]) && IsHex(s[i + 1]) && s[i + 2] == ':';
      bool h4 = IsHex(s[i]) && IsHex(s[i + 1]) && IsHex(s[i + 2]) && s[i + 3] == ':';
      bool h5 = IsHex(s[i]) && IsHex(s[i + 1]) && IsHex(s[i + 2]) && IsHex(s[i + 3]) &&
                s[i + 4] == ':';
      if (h1 || h2 || h3 || h4 || h5) {
        size_t len;
        if (try_at(i, kV6Charset, &len)) return true;
        i += len;
        continue;
      }
    }
  }
  return false;
}

}  // namespace norn::logql_log
