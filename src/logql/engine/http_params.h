// Parsing of the query parameters of /loki/api/v1/query_range and /loki/api/v1/query into a
// LogQuery, with Loki v2.7's rules and error texts:
//   - times: RFC3339 / RFC3339Nano (any offset), Unix seconds (<= 10 digits), Unix nanoseconds,
//     or float seconds (rounded to milliseconds); `start` defaults to end - `since` (1h), `end`
//     to now; end before start is an error;
//   - step: float seconds or a Prometheus duration ("5m", "1m30s", "2500ms"); default
//     max(floor((end - start) / 250s), 1s); at most 11,000 points per series;
//   - limit: default 100, must be positive; direction: forward/backward (any case), default
//     backward; instant queries read `time` (default now).
// Errors are InvalidArgument (HTTP 400). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "logql/engine/query.h"

namespace norn::logql_engine {

// Returns the (first) value of a request parameter, or nullopt when absent.
using ParamGetter = absl::FunctionRef<std::optional<std::string_view>(std::string_view)>;

absl::StatusOr<LogQuery> ParseRangeQueryParams(ParamGetter get, int64_t now_ns);
absl::StatusOr<LogQuery> ParseInstantQueryParams(ParamGetter get, int64_t now_ns);

// Loki's parseTimestamp: "" gives `default_ns`.
absl::StatusOr<int64_t> ParseLokiTimestamp(std::string_view value, int64_t default_ns);
// Loki's parseSecondsOrDuration (step, interval).
absl::StatusOr<int64_t> ParseSecondsOrDuration(std::string_view value);
// RFC3339 with optional fraction and Z or +hh:mm offset, as Go's time.Parse(RFC3339Nano).
absl::StatusOr<int64_t> ParseRfc3339Nano(std::string_view value);

inline constexpr int64_t kMaxPointsPerSeries = 11000;

}  // namespace norn::logql_engine
