// Sub-languages that appear inside LogQL string arguments and that Loki validates when a query is
// parsed: `ip("...")` patterns, `| pattern "<ip> - <_>"` expressions and the JSON paths of
// `| json a="b.c[0]"`. The parser checks them and keeps the parsed form in the AST so the engine
// (logql/log) does not parse them again.
//
// Value types; pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace norn::logql::syntax {

// An IP address in 16 bytes; IPv4 addresses use the first 4 bytes and `v4 == true`. IPv4 and
// IPv6 never compare equal (as with Go's netip: 1.2.3.4 is not ::ffff:1.2.3.4).
struct IpAddr {
  bool v4 = false;
  std::array<uint8_t, 16> bytes{};
  friend bool operator==(const IpAddr&, const IpAddr&) = default;
  friend auto operator<=>(const IpAddr&, const IpAddr&) = default;
};

// Parses a single address the way Go's netip.ParseAddr does (no leading zeros in IPv4 octets,
// IPv6 with `::` and embedded IPv4; zones are not supported).
std::optional<IpAddr> ParseIpAddr(std::string_view s);

// The argument of `ip("...")`: a single address ("192.168.0.1"), a CIDR ("10.0.0.0/8") or an
// inclusive range ("10.0.0.1-10.0.0.20"), IPv4 or IPv6. Stored as the inclusive range [lo, hi].
struct IpPattern {
  enum class Kind : uint8_t { kAddr, kCidr, kRange };
  Kind kind = Kind::kAddr;
  IpAddr lo;
  IpAddr hi;
  bool Contains(const IpAddr& a) const { return a.v4 == lo.v4 && lo <= a && a <= hi; }
  friend bool operator==(const IpPattern&, const IpPattern&) = default;
};

// Error text: `ip: invalid pattern: "x"` (Loki's).
absl::StatusOr<IpPattern> ParseIpPattern(std::string_view s);

// One element of a `| pattern` expression: a literal run of bytes or a capture `<name>`
// (`<_>` is an unnamed capture, name "_").
struct PatternNode {
  bool capture = false;
  std::string text;  // literal bytes, or the capture name
  friend bool operator==(const PatternNode&, const PatternNode&) = default;
};

// Parses and validates like Loki's pattern.New: captures are `<` [A-Za-z_][A-Za-z0-9_]* `>`,
// anything else is literal; at least one named capture, no two captures in a row, no duplicate
// names. Error texts are Loki's ("at least one capture is required", ...).
absl::StatusOr<std::vector<PatternNode>> ParsePattern(std::string_view pattern);

// One step of a JSON path: a field name (`a`, `.b`, `["c d"]`) or an array index (`[0]`).
struct JsonPathElem {
  bool is_index = false;
  std::string key;
  int64_t index = 0;
  friend bool operator==(const JsonPathElem&, const JsonPathElem&) = default;
};

// Parses Loki's JSON expression syntax (`a.b[0]["c-d"]`).
absl::StatusOr<std::vector<JsonPathElem>> ParseJsonPath(std::string_view expr);

}  // namespace norn::logql::syntax
