// Parsing of Loki's HTTP query parameters: timestamps (nanoseconds, seconds, float seconds or
// RFC3339Nano, exactly as Loki's loghttp accepts them), and the start/end/since range with
// Loki's defaults. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/http/request.h"

namespace norn::querier {

// "1704067200" (<= 10 digits: seconds), "1704067200000000000" (nanoseconds),
// "1704067200.5" (float seconds, millisecond precision as Loki rounds it), or RFC3339Nano.
absl::StatusOr<int64_t> ParseTimestamp(std::string_view value);

struct TimeRange {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
};

// start/end/since as Loki's metadata endpoints read them: end defaults to now, start to
// end - since (since defaults to 6h). Errors name the parameter.
absl::StatusOr<TimeRange> ParseRange(const http::HttpRequest& req, int64_t now_ns);

}  // namespace norn::querier
