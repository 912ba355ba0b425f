// Go-compatible conversions of label values, as Loki applies them: strconv.ParseFloat,
// time.ParseDuration and go-humanize's ParseBytes, with the same accepted syntax and the same
// error texts (they end up in `__error_details__`). Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace norn::logql_log {

// strconv.ParseFloat(s, 64). On failure returns false and sets *err to Go's message, e.g.
// `strconv.ParseFloat: parsing "abc": invalid syntax`.
bool GoParseFloat(std::string_view s, double* out, std::string* err);

// time.ParseDuration: nanoseconds. Error e.g. `time: invalid duration "abc"`.
bool GoParseDuration(std::string_view s, int64_t* out_ns, std::string* err);

namespace internal {
// GoParseDuration without its fast path for the common form (for tests).
bool GoParseDurationGeneral(std::string_view s, int64_t* out_ns, std::string* err);
}  // namespace internal

// humanize.ParseBytes ("10KB" = 10000, "1MiB" = 1048576, "5 gb", "1,024"). Error e.g.
// `unhandled size name: xb`.
bool GoParseBytes(std::string_view s, uint64_t* out, std::string* err);

}  // namespace norn::logql_log
