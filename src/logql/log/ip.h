// IP matching for LogQL's ip() filters, with Loki's semantics: the pattern is a single address,
// a CIDR prefix or an `a-b` range (IPv4 or IPv6, parsed like Go's net/netip); a line matches
// when any IPv4/IPv6-looking token found by Loki's hint scan parses as an address inside the
// pattern. Immutable after construction; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace norn::logql_log {

struct IpAddr {
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4
  bool is4 = false;
  friend bool operator==(const IpAddr&, const IpAddr&) = default;
};

// netip.ParseAddr (zones are rejected: the scan never yields them).
std::optional<IpAddr> ParseIpAddr(std::string_view s);

class IpMatcher {
 public:
  // Errors with Loki's message `ip: invalid pattern: "<pattern>"`.
  static absl::StatusOr<IpMatcher> Parse(std::string_view pattern);

  bool Contains(const IpAddr& ip) const;
  // True when some address token in `line` is contained (Loki's scan).
  bool MatchLine(std::string_view line) const;

 private:
  enum class Kind { kAddr, kPrefix, kRange };
  Kind kind_ = Kind::kAddr;
  IpAddr a_, b_;  // addr; prefix base; range from/to
  int bits_ = 0;
};

}  // namespace norn::logql_log
